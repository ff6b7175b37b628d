"""Referrals on the web: the counsellor's form, the consent step and sending; the lists of
sent and incoming referrals; one referral with its history, its follow-up visits and the steps
the viewer may take.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from core.i18n import Translator, translator
from graph.referrals import (
    FOLLOW_UP_STATUSES,
    Access,
    Employment,
    Housing,
    Intention,
    Schooling,
)
from web.errors import page_error
from web.languages import language_choices
from web.pages import allowed, render, run, see_other, typed_error
from web.search import chosen_languages
from web.session import API_LANGUAGE, WebSession, check_form, page_session

router = APIRouter()

ERRORS = """
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
    ... on VersionConflictError { message currentVersion }
    ... on IllegalTransitionError { message }
    ... on ConsentMissingError { message missingCategories }
"""

NEW_FORM = """
query NewReferral($service: ID!, $destination: ID!) {
  service(id: $service) { id name organisation { name } needs { code label broader { code } } }
  area(id: $destination) { id name }
  needs { code broader { code } }
}
"""

# Where the API's problems with a ReferralInput show on the form: (form field, message).
REFERRAL_FIELDS = {
    "needs": ("needs", "error.referral.needs"),
    "returnType": ("return_type", "error.choose"),
    "household": ("adults", "error.household"),
    "household.adults": ("adults", "error.household"),
    "household.children": ("children", "error.household"),
    "languages": ("languages", "error.languages"),
    "caseReference": ("case_reference", "error.referral.case"),
    "plannedArrival": ("planned_arrival", "error.date"),
    "note": ("note", "error.text"),
    "contact": ("contact", "error.text"),
    "health": ("health", "error.text"),
}


def answering_needs(
    service_needs: list[dict[str, Any]], searched: list[str], broader: dict[str, str | None]
) -> list[str]:
    """The service's needs that answer the searched ones, as the search matched them: the
    same need, a narrower need of a searched broad one, or the broad need of a searched
    narrow one."""
    wanted = set(searched) | {b for s in searched if (b := broader.get(s))}
    return [
        need["code"]
        for need in service_needs
        if need["code"] in wanted or (need.get("broader") or {}).get("code") in searched
    ]


def _input_mutation(name: str, field: str, input_type: str, payload: str) -> str:
    """A mutation of one input, answering with what it made or with a typed error."""
    return (
        f"mutation {name}($input: {input_type}!) {{\n"
        f"  {field}(input: $input) {{\n    __typename\n    ... on {payload}\n" + ERRORS + "} }"
    )


REFERRAL_ID = "ReferralPayload { referral { id } }"
CREATE = _input_mutation("Create", "createReferral", "ReferralInput", REFERRAL_ID)
CONSENT = _input_mutation(
    "Consent", "grantConsent", "ConsentInput", "ConsentPayload { consent { id } }"
)
FOLLOW_UP = _input_mutation("FollowUp", "recordFollowUp", "FollowUpInput", REFERRAL_ID)

READ = """
query Referral($id: ID!) {
  referral(id: $id) {
    id reference caseReference status viewerSide returnType plannedArrival version overdue
    returnCase { id reference }
    responseDueAt followUpsDue allowedActions withheldCategories declineReason outcome
    note contact health languages documents
    household { adults children }
    needs { code label }
    destination { id name }
    service { id name }
    fromOrganisation { id name }
    receivingOrganisation { id name }
    consents { id categories expiresOn valid recipient { id } }
    events { at actor action fromStatus toStatus note reason outcome }
    accessNotices { at userId tokenId issuedBy }
    followUps {
      id monthsAfterArrival visitedOn employment schooling healthCareAccess housing feelsSafe
      intendsToLeave note recordedAt recordedByOrganisationId
    }
  }
}
"""

LIST = """
query Referrals($side: ReferralSide!) {
  all: referrals(side: $side, first: 100) { nodes { ...Row } }
  due: referrals(side: $side, followUpsDue: true, first: 100) { nodes { ...Row } }
}
fragment Row on Referral {
  id reference caseReference status overdue updatedAt followUpsDue responseDueAt
  service { name }
  fromOrganisation { name }
  receivingOrganisation { name }
  destination { name }
  needs { label }
}
"""

# The lifecycle step of each action, and the extra argument it takes.
STEPS: dict[str, tuple[str, str]] = {
    "SEND": ("sendReferral", ""),
    "ACKNOWLEDGE": ("acknowledgeReferral", ""),
    "ACCEPT": ("acceptReferral", ""),
    "DECLINE": ("declineReferral", "reason"),
    "START": ("startReferral", ""),
    "COMPLETE": ("completeReferral", "outcome"),
    "CANCEL": ("cancelReferral", ""),
}


def _step_mutation(field: str, extra: str) -> str:
    kind = {"reason": "DeclineReason", "outcome": "Outcome"}.get(extra)
    declared = f", ${extra}: {kind}!" if kind else ""
    passed = f", {extra}: ${extra}" if kind else ""
    return (
        f"mutation Step($id: ID!, $note: String, $version: Int{declared}) {{\n"
        f"  {field}(id: $id, note: $note, expectedVersion: $version{passed}) {{\n"
        f"    __typename\n    ... on {REFERRAL_ID}\n" + ERRORS + "} }"
    )


STEP_MUTATIONS = {action: _step_mutation(*step) for action, step in STEPS.items()}

# The indicators of a follow-up visit by FollowUpInput field (also the form field's name, so
# the API's field errors land beside it): the catalogue key of its label, the prefix of its
# values' words, and its values.
INDICATORS: dict[str, tuple[str, str, list[str]]] = {
    "employment": ("followup.employment", "employment", [e.name for e in Employment]),
    "schooling": ("followup.schooling", "schooling", [e.name for e in Schooling]),
    "healthCareAccess": ("followup.health_care_access", "access", [e.name for e in Access]),
    "housing": ("followup.housing", "housing", [e.name for e in Housing]),
    "feelsSafe": ("followup.feels_safe", "access", [e.name for e in Access]),
    "intendsToLeave": ("followup.intends_to_leave", "intention", [e.name for e in Intention]),
}
FOLLOW_UP_FIELDS = ["monthsAfterArrival", "visitedOn", *INDICATORS, "note"]
FOLLOW_UP_ROUTE = "POST /app/referrals/{referral_id}/follow-up"
# GraphQL's Int is 32 bits; a larger number would fail before the API could say what is wrong.
GRAPHQL_INT = (-(2**31), 2**31 - 1)
Problem = dict[str, Any]


def visit_problems(submitted: dict[str, str], t: Translator) -> tuple[int | None, list[Problem]]:
    """A visit form (a referral's or a case's) checked for what GraphQL itself would reject
    before the API sees it (a malformed date, a value outside an enum), in the shape of the
    API's own field errors; with the month after arrival it gives, when it is a number."""
    problems: list[Problem] = []
    try:
        date.fromisoformat(submitted["visitedOn"])
    except ValueError:
        problems.append({"field": "input.visitedOn", "message": t("followup.bad_date")})
    try:
        months: int | None = int(submitted["monthsAfterArrival"])
    except ValueError:
        months = None
    if months is None or not GRAPHQL_INT[0] <= months <= GRAPHQL_INT[1]:
        problems.append({"field": "input.monthsAfterArrival", "message": t("followup.bad_choice")})
    for name, (_label, _words, choices) in INDICATORS.items():
        if submitted[name] and submitted[name] not in choices:
            problems.append({"field": f"input.{name}", "message": t("followup.bad_choice")})
    return months, problems


def visit_error(problems: list[Problem], t: Translator) -> dict[str, Any]:
    return {"__typename": "ValidationError", "message": t("followup.check"), "fields": problems}


RETURN_TYPES = ["VOLUNTARY", "MANDATORY", "FORCED"]
AGE_BANDS = ["AGE_0_2", "AGE_3_5", "AGE_6_14", "AGE_15_17"]
CATEGORIES = ["NEEDS", "HOUSEHOLD", "HEALTH", "CONTACT", "DOCUMENTS", "NOTES"]
DECLINE_REASONS = ["NOT_ELIGIBLE", "NO_CAPACITY", "OUTSIDE_AREA", "SERVICE_NOT_OFFERED", "OTHER"]
OUTCOMES = [
    "GOT_HELP",
    "NOT_ELIGIBLE",
    "NO_CAPACITY",
    "COULD_NOT_CONTACT",
    "DECLINED_BY_RETURNEE",
    "REFERRED_ELSEWHERE",
    "MOVED_AWAY",
]


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return -1  # the API says what is wrong with it


async def _new_form(
    request: Request,
    session: WebSession,
    *,
    service_id: str,
    destination: str,
    values: dict[str, Any],
    searched: bool = False,
    error: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The form; `searched` when values["needs"] are the needs the search asked for, to be
    ticked where the service answers them."""
    data = await run(
        request, session, NEW_FORM, {"service": service_id, "destination": destination}
    )
    if data["service"] is None or data["area"] is None:
        return render(
            request,
            session,
            "message.html",
            status_code=404,
            title="notfound.title",
            text=None,
        )
    if searched:
        broader = {n["code"]: (n["broader"] or {}).get("code") for n in data["needs"]}
        values = values | {
            "needs": answering_needs(data["service"]["needs"], values["needs"], broader)
        }
    t = translator(API_LANGUAGE[session.lang])
    return render(
        request,
        session,
        "referral_new.html",
        status_code=status_code,
        service=data["service"],
        destination=data["area"],
        values=values,
        perror=page_error(error, t, REFERRAL_FIELDS),
        return_types=RETURN_TYPES,
        age_bands=AGE_BANDS,
        language_choices=language_choices(t.locale, values["languages"]),
    )


@router.get("/referrals/new")
async def new_referral(request: Request, service: str, destination: str) -> Response:
    session = await page_session(request)
    case = request.query_params.get("case", "")
    values = {
        "needs": request.query_params.getlist("needs"),
        "return_type": "VOLUNTARY",
        # From a case the household comes from the case unless typed here.
        "adults": "" if case else "1",
        "children": [],
        "children_counts": {},
        "languages": chosen_languages(request.query_params.getlist("languages")),
        "case_reference": case,
        "planned_arrival": "",
        "note": "",
        "contact": "",
        "health": "",
    }
    return await _new_form(
        request, session, service_id=service, destination=destination, values=values, searched=True
    )


@router.post("/referrals")
async def create_referral(request: Request) -> Response:
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))

    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    values: dict[str, Any] = {
        "needs": [str(v) for v in form.getlist("needs")],
        "return_type": text("return_type"),
        "adults": text("adults"),
        "children": [str(v) for v in form.getlist("children")],
        "languages": [str(v) for v in form.getlist("languages")],
        "case_reference": text("case_reference"),
        "planned_arrival": text("planned_arrival"),
        "note": text("note"),
        "contact": text("contact"),
        "health": text("health"),
    }
    children: list[str] = []
    for band in AGE_BANDS:
        children += [band] * max(0, _int(text(f"children_{band}"), 0))
    values["children_counts"] = {b: text(f"children_{b}") for b in AGE_BANDS}
    # A referral of a case with the household left empty takes the case's household.
    from_case = bool(values["case_reference"]) and not text("adults") and not children
    referral_input = {
        "serviceId": text("service"),
        "destination": text("destination"),
        "needs": values["needs"],
        "returnType": values["return_type"] or "VOLUNTARY",
        "household": None
        if from_case
        else {"adults": _int(text("adults"), 1), "children": children},
        "languages": values["languages"],
        "caseReference": values["case_reference"] or None,
        "plannedArrival": values["planned_arrival"] or None,
        "note": values["note"] or None,
        "contact": values["contact"] or None,
        "health": values["health"] or None,
    }
    result = (await run(request, session, CREATE, {"input": referral_input}))["createReferral"]
    error = typed_error(result)
    if error is not None:
        return await _new_form(
            request,
            session,
            service_id=text("service"),
            destination=text("destination"),
            values=values,
            error=error,
            status_code=422,
        )
    return see_other(session, f"/app/referrals/{result['referral']['id']}")


def carried_categories(referral: dict[str, Any]) -> list[str]:
    """The data categories this referral holds, which the consent must cover."""
    carried = ["NEEDS", "HOUSEHOLD"]
    if referral["health"]:
        carried.append("HEALTH")
    if referral["contact"]:
        carried.append("CONTACT")
    if referral["documents"]:
        carried.append("DOCUMENTS")
    if referral["note"]:
        carried.append("NOTES")
    return carried


def _today(request: Request) -> date:
    """Today by the application's clock, the one the API judges visit dates by."""
    today: date = request.app.state.clock().date()
    return today


def _follow_up_form(
    request: Request,
    session: WebSession,
    referral: dict[str, Any],
    submitted: dict[str, str] | None,
    error: dict[str, Any] | None,
) -> dict[str, Any] | None:
    """The follow-up form's content, or None for a viewer or a referral the API would refuse
    it for (the policy's rule for the route, and the statuses graph.referrals accepts)."""
    if (
        referral["viewerSide"] is None
        or referral["status"] not in {s.name for s in FOLLOW_UP_STATUSES}
        or not allowed(request, session, FOLLOW_UP_ROUTE)
    ):
        return None
    months = list(request.app.state.settings.follow_up_months)
    recorded = {f["monthsAfterArrival"] for f in referral["followUps"]}
    # The first visit due, else the first not recorded yet.
    first = referral["followUpsDue"] or [m for m in months if m not in recorded] or months
    values = {
        "monthsAfterArrival": str(first[0] if first else 0),
        "visitedOn": _today(request).isoformat(),
    }
    errors: dict[str, str] = {}
    unplaced: list[dict[str, Any]] = []
    for problem in (error or {}).get("fields") or []:
        name = str(problem["field"]).removeprefix("input.")
        if name in FOLLOW_UP_FIELDS:
            errors[name] = problem["message"]
        else:
            unplaced.append(problem)
    return {
        "months": sorted(set(months) | set(referral["followUpsDue"])),
        "indicators": INDICATORS,
        "values": values | (submitted or {}),
        "error": error,
        "errors": errors,
        "unplaced": unplaced,
    }


async def _detail(
    request: Request,
    session: WebSession,
    referral_id: str,
    *,
    error: dict[str, Any] | None = None,
    follow_up: dict[str, str] | None = None,
    follow_up_error: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    referral = (await run(request, session, READ, {"id": referral_id}))["referral"]
    if referral is None:
        return render(
            request, session, "message.html", status_code=404, title="notfound.title", text=None
        )
    receiver = referral["receivingOrganisation"]
    consent = next(
        (
            c
            for c in referral["consents"]
            if c["valid"] and receiver and c["recipient"] and c["recipient"]["id"] == receiver["id"]
        ),
        None,
    )
    parties = [o for o in (referral["fromOrganisation"], receiver) if o]
    form = _follow_up_form(request, session, referral, follow_up, follow_up_error)
    if form is None and follow_up_error is not None:
        # The referral moved on meanwhile (cancelled, say): the API's refusal shows on top.
        error = follow_up_error
    return render(
        request,
        session,
        "referral.html",
        status_code=status_code,
        referral=referral,
        consent=consent,
        carried=carried_categories(referral),
        categories=CATEGORIES,
        consent_until=(date.today() + timedelta(days=365)).isoformat(),
        decline_reasons=DECLINE_REASONS,
        outcomes=OUTCOMES,
        error=error,
        follow_up=form,
        indicators=INDICATORS,
        organisation_names={o["id"]: o["name"] for o in parties},
        saved=request.query_params.get("saved"),
    )


@router.get("/referrals/{referral_id}")
async def referral_page(request: Request, referral_id: str) -> Response:
    session = await page_session(request)
    return await _detail(request, session, referral_id)


@router.post("/referrals/{referral_id}/consent")
async def grant_consent(
    request: Request,
    referral_id: str,
    purpose: Annotated[str, Form()],
    evidence: Annotated[str, Form()],
    expires: Annotated[str, Form()],
    categories: Annotated[list[str] | None, Form()] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    session = await page_session(request)
    check_form(request, session, csrf)
    consent_input = {
        "referralId": referral_id,
        "categories": categories or [],
        "purpose": purpose,
        "evidenceReference": evidence,
        "expiresOn": expires or None,
    }
    result = (await run(request, session, CONSENT, {"input": consent_input}))["grantConsent"]
    error = typed_error(result)
    if error is not None:
        return await _detail(request, session, referral_id, error=error, status_code=422)
    return see_other(session, f"/app/referrals/{referral_id}?saved=1")


@router.post("/referrals/{referral_id}/action")
async def referral_step(
    request: Request,
    referral_id: str,
    action: Annotated[str, Form()],
    version: Annotated[int | None, Form()] = None,
    note: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    session = await page_session(request)
    check_form(request, session, csrf)
    error: dict[str, Any] | None
    if action not in STEPS:
        error = {"__typename": "ValidationError", "message": f"unknown step {action!r}"}
        return await _detail(request, session, referral_id, error=error, status_code=422)
    field, extra = STEPS[action]
    variables: dict[str, Any] = {"id": referral_id, "note": note.strip() or None}
    variables["version"] = version
    if extra:
        variables[extra] = {"reason": reason, "outcome": outcome}[extra] or None
    if extra and variables[extra] is None:
        error = {"__typename": "ValidationError", "message": f"choose a {extra}"}
        return await _detail(request, session, referral_id, error=error, status_code=422)
    result = (await run(request, session, STEP_MUTATIONS[action], variables))[field]
    error = typed_error(result)
    if error is not None:
        status = 409 if error["__typename"] == "VersionConflictError" else 422
        return await _detail(request, session, referral_id, error=error, status_code=status)
    return see_other(session, f"/app/referrals/{referral_id}?saved=1")


@router.post("/referrals/{referral_id}/follow-up")
async def record_follow_up(request: Request, referral_id: str) -> Response:
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    submitted = {name: str(form.get(name, "")).strip() for name in FOLLOW_UP_FIELDS}
    t = translator(API_LANGUAGE[session.lang])
    months, problems = visit_problems(submitted, t)
    error: dict[str, Any] | None
    if problems:
        error = visit_error(problems, t)
    else:
        visit: dict[str, Any] = {
            "referralId": referral_id,
            "monthsAfterArrival": months,
            "visitedOn": submitted["visitedOn"],
            "note": submitted["note"] or None,
        }
        visit |= {name: submitted[name] or None for name in INDICATORS}
        result = (await run(request, session, FOLLOW_UP, {"input": visit}))["recordFollowUp"]
        error = typed_error(result)
    if error is not None:
        return await _detail(
            request,
            session,
            referral_id,
            follow_up=submitted,
            follow_up_error=error,
            status_code=422,
        )
    return see_other(session, f"/app/referrals/{referral_id}?saved=follow-up")


def overdue_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Overdue referrals first, then the most recently changed."""
    by_recent = sorted(rows, key=lambda r: r["updatedAt"], reverse=True)
    return sorted(by_recent, key=lambda r: not r["overdue"])


async def _list(request: Request, session: WebSession, side: str, title: str) -> Response:
    data = await run(request, session, LIST, {"side": side})
    return render(
        request,
        session,
        "referrals.html",
        title=title,
        side=side,
        rows=overdue_first(data["all"]["nodes"]),
        due=data["due"]["nodes"],
    )


@router.get("/referrals")
async def my_referrals(request: Request) -> Response:
    session = await page_session(request)
    return await _list(request, session, "SENDER", "referrals.title")


@router.get("/incoming")
async def incoming_referrals(request: Request) -> Response:
    session = await page_session(request)
    return await _list(request, session, "RECEIVER", "referrals.incoming")
