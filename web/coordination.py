"""The coordinator's pages: the gap map and table of a country and need, support by sending
country, overlaps side by side, planned arrivals and the 3W download (the duplicate review is
web/duplicates.py). Every table of these pages downloads as CSV with HXL hashtags
(`<page>.csv` with the page's query), titled in the page's language and written by
importers/hxl.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.i18n import translator
from importers.hxl import hxl_csv
from importers.three_w import alpha_3
from reports.maps import ARRIVALS_AHEAD, QUESTIONS, STATE_COLOURS
from web.pages import render, run
from web.session import API_LANGUAGE, WebSession, page_session, remember

router = APIRouter()

CHOICES = """
query Choices {
  needs { code label broader { code } }
  areas(level: COUNTRY, first: 100) { nodes { id name } }
}
"""

GAPS = """
query Gaps($country: ID!, $need: String!) {
  serviceGaps(areaId: $country, needs: [$need]) {
    areaId demand supply listedNotCounted gapScore unmet
    area { name code }
    nearestPartner { serviceName organisationName distanceKm }
  }
  serviceOverlaps(areaId: $country, need: $need) {
    areaId organisations
    area { name code }
    services { serviceId name organisationName capacity referrals }
  }
}
"""

DESTINATIONS = """
query Destinations($country: ID!) {
  areas(parentId: $country, first: 100) { nodes { id name code level } }
}
"""

SUPPORT = """
query Support($destination: ID!, $need: String!, $sending: [String!]) {
  supportComparison(destination: $destination, need: $need, sendingCountries: $sending) {
    sendingCountry openToAll programmes
    services { id name organisation }
  }
}
"""

ARRIVALS = """
query Arrivals($country: ID!, $since: Date!, $until: Date!) {
  plannedArrivals(areaId: $country, since: $since, until: $until) {
    month households people
    municipality { id name code }
  }
}
"""

DEFAULT_NEED = "psychosocial.trauma-therapy"
# Support differs most by sending country where programmes fund work (seed/data/programmes.json).
DEFAULT_SUPPORT_NEED = "employment"

# The coordination pages, in the order of their tabs: (path, message key).
TABS = [
    ("/app/gaps", "nav.gaps"),
    ("/app/support", "coord.support.title"),
    ("/app/overlaps", "coord.overlaps.title"),
    ("/app/arrivals", "coord.arrivals.title"),
]


def csv_response(
    session: WebSession, name: str, columns: Sequence[tuple[str, str]], rows: list[list[Any]]
) -> Response:
    """A table of a page as a download: UTF-8 with a byte-order mark, so Excel reads it."""
    response = Response(
        hxl_csv(columns, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )
    return remember(response, session)


def csv_link(request: Request) -> str:
    """The download of the page's table: the same query, `.csv` after the path."""
    query = request.url.query
    return request.url.path + ".csv" + ("?" + query if query else "")


async def _choices(request: Request, session: WebSession, country: str) -> dict[str, Any]:
    """Countries and needs for the pages' forms, and the country's name."""
    from web.search import need_options

    choices = await run(request, session, CHOICES)
    countries = choices["areas"]["nodes"]
    return {
        "needs": choices["needs"],
        "need_groups": need_options(choices["needs"]),
        "countries": countries,
        "country_name": next((c["name"] for c in countries if c["id"] == country), country),
    }


def _need_label(needs: list[dict[str, Any]], code: str) -> str:
    return next((n["label"] for n in needs if n["code"] == code), code)


@router.get("/gaps")
async def gaps_page(
    request: Request, country: str = "XK", need: str = DEFAULT_NEED, question: str = "gap"
) -> Response:
    session = await page_session(request)
    country = country.upper()
    choices = await _choices(request, session, country)
    data = await run(request, session, GAPS, {"country": country, "need": need})
    if question not in QUESTIONS:
        question = "gap"
    # The map, the GeoJSON and the 3W table are the REST exports, which accept the session
    # cookie.
    asked = {"country": country, "need": need, "lang": API_LANGUAGE[session.lang]}
    picture = "/exports/gaps.svg?" + urlencode(asked | {"question": question})
    picture_png = "/exports/gaps.png?" + urlencode(asked | {"question": question})
    geojson = "/exports/gaps.geojson?" + urlencode(asked)
    three_w = "/exports/3w.csv?" + urlencode(
        {"country": country, "lang": API_LANGUAGE[session.lang]}
    )
    return render(
        request,
        session,
        "gaps.html",
        country=country,
        need=need,
        need_label=_need_label(choices["needs"], need),
        country_name=choices["country_name"],
        countries=choices["countries"],
        need_groups=choices["need_groups"],
        tabs=TABS,
        table_csv=csv_link(request),
        state_colours=json.dumps(STATE_COLOURS),
        cells=data["serviceGaps"],
        overlaps=data["serviceOverlaps"],
        picture=picture,
        picture_png=picture_png,
        geojson=geojson,
        question=question,
        questions=QUESTIONS,
        three_w=three_w,
    )


@router.get("/gaps.csv")
async def gaps_table(request: Request, country: str = "XK", need: str = DEFAULT_NEED) -> Response:
    session = await page_session(request)
    country = country.upper()
    t = translator(API_LANGUAGE[session.lang])
    choices = await _choices(request, session, country)
    data = await run(request, session, GAPS, {"country": country, "need": need})
    columns = [
        (t("gaps.country"), "#country+name"),
        (t("coord.country_code"), "#country+code"),
        (t("gaps.area"), "#adm2+name"),
        (t("coord.code"), "#adm2+code"),
        (t("gaps.need"), "#subsector+name"),
        (t("coord.need_code"), "#subsector+code"),
        (t("gaps.demand"), "#indicator+referrals+num"),
        (t("gaps.supply"), "#indicator+services+num"),
        (t("gaps.listed"), "#indicator+listed_not_counted+num"),
        (t("gaps.score"), "#indicator+gap_score+num"),
        (t("gaps.unmet"), "#status+unmet"),
        (t("gaps.nearest"), "#activity+nearest+name"),
        (t("gaps.organisations"), "#org+nearest+name"),
        (t("result.distance_label"), "#indicator+nearest_km+num"),
    ]
    label = _need_label(choices["needs"], need)
    rows = []
    for c in data["serviceGaps"]:
        nearest = c["nearestPartner"] or {}
        rows.append(
            [
                choices["country_name"],
                alpha_3(country),
                *_area_cells(c["area"], c["areaId"]),
                label,
                need,
                c["demand"],
                c["supply"],
                c["listedNotCounted"],
                # Hidden with the demand it would give back (core.disclosure): an empty cell.
                round(c["gapScore"], 2) if c["gapScore"] is not None else None,
                "yes" if c["unmet"] else "no",
                nearest.get("serviceName"),
                nearest.get("organisationName"),
                round(nearest["distanceKm"], 1) if nearest else None,
            ]
        )
    return csv_response(session, f"gaps-{country}-{need}", columns, rows)


def _area_cells(area: dict[str, Any] | None, area_id: str) -> list[str]:
    """Name and standard code of a row's area (the directory's id where it has no code)."""
    if area is None:
        return [area_id, area_id]
    return [area["name"], area.get("code") or area_id]


# --- support by sending country ----------------------------------------------------------


def sending_codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.replace(";", ",").split(",") if c.strip()]


async def _support(request: Request, session: WebSession, values: dict[str, str]) -> dict[str, Any]:
    country = values["country"]
    choices = await _choices(request, session, country)
    destinations = (await run(request, session, DESTINATIONS, {"country": country}))["areas"][
        "nodes"
    ]
    destination = values["destination"] or country
    if destination != country and destination not in {d["id"] for d in destinations}:
        destination = country
    asked = {
        "destination": destination,
        "need": values["need"],
        "sending": sending_codes(values["sending"]) or None,
    }
    rows = (await run(request, session, SUPPORT, asked))["supportComparison"]
    names = {c["id"]: c["name"] for c in choices["countries"]}
    for row in rows:
        row["countryName"] = names.get(row["sendingCountry"], row["sendingCountry"])
    here = next((d for d in destinations if d["id"] == destination), None)
    return choices | {
        "destinations": destinations,
        "destination": destination,
        "destination_name": here["name"] if here else choices["country_name"],
        "destination_code": (here.get("code") if here else None) or destination,
        "need_label": _need_label(choices["needs"], values["need"]),
        "rows": rows,
    }


def _support_values(country: str, destination: str, need: str, sending: str) -> dict[str, str]:
    return {
        "country": country.upper(),
        "destination": destination.strip(),
        "need": need,
        "sending": sending,
    }


@router.get("/support")
async def support_page(
    request: Request,
    country: str = "XK",
    destination: str = "",
    need: str = DEFAULT_SUPPORT_NEED,
    sending: str = "",
) -> Response:
    """What returnees from each sending country can use for a need at a destination, across
    the programmes that fund the services."""
    session = await page_session(request)
    values = _support_values(country, destination, need, sending)
    data = await _support(request, session, values)
    return render(
        request,
        session,
        "support.html",
        form=values,
        tabs=TABS,
        table_csv=csv_link(request),
        **data,
    )


@router.get("/support.csv")
async def support_table(
    request: Request,
    country: str = "XK",
    destination: str = "",
    need: str = DEFAULT_SUPPORT_NEED,
    sending: str = "",
) -> Response:
    session = await page_session(request)
    t = translator(API_LANGUAGE[session.lang])
    values = _support_values(country, destination, need, sending)
    data = await _support(request, session, values)
    columns = [
        (t("coord.support.country"), "#country+origin+name"),
        (t("coord.country_code"), "#country+origin+code"),
        (t("coord.support.destination"), "#loc+dest+name"),
        (t("coord.code"), "#loc+dest+code"),
        (t("gaps.need"), "#subsector+name"),
        (t("coord.need_code"), "#subsector+code"),
        (t("coord.support.services"), "#indicator+services+num"),
        (t("coord.support.open_to_all"), "#indicator+open_to_all+num"),
        (t("coord.support.list"), "#activity+name"),
        (t("gaps.organisations"), "#org+impl+name"),
        (t("coord.support.programmes"), "#activity+programme+name"),
    ]
    rows = [
        [
            r["countryName"],
            alpha_3(r["sendingCountry"]),
            data["destination_name"],
            data["destination_code"],
            data["need_label"],
            values["need"],
            len(r["services"]),
            r["openToAll"],
            " | ".join(s["name"] for s in r["services"]),
            " | ".join(dict.fromkeys(s["organisation"] for s in r["services"])),
            " | ".join(r["programmes"]),
        ]
        for r in data["rows"]
    ]
    name = f"support-{data['destination']}-{values['need']}"
    return csv_response(session, name, columns, rows)


# --- overlaps side by side -----------------------------------------------------------------


async def _overlaps(
    request: Request, session: WebSession, country: str, need: str
) -> dict[str, Any]:
    choices = await _choices(request, session, country)
    data = await run(request, session, GAPS, {"country": country, "need": need})
    overlaps = data["serviceOverlaps"]
    return choices | {
        "need_label": _need_label(choices["needs"], need),
        "overlaps": overlaps,
        "widest": max((len(o["services"]) for o in overlaps), default=0),
    }


@router.get("/overlaps")
async def overlaps_page(
    request: Request, country: str = "XK", need: str = DEFAULT_SUPPORT_NEED
) -> Response:
    """Where several organisations offer the same need in the same municipality, their
    offers side by side: a coordinator sees at once whether they duplicate or complement."""
    session = await page_session(request)
    country = country.upper()
    data = await _overlaps(request, session, country, need)
    return render(
        request,
        session,
        "overlaps.html",
        country=country,
        need=need,
        tabs=TABS,
        table_csv=csv_link(request),
        **data,
    )


@router.get("/overlaps.csv")
async def overlaps_table(
    request: Request, country: str = "XK", need: str = DEFAULT_SUPPORT_NEED
) -> Response:
    session = await page_session(request)
    country = country.upper()
    t = translator(API_LANGUAGE[session.lang])
    data = await _overlaps(request, session, country, need)
    columns = [
        (t("gaps.area"), "#adm2+name"),
        (t("coord.code"), "#adm2+code"),
        (t("gaps.need"), "#subsector+name"),
        (t("coord.need_code"), "#subsector+code"),
        (t("gaps.organisations"), "#indicator+organisations+num"),
        (t("coord.overlaps.organisation"), "#org+impl+name"),
        (t("coord.overlaps.service"), "#activity+name"),
        (t("coord.overlaps.service_id"), "#activity+code"),
        (t("coord.overlaps.capacity"), "#status+capacity"),
        (t("coord.overlaps.referrals"), "#indicator+referrals+num"),
    ]
    # One row per offer; the offers of one municipality follow each other.
    rows = [
        [
            *_area_cells(o["area"], o["areaId"]),
            data["need_label"],
            need,
            o["organisations"],
            s["organisationName"],
            s["name"],
            s["serviceId"],
            s["capacity"].lower(),
            s["referrals"],
        ]
        for o in data["overlaps"]
        for s in o["services"]
    ]
    return csv_response(session, f"overlaps-{country}-{need}", columns, rows)


# --- planned arrivals --------------------------------------------------------------------


def _period(request: Request, since: str, until: str) -> tuple[date, date]:
    """The asked period, by default the next six months as on the arrivals map; a date that
    does not read as one falls back to the default."""
    today: date = request.app.state.clock().date()
    try:
        start = date.fromisoformat(since) if since else today
    except ValueError:
        start = today
    try:
        end = date.fromisoformat(until) if until else start + ARRIVALS_AHEAD
    except ValueError:
        end = start + ARRIVALS_AHEAD
    if end <= start:
        end = start + timedelta(days=1)
    return start, end


async def _arrivals(
    request: Request, session: WebSession, country: str, since: str, until: str
) -> dict[str, Any]:
    start, end = _period(request, since, until)
    choices = await _choices(request, session, country)
    asked = {"country": country, "since": start.isoformat(), "until": end.isoformat()}
    cells = (await run(request, session, ARRIVALS, asked))["plannedArrivals"]
    return choices | {"since": start, "until": end, "cells": cells}


@router.get("/arrivals")
async def arrivals_page(
    request: Request, country: str = "XK", since: str = "", until: str = ""
) -> Response:
    """Households still preparing their return, by municipality and month of planned
    arrival: an influx shows before it arrives. Small counts are hidden."""
    session = await page_session(request)
    country = country.upper()
    data = await _arrivals(request, session, country, since, until)
    return render(
        request,
        session,
        "arrivals.html",
        country=country,
        tabs=TABS,
        table_csv=csv_link(request),
        minimum=request.app.state.settings.statistics_minimum_count,
        **data,
    )


@router.get("/arrivals.csv")
async def arrivals_table(
    request: Request, country: str = "XK", since: str = "", until: str = ""
) -> Response:
    session = await page_session(request)
    country = country.upper()
    t = translator(API_LANGUAGE[session.lang])
    data = await _arrivals(request, session, country, since, until)
    columns = [
        (t("gaps.area"), "#adm2+name"),
        (t("coord.code"), "#adm2+code"),
        (t("coord.arrivals.month"), "#date+planned"),
        (t("coord.arrivals.households"), "#population+returnees+planned+hh"),
        (t("coord.arrivals.people"), "#population+returnees+planned+ind"),
    ]
    # A hidden count is an empty cell: a number column holds numbers only.
    rows = [
        [
            *_area_cells(c["municipality"], ""),
            c["month"],
            c["households"],
            c["people"],
        ]
        for c in data["cells"]
    ]
    return csv_response(session, f"arrivals-{country}", columns, rows)
