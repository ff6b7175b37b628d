"""`organizations`: each row a Homeward organisation. HSDS has no country or kind: they come
from the profile attributes, else the country from the addresses of the organisation's
sites (see `importers/hsds/loader.py`)."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields, OrganisationDraft
from importers.rows import Row

TABLE = "organizations"
USED = {"id", "name", "alternate_name", "description", "email", "website"}


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        id = fields.uuid("id", required=True)
        name = fields.text("name", required=True)
        fields.number("year_incorporated")
        fields.uuid("parent_organization_id")
        if not fields.ok or id is None:
            assembly.report.rejected[TABLE] += 1
            continue
        if id in assembly.organisations:
            fields.problem("id", f"organisation {id} appears twice")
            assembly.report.rejected[TABLE] += 1
            continue
        draft = OrganisationDraft(row=row, hsds_id=id)
        alternate = fields.text("alternate_name")
        draft.fields = {
            "name": name,
            "alternate_names": [alternate] if alternate else [],
            "description": fields.text("description"),
            "email": fields.text("email"),
            "website": fields.text("website"),
        }
        draft.extras.keep_fields(row, USED)
        assembly.organisations[id] = draft
