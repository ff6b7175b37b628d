"""`programs`: Homeward programmes (return and reintegration programmes, funding lines)."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields, ProgrammeDraft
from importers.rows import Row

TABLE = "programs"


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        id = fields.uuid("id", required=True)
        name = fields.text("name", required=True)
        fields.uuid("organization_id")
        if not fields.ok or id is None or name is None:
            assembly.report.rejected[TABLE] += 1
            continue
        draft = ProgrammeDraft(row=row, hsds_id=id, name=name)
        draft.description = fields.text("description")
        # A programme is its name, funder and sending countries; the description Homeward's
        # own export writes is the name.
        held = {"id", "name"} | ({"description"} if draft.description == name else set())
        assembly.drop(TABLE, row, held)
        assembly.programmes[id] = draft
