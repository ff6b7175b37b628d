"""`taxonomies`: names of the taxonomies whose terms the attributes use."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields
from importers.rows import Row

TABLE = "taxonomies"


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        id = fields.uuid("id", required=True)
        name = fields.text("name", required=True)
        if not fields.ok or id is None or name is None:
            assembly.report.rejected[TABLE] += 1
            continue
        assembly.taxonomies[id] = name
        assembly.taxonomy_rows[id] = row
