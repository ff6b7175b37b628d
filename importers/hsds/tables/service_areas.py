"""`service_areas`: the areas a service covers. `uri` `urn:homeward:area:<id>` names a
Homeward area; otherwise the name is looked up among the areas (any spelling, as the search
does). An area that matches nothing is kept as HSDS data with a warning: it is exported
again, but search cannot use it."""

from __future__ import annotations

from core.text import fold
from importers.hsds.assembly import Assembly, Fields
from importers.hsds.profile import AREA_URI_PREFIX
from importers.rows import Row

TABLE = "service_areas"


def load(assembly: Assembly, rows: list[Row]) -> None:
    by_key: dict[str, list[str]] = {}
    for area in assembly.known.areas.values():
        for key in area.keys:
            by_key.setdefault(key, []).append(area.id)
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        fields.uuid("id", required=True)
        service_id = fields.uuid("service_id", required=True)
        service = assembly.services.get(service_id) if service_id else None
        if service_id and service is None:
            fields.problem("service_id", f"no service {service_id} in the import")
        if not fields.ok or service is None:
            assembly.report.rejected[TABLE] += 1
            continue
        uri = fields.text("uri") or ""
        name = fields.text("name")
        if uri.startswith(AREA_URI_PREFIX):
            area_id = uri.removeprefix(AREA_URI_PREFIX)
            if area_id not in assembly.known.areas:
                fields.problem("uri", f"unknown area {area_id!r}")
                assembly.report.rejected[TABLE] += 1
                continue
            service.covers.append(area_id)
            continue
        matches = by_key.get(fold(name), []) if name else []
        if len(matches) == 1:
            service.covers.append(matches[0])
            continue
        service.extras.keep_row(TABLE, row)
        fields.warn(
            "name",
            f"{(name or '')[:60]!r} names no single Homeward area; kept as HSDS data, "
            "not used for search",
        )
