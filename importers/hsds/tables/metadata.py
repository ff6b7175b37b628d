"""`metadata`: the change history of a record, kept with the record it names
(`resource_id`, `resource_type`) and exported again."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields
from importers.rows import Row

TABLE = "metadata"


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        fields.uuid("id", required=True)
        resource_id = fields.uuid("resource_id")
        if not fields.ok:
            assembly.report.rejected[TABLE] += 1
            continue
        kind = (fields.text("resource_type") or "").lower()
        found = assembly.entity(kind, resource_id) if resource_id else None
        if found is None and resource_id:
            owner = assembly.any_entity(resource_id)
            found = owner[1] if owner else None
        if found is None:
            fields.warn("resource_id", "names no imported record; skipped")
            continue
        found.extras.keep_row(TABLE, row)
