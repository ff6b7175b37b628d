"""`schedules`: a site's plain weekly opening times (a row naming only the site, `freq`
WEEKLY, weekdays in `byday`, `opens_at` and `closes_at`, nothing else) become its opening
hours; every other schedule (of a service, with validity dates, monthly, described in words)
is kept with its service or site and exported again.

A schedule taken into the site's hours is exported under an id derived from the site, the
weekday and the time, one row per weekday, as Homeward writes its own."""

from __future__ import annotations

import re

from importers.hsds.assembly import Assembly, Fields, keep_under_owner
from importers.rows import Row

TABLE = "schedules"
WEEKDAYS = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
# Local time of day; seconds are allowed when they are zero. A zone is not: Homeward's hours
# are the site's own local time.
TIME = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(:00)?$")
# Columns a plain weekly row leaves empty (or, for `interval`, at 1).
OTHERS = (
    "service_id", "service_at_location_id", "valid_from", "valid_to", "dtstart", "timezone",
    "until", "count", "wkst", "byweekno", "bymonthday", "byyearday", "description",
    "schedule_link", "attending_type", "notes",
)  # fmt: skip


def _clock(text: str) -> str | None:
    found = TIME.match(text.strip())
    return f"{found[1]}:{found[2]}" if found else None


def weekly_hours(row: Row) -> list[dict[str, str]] | None:
    """The opening hours a plain weekly row states, or None when it says more than that."""
    if any(row.get(k).strip() for k in OTHERS) or row.get("interval").strip() not in ("", "1"):
        return None
    if row.get("freq").strip().upper() != "WEEKLY":
        return None
    days = [d.strip().upper() for d in row.get("byday").split(",") if d.strip()]
    opens, closes = _clock(row.get("opens_at")), _clock(row.get("closes_at"))
    if not days or not set(days) <= WEEKDAYS or opens is None or closes is None:
        return None
    if closes <= opens:
        return None
    return [{"weekday": d, "opens": opens, "closes": closes} for d in days]


def load(assembly: Assembly, rows: list[Row]) -> None:
    kept: list[Row] = []
    for row in rows:
        location = assembly.locations.get(row.get("location_id").strip().lower())
        hours = weekly_hours(row) if location is not None else None
        taken = {(h["weekday"], h["opens"]) for h in location.opening_hours} if location else set()
        if location is None or hours is None or taken & {(h["weekday"], h["opens"]) for h in hours}:
            kept.append(row)
            continue
        assembly.report.read[TABLE] += 1
        if Fields(row, assembly.report).uuid("id", required=True):
            location.opening_hours.extend(hours)
            continue
        assembly.report.rejected[TABLE] += 1
    keep_under_owner(assembly, TABLE, kept, ("service", "location"))
