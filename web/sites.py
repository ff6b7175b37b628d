"""The sites of a service as its form shows them: each with name, address, municipality,
optional coordinates and opening hours by weekday, read back from the posted fields; and
which site is nearest a searched place, for the service page and the map of the results.

A site's fields are named `site-<n>-<field>` and its opening times
`site-<n>-hours-<m>-<day|opens|closes>`, `n` and `m` counting the rows the form showed. Rows
left blank are not sent, so the API counts the sites and times it was given differently: the
API's problems are renumbered to the rows they came from before they are placed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from babel import Locale
from starlette.datastructures import FormData

from core.geometry import great_circle_km

WEEKDAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]

# Where the API's problems with a site show: (form field with the row numbers, message).
SITE_FIELDS = {
    "locations.area": ("site-{0}-area", "error.site.area"),
    "locations.name": ("site-{0}-name", "error.text"),
    "locations.address": ("site-{0}-address", "error.text"),
    "locations.point": ("site-{0}-point", "error.site.point"),
    "locations.point.lat": ("site-{0}-point", "error.site.coordinates"),
    "locations.point.lon": ("site-{0}-point", "error.site.coordinates"),
    "locations.id": ("site-{0}-name", "error.site.shared"),
    "locations.openingHours": ("site-{0}-hours", "error.hours.overlap"),
    "locations.openingHours.opens": ("site-{0}-hours-{1}-opens", "error.hours.opens"),
    "locations.openingHours.closes": ("site-{0}-hours-{1}-closes", "error.hours.closes"),
    "locations.openingHours.weekday": ("site-{0}-hours-{1}-opens", "error.choose"),
}

_NUMBER = re.compile(r"^-?[0-9]+(?:[.,][0-9]+)?$")


def weekday_names(locale: str) -> dict[str, str]:
    """The weekdays as the page's language writes them (CLDR; Monday is Babel's day 0)."""
    try:
        days = Locale.parse(locale).days["format"]["wide"]
    except (ValueError, KeyError):
        days = Locale.parse("en").days["format"]["wide"]
    return {code: str(days[i]) for i, code in enumerate(WEEKDAYS)}


@dataclass
class HoursRow:
    day: str
    opens: str = ""
    closes: str = ""
    # A row whose weekday the person chooses (a second opening on a day).
    free: bool = False


@dataclass
class SiteRow:
    id: str = ""
    name: str = ""
    address: str = ""
    area: str = ""
    lat: str = ""
    lon: str = ""
    hours: list[HoursRow] = field(default_factory=list)

    def blank(self) -> bool:
        return not (
            self.id
            or self.name
            or self.address
            or self.area
            or self.lat
            or self.lon
            or any(h.opens or h.closes for h in self.hours)
        )


def week(given: list[HoursRow]) -> list[HoursRow]:
    """A row per weekday (more where a day has several openings) and one free row."""
    rows: list[HoursRow] = []
    for day in WEEKDAYS:
        on_day = [HoursRow(day, h.opens, h.closes) for h in given if h.day == day]
        rows += on_day or [HoursRow(day)]
    return [*rows, HoursRow("", free=True)]


def rows_of(locations: list[dict[str, Any]]) -> list[SiteRow]:
    """The stored sites as rows of the form, and a blank row to add one."""
    rows = [
        SiteRow(
            id=str(loc["id"]),
            name=loc.get("name") or "",
            address=loc.get("address") or "",
            area=(loc.get("area") or {}).get("id") or "",
            lat="" if loc["pointApproximate"] or not loc["point"] else str(loc["point"]["lat"]),
            lon="" if loc["pointApproximate"] or not loc["point"] else str(loc["point"]["lon"]),
            hours=week(
                [HoursRow(h["weekday"], h["opens"], h["closes"]) for h in loc["openingHours"]]
            ),
        )
        for loc in locations
    ]
    return [*rows, SiteRow(hours=week([]))]


def posted_rows(form: FormData) -> list[SiteRow]:
    """The sites as the person filled them in, to send and, on a problem, to show again."""
    rows: list[SiteRow] = []
    for n in range(_count(form, "site_count")):

        def value(name: str, n: int = n) -> str:
            return str(form.get(f"site-{n}-{name}", "")).strip()

        if value("remove") == "1":
            continue
        hours = [
            HoursRow(
                value(f"hours-{m}-day"),
                value(f"hours-{m}-opens"),
                value(f"hours-{m}-closes"),
                free=value(f"hours-{m}-free") == "1",
            )
            for m in range(_count(form, f"site-{n}-hours_count"))
        ]
        rows.append(
            SiteRow(
                id=value("id"),
                name=value("name"),
                address=value("address"),
                area=value("area"),
                lat=value("lat"),
                lon=value("lon"),
                hours=hours,
            )
        )
    return rows


def _count(form: FormData, name: str) -> int:
    text = str(form.get(name, "0"))
    return min(int(text), 60) if text.isdigit() else 0


@dataclass
class SentSites:
    """The LocationInputs of the posted rows, and which row each sent site and time was."""

    locations: list[dict[str, Any]]
    # sent site index -> (form row, {sent time index: form time row})
    rows: list[tuple[int, dict[int, int]]]
    # Problems found before anything is sent, as the API words them: (API path, message).
    problems: list[tuple[str, str]]


def sent_sites(rows: list[SiteRow]) -> SentSites:
    locations: list[dict[str, Any]] = []
    numbering: list[tuple[int, dict[int, int]]] = []
    problems: list[tuple[str, str]] = []
    for n, row in enumerate(rows):
        if row.blank():
            continue
        sent = len(locations)
        hours: list[dict[str, str]] = []
        times: dict[int, int] = {}
        for m, h in enumerate(row.hours):
            if not (h.opens or h.closes):
                continue
            if h.day not in WEEKDAYS:
                problems.append((f"input.locations.{sent}.openingHours.{len(hours)}.weekday", ""))
            times[len(hours)] = m
            hours.append({"weekday": h.day if h.day in WEEKDAYS else "MO", "opens": h.opens,
                          "closes": h.closes})  # fmt: skip
        point = None
        if row.lat or row.lon:
            if _NUMBER.match(row.lat) and _NUMBER.match(row.lon):
                point = {"lat": float(row.lat.replace(",", ".")),
                         "lon": float(row.lon.replace(",", "."))}  # fmt: skip
            else:
                problems.append((f"input.locations.{sent}.point.lat", ""))
        locations.append(
            {
                "id": row.id or None,
                "name": row.name or None,
                "address": row.address or None,
                "area": row.area,
                "point": point,
                "openingHours": hours,
            }
        )
        numbering.append((n, times))
    return SentSites(locations=locations, rows=numbering, problems=problems)


def renumber(error: dict[str, Any], sites: SentSites) -> dict[str, Any]:
    """The error with each site problem's path naming the form's rows, not the API's list."""
    fields = []
    for problem in error.get("fields") or []:
        parts = str(problem["field"]).split(".")
        if len(parts) > 2 and parts[1] == "locations" and parts[2].isdigit():
            sent = int(parts[2])
            if sent < len(sites.rows):
                row, times = sites.rows[sent]
                parts[2] = str(row)
                if len(parts) > 4 and parts[3] == "openingHours" and parts[4].isdigit():
                    parts[4] = str(times.get(int(parts[4]), int(parts[4])))
        fields.append(problem | {"field": ".".join(parts)})
    return error | {"fields": fields}


def nearest_first(
    sites: list[dict[str, Any]], near: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None, float | None]:
    """The sites with the nearest to the searched place first (by its centroid), that site,
    and how far it is."""
    if near is None or near.get("centroid") is None:
        return sites, None, None
    lat, lon = near["centroid"]["lat"], near["centroid"]["lon"]
    placed = [
        (great_circle_km(lat, lon, s["point"]["lat"], s["point"]["lon"]), i)
        for i, s in enumerate(sites)
        if s["point"] is not None
    ]
    if not placed:
        return sites, None, None
    km, index = min(placed)
    site = sites[index]
    return [site, *sites[:index], *sites[index + 1 :]], site, km
