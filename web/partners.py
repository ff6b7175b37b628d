"""A service of the directory as a counsellor opens it from the results: what it offers,
where (its sites with their addresses), for whom, at what cost, and how to reach the
organisation that provides it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.i18n import translator
from web.languages import language_name
from web.pages import render, run
from web.session import API_LANGUAGE, page_session

router = APIRouter()

SERVICE = """
query ServicePage($id: ID!) {
  service(id: $id) {
    id name description delivery languages eligibilityDescription minimumAge maximumAge
    feesDescription referralMethod expectedResponseDays capacity capacityNote freshness
    lastVerifiedAt
    needs { code label }
    targetGroups { code label }
    coverage { id name }
    locations { id name address area { name } }
    responsiveness { referralsReceived ackMedianHours acceptanceRate }
    organisation { id name acronym description website email phone }
  }
}
"""


@router.get("/services/{service_id}")
async def service_page(request: Request, service_id: str) -> Response:
    session = await page_session(request)
    service = (await run(request, session, SERVICE, {"id": service_id}))["service"]
    if service is None:
        return render(
            request, session, "message.html", status_code=404, title="notfound.title", text=None
        )
    locale = translator(API_LANGUAGE[session.lang]).locale
    return render(
        request,
        session,
        "service.html",
        service=service,
        organisation=service["organisation"],
        language_names=[language_name(code, locale) for code in service["languages"]],
    )
