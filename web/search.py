"""The counsellor's search: needs, place of return in any spelling, radius, target groups,
languages and sending country; results with reasons, distance, freshness and responsiveness."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from core.i18n import translator
from web.errors import page_error
from web.languages import language_choices
from web.pages import allowed, render, run
from web.session import API_LANGUAGE, page_session, remember
from web.sites import nearest_first

router = APIRouter()

VOCABULARY = """
query Vocabulary {
  needs { code label broader { code } }
  targetGroups { code label }
  areas(level: COUNTRY, first: 100) { nodes { id name } }
}
"""

SEARCH = """
query Search($q: PartnerSearchInput!) {
  searchPartners(query: $q, first: 20) {
    __typename
    ... on ValidationError { message fields { field message suggestions } }
    ... on PartnerSearchResults {
      totalCount
      destination {
        id name level centroid { lat lon }
        parent { id level parent { id level parent { id level } } }
      }
      unmatchedNeeds { label }
      nodes {
        distanceKm
        reasons
        matchedNeeds { code label }
        organisation { id name acronym }
        service {
          id name capacity freshness lastVerifiedAt
          locations { name point { lat lon } }
          responsiveness { referralsReceived ackMedianHours acceptanceRate }
        }
      }
    }
  }
}
"""

PLACES = """
query Places($name: String!) {
  areas(name: $name, first: 8) { nodes { id name level parent { name } } }
}
"""


def need_options(needs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Needs grouped under their top-level term, for an <optgroup> each."""
    groups: dict[str, dict[str, Any]] = {}
    for need in needs:
        if need["broader"] is None:
            groups[need["code"]] = {"label": need["label"], "needs": [need]}
    for need in needs:
        if need["broader"] is not None and need["broader"]["code"] in groups:
            groups[need["broader"]["code"]]["needs"].append(need)
    return list(groups.values())


def language_codes(text: str) -> list[str]:
    return [code.strip().lower() for code in text.replace(";", ",").split(",") if code.strip()]


def chosen_languages(values: list[str]) -> list[str]:
    """Languages ticked (one value each) or, in an older link, typed as "sq, de"."""
    return list(dict.fromkeys(code for value in values for code in language_codes(value)))


# Where the API's problems with a search show on the form: (form field, message).
SEARCH_FIELDS = {
    "needs": ("needs", "error.search.needs"),
    "place": ("place", "error.search.place"),
    "radiusKm": ("radius", "error.search.radius"),
    "languages": ("languages", "error.languages"),
    "targetGroups": ("target_groups", "error.choose"),
    "sendingCountry": ("sending_country", "error.choose"),
}


async def vocabulary(request: Request, session: Any) -> dict[str, Any]:
    data = await run(request, session, VOCABULARY)
    return {
        "need_groups": need_options(data["needs"]),
        "target_groups": data["targetGroups"],
        "countries": data["areas"]["nodes"],
    }


def country_of(area: dict[str, Any] | None) -> str | None:
    """The country an area lies in, from its chain of parents."""
    while area is not None:
        if area.get("level") == "COUNTRY":
            return str(area["id"])
        area = area.get("parent")
    return None


def results_map(results: dict[str, Any], lang: str) -> dict[str, str] | None:
    """What the map of the results draws: the outlines of the destination's country and a
    dot per result, at its service's site nearest the searched place."""
    country = country_of(results["destination"])
    if country is None:
        return None
    points = []
    for m in results["nodes"]:
        _, site, _ = nearest_first(m["service"]["locations"], results["destination"])
        if site is None:
            continue
        names = (m["service"]["name"], (m["organisation"] or {}).get("name"), site["name"])
        points.append(
            {
                "lat": site["point"]["lat"],
                "lon": site["point"]["lon"],
                "label": ", ".join(part for part in names if part),
            }
        )
    return {
        "geojson": "/exports/outlines.geojson?" + urlencode({"country": country, "lang": lang}),
        "points": json.dumps(points, ensure_ascii=False),
    }


@router.get("/search")
async def search_page(request: Request) -> Response:
    session = await page_session(request)
    params = request.query_params
    form: dict[str, Any] = {
        "needs": params.getlist("needs"),
        "place": params.get("place", "").strip(),
        "radius": params.get("radius", "25"),
        "target_groups": params.getlist("target_groups"),
        "languages": chosen_languages(params.getlist("languages")),
        "sending_country": params.get("sending_country", ""),
        # From a case page: the referral form joins the new referral to that case.
        "case": params.get("case", "").strip(),
    }
    results: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    if form["needs"] and form["place"]:
        try:
            radius = float(form["radius"])
        except ValueError:
            radius = -1.0
        query = {
            "needs": form["needs"],
            "place": form["place"],
            "radiusKm": radius,
            "targetGroups": form["target_groups"],
            "languages": form["languages"],
            "sendingCountry": form["sending_country"] or None,
        }
        found = (await run(request, session, SEARCH, {"q": query}))["searchPartners"]
        if found["__typename"] == "ValidationError":
            error = found
        else:
            results = found
    t = translator(API_LANGUAGE[session.lang])
    return render(
        request,
        session,
        "search.html",
        form=form,
        results=results,
        perror=page_error(error, t, SEARCH_FIELDS),
        language_choices=language_choices(t.locale, form["languages"]),
        can_refer=allowed(request, session, "GET /app/referrals/new"),
        results_map=results_map(results, API_LANGUAGE[session.lang]) if results else None,
        **await vocabulary(request, session),
    )


@router.get("/places.json")
async def places(request: Request, q: str = "") -> Response:
    """Suggestions for the place field: areas whose name in any language or script begins
    with what was typed."""
    session = await page_session(request)
    if len(q.strip()) < 2:
        return JSONResponse([])
    data = await run(request, session, PLACES, {"name": q.strip()})
    suggestions = [
        {
            "id": a["id"],
            "name": a["name"],
            "context": a["parent"]["name"] if a["parent"] else "",
        }
        for a in data["areas"]["nodes"]
    ]
    return remember(JSONResponse(suggestions), session)
