"""`languages`: a service's languages (ISO 639 codes, or the language's English name when
there is no code); languages of sites and phones are kept with their site. A language row
that names no language is skipped with a warning: its service stays."""

from __future__ import annotations

from core.languages import is_iso639, language_code
from importers.hsds.assembly import Assembly, Fields
from importers.rows import Row

TABLE = "languages"


def load(assembly: Assembly, rows: list[Row]) -> None:
    for row in rows:
        assembly.report.read[TABLE] += 1
        fields = Fields(row, assembly.report)
        fields.uuid("id", required=True)
        service_id = fields.uuid("service_id")
        location_id = fields.uuid("location_id")
        code = (fields.text("code") or "").lower()
        name = fields.text("name")
        if code and not is_iso639(code):
            fields.problem("code", f"{code!r} is not an ISO 639 language code")
        elif not code and name:
            code = language_code(name) or ""
            if not code:
                fields.warn("name", f"{name!r} is no language pycountry knows; skipped")
        if not fields.ok:
            assembly.report.rejected[TABLE] += 1
            continue
        service = assembly.services.get(service_id) if service_id else None
        if service is not None and not code:
            if name is None:
                fields.warn("code", "no code and no name: names no language; skipped")
            assembly.report.skipped[TABLE] += 1
            continue
        if service is not None:
            # A service's languages are ISO codes: a note, or the row's link to a site or a
            # phone as well, has nowhere to go.
            assembly.drop(TABLE, row, {"id", "service_id", "code", "name"})
            if code not in service.languages:
                service.languages.append(code)
            continue
        location = assembly.locations.get(location_id) if location_id else None
        if location is not None:
            location.extras.keep_row(TABLE, row)
            continue
        fields.warn("service_id", "belongs to no imported service or location; skipped")
        assembly.report.skipped[TABLE] += 1
