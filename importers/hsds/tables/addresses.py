"""`addresses`: where a site is. The country (ISO 3166-1 code) and the town place the site in
a Homeward area; the address lines become the site's address."""

from __future__ import annotations

import pycountry

from importers.hsds.assembly import Assembly, Fields
from importers.rows import Row

TABLE = "addresses"


def country_code(value: str) -> str | None:
    """ISO 3166-1 alpha-2 from alpha-2, alpha-3 or an English name; XK is Kosovo."""
    value = value.strip()
    if value.upper() == "XK" or value.upper() == "XKX" or value.lower() == "kosovo":
        return "XK"
    found = (
        pycountry.countries.get(alpha_2=value.upper())
        if len(value) == 2
        else pycountry.countries.get(alpha_3=value.upper())
        if len(value) == 3
        else None
    )
    if found is None:
        try:
            found = pycountry.countries.lookup(value)
        except LookupError:
            return None
    return str(found.alpha_2)


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        fields.uuid("id", required=True)
        location_id = fields.uuid("location_id", required=True)
        country_text = fields.text("country")
        country = country_code(country_text) if country_text else None
        if country_text and country is None:
            fields.problem("country", f"{country_text!r} is not an ISO 3166-1 country code")
        if not fields.ok or location_id is None:
            assembly.report.rejected[TABLE] += 1
            continue
        draft = assembly.locations.get(location_id)
        if draft is None:
            fields.problem("location_id", f"no location {location_id} in the import")
            assembly.report.rejected[TABLE] += 1
            continue
        draft.extras.keep_row(TABLE, row)
        if draft.country is not None:
            continue  # the first address places the site
        draft.country = country
        draft.city = fields.text("city")
        draft.region = fields.text("region") or fields.text("state_province")
        lines = [fields.text("address_1"), fields.text("address_2")]
        draft.address = ", ".join(line for line in lines if line) or None
