"""Return cases on the web: one case with its household, consent, documents, referrals and
timeline of changes and visits; "refer to another service" from it (the search and the
referral form pre-filled with the case), and "record a visit".
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.i18n import translator
from graph.cases import Whereabouts
from web.pages import allowed, render, run, see_other, typed_error
from web.referrals import INDICATORS, visit_error, visit_problems
from web.session import API_LANGUAGE, WebSession, check_form, page_session

router = APIRouter()

READ = """
query Case($id: ID!) {
  returnCase(id: $id) {
    id reference fileNumber viewerSide phase whereabouts version returnType sendingCountry
    plannedArrival actualArrival languages withheldCategories followUpsDue note
    members { role age needs { code label } }
    documents { document state }
    needs { code label }
    destination { id name }
    ownerOrganisation { id name }
    consents { id categories expiresOn valid revokedAt recipients { id name } }
    events { at actor action phase whereabouts note destination { name } }
    followUps {
      id monthsAfterArrival visitedOn whereabouts employment schooling healthCareAccess
      housing feelsSafe intendsToLeave economic social psychosocial note recordedAt
    }
    reintegration { dimension score }
    referrals {
      id reference status overdue
      service { name } receivingOrganisation { name } needs { code label }
    }
  }
}
"""

VISIT = """
mutation Visit($input: CaseFollowUpInput!) {
  recordCaseFollowUp(input: $input) {
    __typename
    ... on ValidationError { message fields { field message } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
    ... on VersionConflictError { message }
  }
}
"""

WHEREABOUTS = [w.name for w in Whereabouts]
VISIT_FIELDS = ["monthsAfterArrival", "visitedOn", "whereabouts", *INDICATORS, "note"]
VISIT_ROUTE = "POST /app/cases/{case_id}/visit"


def timeline(case: dict[str, Any]) -> list[dict[str, Any]]:
    """Changes and visits in one list, oldest first: a visit is dated by the day it took
    place, a change by when it was recorded."""
    entries = [{"kind": "event", "day": e["at"][:10], "item": e} for e in case["events"]]
    entries += [{"kind": "visit", "day": f["visitedOn"], "item": f} for f in case["followUps"]]
    return sorted(entries, key=lambda e: (e["day"], e["kind"] == "visit"))


async def _page(
    request: Request,
    session: WebSession,
    case_id: str,
    *,
    visit: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    case = (await run(request, session, READ, {"id": case_id}))["returnCase"]
    if case is None:
        return render(
            request, session, "message.html", status_code=404, title="notfound.title", text=None
        )
    today = request.app.state.clock().date()
    months = list(request.app.state.settings.follow_up_months)
    recorded = {f["monthsAfterArrival"] for f in case["followUps"]}
    first = case["followUpsDue"] or [m for m in months if m not in recorded] or months
    values = {
        "monthsAfterArrival": str(first[0]),
        "visitedOn": today.isoformat(),
        "whereabouts": case["whereabouts"],
    } | (visit or {})
    errors = {
        str(p["field"]).removeprefix("input."): p["message"]
        for p in (error or {}).get("fields") or []
    }
    refer = None
    if case["viewerSide"] == "OWNER" and allowed(request, session, "GET /app/referrals/new"):
        refer = [
            ("place", case["destination"]["name"] if case["destination"] else ""),
            *[("needs", n["code"]) for n in case["needs"]],
            *[("needs", n["code"]) for m in case["members"] for n in m["needs"]],
            ("languages", ", ".join(case["languages"])),
            ("case", case["reference"]),
        ]
    return render(
        request,
        session,
        "case.html",
        status_code=status_code,
        case=case,
        timeline=timeline(case),
        refer=list(dict.fromkeys(refer)) if refer is not None else None,
        can_visit=case["phase"] != "PREPARING" and allowed(request, session, VISIT_ROUTE),
        months=sorted(set(months) | set(case["followUpsDue"])),
        whereabouts=WHEREABOUTS,
        indicators=INDICATORS,
        values=values,
        error=error,
        errors=errors,
        saved=request.query_params.get("saved"),
    )


@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: str) -> Response:
    session = await page_session(request)
    return await _page(request, session, case_id)


@router.post("/cases/{case_id}/visit")
async def record_visit(request: Request, case_id: str) -> Response:
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    submitted = {name: str(form.get(name, "")).strip() for name in VISIT_FIELDS}
    t = translator(API_LANGUAGE[session.lang])
    months, problems = visit_problems(submitted, t)
    if submitted["whereabouts"] not in WHEREABOUTS:
        problems.append({"field": "input.whereabouts", "message": t("followup.bad_choice")})
    error: dict[str, Any] | None
    if problems:
        error = visit_error(problems, t)
    else:
        visit: dict[str, Any] = {
            "caseId": case_id,
            "monthsAfterArrival": months,
            "visitedOn": submitted["visitedOn"],
            "whereabouts": submitted["whereabouts"],
            "note": submitted["note"] or None,
        }
        visit |= {name: submitted[name] or None for name in INDICATORS}
        result = (await run(request, session, VISIT, {"input": visit}))["recordCaseFollowUp"]
        error = typed_error(result)
    if error is not None:
        return await _page(request, session, case_id, visit=submitted, error=error, status_code=422)
    return see_other(session, f"/app/cases/{case_id}?saved=visit")
