"""`services`: each row a Homeward service of an organisation."""

from __future__ import annotations

import re

from graph.services.models import EMAIL_PATTERN
from importers.hsds.assembly import Assembly, Fields, ServiceDraft
from importers.rows import Row

TABLE = "services"
# HSDS status -> Homeward status.
STATUSES = {
    "active": "active",
    "inactive": "inactive",
    "defunct": "defunct",
    "temporarily closed": "temporarily_closed",
    "temporarily_closed": "temporarily_closed",
}
USED = {
    "id",
    "organization_id",
    "program_id",
    "name",
    "description",
    "status",
    "eligibility_description",
    "minimum_age",
    "maximum_age",
    "fees_description",
    "application_process",
    # Written by the directory that serves the record: Homeward keeps its own.
    "last_modified",
}


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        id = fields.uuid("id", required=True)
        name = fields.text("name", required=True)
        status_text = fields.text("status", required=True)
        status = STATUSES.get(status_text.lower()) if status_text else None
        if status_text and status is None:
            fields.problem(
                "status",
                f"{status_text!r} is not one of active, inactive, defunct, temporarily closed",
            )
        organization_id = fields.uuid("organization_id", required=True)
        program_id = fields.uuid("program_id")
        minimum_age = fields.integer("minimum_age")
        maximum_age = fields.integer("maximum_age")
        if not fields.ok or id is None:
            assembly.report.rejected[TABLE] += 1
            continue
        if id in assembly.services:
            fields.problem("id", f"service {id} appears twice")
            assembly.report.rejected[TABLE] += 1
            continue
        draft = ServiceDraft(
            row=row, hsds_id=id, organization_id=organization_id, program_id=program_id
        )
        draft.fields = {
            "name": name,
            "description": fields.text("description"),
            "status": status,
            "eligibility_description": fields.text("eligibility_description"),
            "minimum_age": minimum_age,
            "maximum_age": maximum_age,
            "fees_description": fields.text("fees_description"),
            "referral_method": fields.text("application_process"),
        }
        # An address Homeward would refuse stays HSDS data, exported as it came.
        email = fields.text("email")
        used = USED
        if email and re.match(EMAIL_PATTERN, email) and len(email) <= 254:
            draft.fields["email"] = email
            used = USED | {"email"}
        draft.extras.keep_fields(row, used)
        assembly.services[id] = draft
