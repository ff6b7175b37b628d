"""A service of the directory as a counsellor opens it from the results: what it offers,
where (its sites with their addresses, opening hours and a map, the nearest to the searched
place first), for whom, at what cost, and how to reach it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.i18n import translator
from web.languages import language_name
from web.pages import render, run
from web.search import country_of
from web.session import API_LANGUAGE, page_session
from web.sites import WEEKDAYS, nearest_first, weekday_names

router = APIRouter()

SERVICE = """
query ServicePage($id: ID!, $near: ID!, $withNear: Boolean!) {
  service(id: $id) {
    id name description delivery languages eligibilityDescription minimumAge maximumAge
    feesDescription referralMethod expectedResponseDays capacity capacityNote freshness
    lastVerifiedAt phone email
    needs { code label }
    targetGroups { code label }
    coverage { id name }
    locations {
      id name address point { lat lon } pointApproximate
      openingHours { weekday opens closes }
      area { id name level parent { id level parent { id level parent { id level } } } }
    }
    responsiveness { referralsReceived ackMedianHours acceptanceRate }
    organisation { id name acronym description website email phone }
  }
  near: area(id: $near) @include(if: $withNear) { id name centroid { lat lon } }
}
"""


def week_of(site: dict[str, Any], days: dict[str, str]) -> list[dict[str, str]]:
    """{day, times} for each weekday of a site that states its hours ("closed" left to the
    template), in week order."""
    if not site["openingHours"]:
        return []
    return [
        {
            "day": days[code],
            "times": ", ".join(
                f"{h['opens']}–{h['closes']}" for h in site["openingHours"] if h["weekday"] == code
            ),
        }
        for code in WEEKDAYS
    ]


def sites_map(service: dict[str, Any], lang: str) -> dict[str, str] | None:
    """What the map of the service's sites draws: the outlines of the country the sites are
    in and a dot per site that has a point."""
    located = [s for s in service["locations"] if s["point"] is not None]
    countries = {country_of(s["area"]) for s in located if s["area"]}
    country = next(iter(sorted(c for c in countries if c)), None)
    if not located or country is None:
        return None
    points = [
        {
            "lat": s["point"]["lat"],
            "lon": s["point"]["lon"],
            "label": ", ".join(p for p in (s["name"], s["address"]) if p) or service["name"],
        }
        for s in located
    ]
    return {
        "geojson": "/exports/outlines.geojson?" + urlencode({"country": country, "lang": lang}),
        "points": json.dumps(points, ensure_ascii=False),
    }


@router.get("/services/{service_id}")
async def service_page(request: Request, service_id: str) -> Response:
    session = await page_session(request)
    near_id = request.query_params.get("near", "").strip()
    variables = {"id": service_id, "near": near_id or "-", "withNear": bool(near_id)}
    data = await run(request, session, SERVICE, variables)
    service = data["service"]
    if service is None:
        return render(
            request, session, "message.html", status_code=404, title="notfound.title", text=None
        )
    t = translator(API_LANGUAGE[session.lang])
    near = data.get("near")
    sites, nearest, km = nearest_first(service["locations"], near)
    days = weekday_names(t.locale)
    return render(
        request,
        session,
        "service.html",
        service=service,
        organisation=service["organisation"],
        language_names=[language_name(code, t.locale) for code in service["languages"]],
        sites=[{"site": s, "week": week_of(s, days)} for s in sites],
        near=near if nearest is not None else None,
        nearest=nearest,
        nearest_km=km,
        sites_map=sites_map(service, API_LANGUAGE[session.lang]),
    )
