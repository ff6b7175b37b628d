"""`service_capacity` (HSDS 3.1, with `unit`): how many places a service has. Mapped onto
Homeward's capacity (none free: full; under a quarter free: limited; else available), its
note ("3 of 12 beds") and its date; each row is also kept with its service. A service whose
profile says its capacity already keeps that."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields
from importers.rows import Row

TABLE = "service_capacity"
UNITS = "units"
# Under this share of places free, a service is `limited`.
LIMITED_SHARE = 0.25


def _units(assembly: Assembly, rows: list[Row]) -> dict[str, str]:
    names = {}
    for row in rows:
        assembly.report.read[UNITS] += 1
        id, name = row.get("id").strip().lower(), row.get("name").strip()
        if id and name:
            names[id] = name
    return names


def load(assembly: Assembly, rows: list[Row], units: list[Row] | None = None) -> None:
    names = _units(assembly, units or [])
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        fields.uuid("id", required=True)
        service_id = fields.uuid("service_id", required=True)
        available = fields.number("available")
        maximum = fields.number("maximum")
        service = assembly.services.get(service_id) if service_id else None
        if not fields.ok:
            assembly.report.rejected[TABLE] += 1
            continue
        if service is None:
            fields.warn("service_id", f"no service {service_id} in the import; skipped")
            assembly.report.skipped[TABLE] += 1
            continue
        service.extras.keep_row(TABLE, row)
        if available is None or "capacity" in service.profile:
            continue
        if available <= 0:
            capacity = "full"
        elif maximum and available / maximum < LIMITED_SHARE:
            capacity = "limited"
        else:
            capacity = "available"
        unit = row.get("unit_name").strip() or names.get(row.get("unit_id").strip().lower(), "")
        of = f" of {maximum:g}" if maximum else ""
        note = f"{available:g}{of} {unit}".strip()
        description = fields.text("description")
        service.profile["capacity"] = [capacity]
        service.profile["capacity-note"] = [f"{note}: {description}" if description else note]
        updated = fields.text("updated")
        if updated:
            service.profile["capacity-date"] = [updated[:10]]
