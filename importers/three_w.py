"""The 3W table (who does what where) as CSV with HXL hashtags, the form in which the tools
of the humanitarian ecosystem (HDX, the HXL Proxy) merge and map it without agreeing on
column titles first (hxlstandard.org).

Choices that make it validate and join (docs/coordination.md):

- Organisations are the implementing partners (`#org+impl`); each row's need is the
  `#subsector`, and the IASC cluster it belongs to (CLUSTERS, by the need's top-level code) the
  `#sector+cluster`.
- Target groups are `#beneficiary+type` with their labels: `#targeted` is a number in HXL.
- Countries carry ISO 3166-1 alpha-3 codes as HDX does (Kosovo: XKX, the code the UN and HDX
  use for it); municipalities their standard code where the geodata has one (Kosovo: "XK01",
  the statistical office's municipality code after the country), else the directory's id.
- Written by importers/hxl.py: UTF-8 with a byte-order mark unless asked without, no cell
  that starts a formula.
"""

from __future__ import annotations

from typing import Any

import pycountry

from core.languages import from_properties, pick
from importers.hxl import hxl_csv

# Column title, HXL hashtag.
COLUMNS = [
    ("Organisation", "#org+impl+name"),
    ("Acronym", "#org+impl+acronym"),
    ("Organisation type", "#org+impl+type"),
    ("Service", "#activity+name"),
    ("Service id", "#activity+code"),
    ("Cluster", "#sector+cluster"),
    ("Need", "#subsector+name"),
    ("Need code", "#subsector+code"),
    ("Target groups", "#beneficiary+type"),
    ("Country", "#country+name"),
    ("Country code", "#country+code"),
    ("Region", "#adm1+name"),
    ("Region code", "#adm1+code"),
    ("Municipality", "#adm2+name"),
    ("Municipality code", "#adm2+code"),
    ("Status", "#status"),
    ("Capacity", "#status+capacity"),
    ("Listed since", "#date+start"),
]

# The IASC cluster of each top-level need of the directory's taxonomy (seed/data/needs.json):
# counselling, documents and reception are protection work; housing is shelter; work,
# social assistance and community projects are early recovery.
CLUSTERS = {
    "information-outreach": "Protection",
    "legal-counselling": "Protection",
    "return-counselling": "Protection",
    "country-information": "Protection",
    "documents": "Protection",
    "arrival-reception": "Protection",
    "needs-assessment": "Protection",
    "humanitarian-support": "Food Security",
    "temporary-accommodation": "Shelter",
    "housing": "Shelter",
    "municipal-services": "Protection",
    "employment": "Early Recovery",
    "education": "Education",
    "youth-social-activities": "Early Recovery",
    "health": "Health",
    "psychosocial": "Health",
    "social-assistance": "Early Recovery",
    "reconciliation": "Early Recovery",
    "monitoring": "Protection",
}
# Codes ISO 3166-1 has not assigned, as the UN and HDX write them.
ALPHA_3 = {"XK": "XKX"}


def cluster(need_code: str) -> str:
    return CLUSTERS.get(need_code.split(".")[0], "")


def alpha_3(alpha_2: str) -> str:
    code = alpha_2.upper()
    if code in ALPHA_3:
        return ALPHA_3[code]
    found = pycountry.countries.get(alpha_2=code)
    return str(found.alpha_3) if found is not None else code


def three_w_csv(
    rows: list[dict[str, Any]], *, country_name: str, country: str, lang: str, bom: bool = True
) -> str:
    """The CSV text of THREE_W rows (graph/coordination.py), titles and hashtags first."""
    return hxl_csv(
        COLUMNS,
        (_row(r, country_name=country_name, country=country, lang=lang) for r in rows),
        bom=bom,
    )


def _row(r: dict[str, Any], *, country_name: str, country: str, lang: str) -> list[object]:
    """One 3W row: the municipality and its region, or the region alone."""
    area_name = pick(from_properties("name", r["area_props"]), lang)
    area_code = r["area_props"].get("code") or r["area_id"]
    parent = r["parent_props"] or {}
    parent_name = pick(from_properties("name", parent), lang) if parent else ""
    region = municipality = ("", "")
    if r["level"] == "region":
        region = (area_name, area_code)
    elif r["level"] in {"municipality", "settlement"}:
        municipality = (area_name, area_code)
        if r["parent_level"] == "region":
            region = (parent_name, parent.get("code") or r["parent_id"])
    start = r["start"].to_native().date().isoformat() if r["start"] is not None else ""
    return [
        r["organisation"],
        r["acronym"] or "",
        r["kind"] or "",
        r["service"],
        r["service_id"],
        cluster(r["need"]),
        pick(from_properties("label", r["need_props"]), lang),
        r["need"],
        " | ".join(pick(from_properties("label", g), lang) for g in r["target_groups"]),
        country_name,
        alpha_3(country),
        *region,
        *municipality,
        r["status"],
        r["capacity"] or "unknown",
        start,
    ]
