"""`taxonomy_terms`: the terms attributes point at. Terms of Homeward's own taxonomies
name needs, target groups and profile fields by their code; any other term is looked up in
the mapping file (`importers/hsds/taxonomy_map.json`)."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields, TermInfo
from importers.rows import Row

TABLE = "taxonomy_terms"


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        id = fields.uuid("id", required=True)
        name = fields.text("name", required=True)
        taxonomy_id = fields.uuid("taxonomy_id")
        if not fields.ok or id is None or name is None:
            assembly.report.rejected[TABLE] += 1
            continue
        taxonomy = (taxonomy_id and assembly.taxonomies.get(taxonomy_id)) or row.get("taxonomy")
        assembly.terms[id] = TermInfo(
            id=id,
            code=fields.text("code"),
            name=name,
            taxonomy=taxonomy.strip(),
            where=row.where,
            row=row,
        )
