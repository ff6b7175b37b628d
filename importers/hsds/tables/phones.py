"""`phones`: an organisation's own number (a row naming only the organisation) becomes its
phone, a service's (a row naming only the service, with no extension, type or description)
the service's; every other phone is kept with its service, site or organisation."""

from __future__ import annotations

import re

from importers.hsds.assembly import Assembly, Fields, keep_under_owner
from importers.rows import Row

TABLE = "phones"
OWNERS = ("service", "location", "organization")
PHONE = re.compile(r"^\+?[0-9 ()/.-]{5,}$")


def load(assembly: Assembly, rows: list[Row]) -> None:
    kept: list[Row] = []
    for row in rows:
        others = ("service_id", "location_id", "contact_id", "service_at_location_id")
        organisation = assembly.organisations.get(row.get("organization_id").strip().lower())
        number = row.get("number").strip().strip("\"'")
        if (
            organisation is not None
            and organisation.phone is None
            and not any(row.get(k).strip() for k in others)
            and PHONE.match(number)
        ):
            assembly.report.read[TABLE] += 1
            if Fields(row, assembly.report).uuid("id", required=True):
                organisation.phone = number
                continue
            assembly.report.rejected[TABLE] += 1
            continue
        service = assembly.services.get(row.get("service_id").strip().lower())
        plain = not any(
            row.get(k).strip() for k in (*others[1:], "extension", "type", "description")
        )
        if (
            service is not None
            and service.fields.get("phone") is None
            and plain
            and PHONE.match(number)
        ):
            assembly.report.read[TABLE] += 1
            if Fields(row, assembly.report).uuid("id", required=True):
                service.fields["phone"] = number
                continue
            assembly.report.rejected[TABLE] += 1
            continue
        kept.append(row)
    keep_under_owner(assembly, TABLE, kept, OWNERS)
