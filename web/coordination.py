"""The coordinator's pages: the gap map and table of a country and need, overlaps, the 3W
download, and the duplicate review queue."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from reports.maps import QUESTIONS
from web.pages import render, run, see_other, typed_error
from web.session import API_LANGUAGE, check_form, page_session

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
    area { name }
    nearestPartner { serviceName organisationName distanceKm }
  }
  serviceOverlaps(areaId: $country, need: $need) {
    areaId organisations
    area { name }
    services { serviceId name organisationName capacity referrals }
  }
}
"""

DUPLICATES = """
query Duplicates {
  duplicateCandidates(first: 50) {
    nodes {
      id kind score state
      evidence { field value similarity weight }
      a { id name organisation { name countryCode } service { organisation { name } } }
      b { id name organisation { name countryCode } service { organisation { name } } }
    }
  }
}
"""

RESOLVE = """
mutation Resolve($input: ResolveDuplicateInput!) {
  resolveDuplicate(input: $input) {
    __typename
    ... on DuplicatePairPayload { candidate { id state } }
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
  }
}
"""

DEFAULT_NEED = "psychosocial.trauma-therapy"


@router.get("/gaps")
async def gaps_page(
    request: Request, country: str = "XK", need: str = DEFAULT_NEED, question: str = "gap"
) -> Response:
    session = await page_session(request)
    from web.search import need_options

    choices = await run(request, session, CHOICES)
    data = await run(request, session, GAPS, {"country": country.upper(), "need": need})
    need_label = next((n["label"] for n in choices["needs"] if n["code"] == need), need)
    countries = choices["areas"]["nodes"]
    country_name = next((c["name"] for c in countries if c["id"] == country.upper()), country)
    if question not in QUESTIONS:
        question = "gap"
    # The map, the GeoJSON and the 3W table are the REST exports, which accept the session
    # cookie.
    asked = {"country": country.upper(), "need": need, "lang": API_LANGUAGE[session.lang]}
    picture = "/exports/gaps.svg?" + urlencode(asked | {"question": question})
    picture_png = "/exports/gaps.png?" + urlencode(asked | {"question": question})
    geojson = "/exports/gaps.geojson?" + urlencode(asked)
    three_w = "/exports/3w.csv?" + urlencode(
        {"country": country.upper(), "lang": API_LANGUAGE[session.lang]}
    )
    return render(
        request,
        session,
        "gaps.html",
        country=country.upper(),
        need=need,
        need_label=need_label,
        country_name=country_name,
        countries=countries,
        need_groups=need_options(choices["needs"]),
        cells=data["serviceGaps"],
        overlaps=data["serviceOverlaps"],
        picture=picture,
        picture_png=picture_png,
        geojson=geojson,
        question=question,
        questions=QUESTIONS,
        three_w=three_w,
    )


@router.get("/duplicates")
async def duplicates_page(request: Request) -> Response:
    session = await page_session(request)
    data = await run(request, session, DUPLICATES)
    return render(
        request,
        session,
        "duplicates.html",
        pairs=data["duplicateCandidates"]["nodes"],
        saved=request.query_params.get("saved") == "1",
        error=None,
    )


@router.post("/duplicates/{candidate_id}")
async def resolve_duplicate(
    request: Request,
    candidate_id: str,
    decision: Annotated[str, Form()],
    csrf: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    session = await page_session(request)
    check_form(request, session, csrf)
    decided = {"candidate": candidate_id, "decision": decision, "note": note.strip() or None}
    result = (await run(request, session, RESOLVE, {"input": decided}))["resolveDuplicate"]
    error = typed_error(result)
    if error is not None:
        data = await run(request, session, DUPLICATES)
        return render(
            request,
            session,
            "duplicates.html",
            status_code=422,
            pairs=data["duplicateCandidates"]["nodes"],
            saved=False,
            error=error,
        )
    return see_other(session, "/app/duplicates?saved=1")
