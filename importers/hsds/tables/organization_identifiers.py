"""`organization_identifiers`: scheme `homeward` carries the organisation's Homeward id; any
other identifier (company or charity number) is kept with the organisation."""

from __future__ import annotations

from importers.hsds.assembly import Assembly, Fields
from importers.hsds.profile import IDENTIFIER_SCHEME
from importers.rows import Row

TABLE = "organization_identifiers"


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        fields.uuid("id", required=True)
        organization_id = fields.uuid("organization_id", required=True)
        identifier = fields.text("identifier", required=True)
        organisation = assembly.organisations.get(organization_id) if organization_id else None
        if organization_id and organisation is None:
            fields.problem("organization_id", f"no organisation {organization_id} in the import")
        if not fields.ok or organisation is None:
            assembly.report.rejected[TABLE] += 1
            continue
        if fields.text("identifier_scheme") == IDENTIFIER_SCHEME:
            organisation.homeward_identifier = identifier
        else:
            organisation.extras.keep_row(TABLE, row)
