"""`service_at_location`: which service is delivered at which site."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields
from importers.rows import Row

TABLE = "service_at_location"


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        id = fields.uuid("id", required=True)
        service_id = fields.uuid("service_id", required=True)
        location_id = fields.uuid("location_id", required=True)
        service = assembly.services.get(service_id) if service_id else None
        if service_id and service is None:
            fields.problem("service_id", f"no service {service_id} in the import")
        if location_id and location_id not in assembly.locations:
            fields.problem("location_id", f"no location {location_id} in the import")
        if not fields.ok or service is None or location_id is None or id is None:
            assembly.report.rejected[TABLE] += 1
            continue
        assembly.service_at_locations.add(id)
        if not assembly.locations[location_id].virtual:
            # A site's row is kept whole with a virtual location; Homeward's own link of a
            # service and a site holds nothing but the two.
            assembly.drop(TABLE, row, {"id", "service_id", "location_id"})
        if location_id not in service.location_ids:
            service.location_ids.append(location_id)
            service.site_rows[location_id] = row
