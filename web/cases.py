"""Return cases on the web: opening and editing a case, one case with its household,
consent, documents, referrals and timeline of changes and visits; changing its phase or the
household's whereabouts, recording, extending and revoking its one consent, "refer to another
service" from it (the search and the referral form pre-filled with the case), and "record a
visit". Every form goes through the GraphQL mutations, as any other client does.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.errors import ValidationFailed
from core.i18n import Translator, translator
from graph.cases import DocumentType, MemberAge, MemberRole, Phase, Whereabouts
from graph.pagination import decode_cursor
from graph.referrals import DataCategory
from web.pages import allowed, render, run, see_other, typed_error
from web.referrals import INDICATORS, RETURN_TYPES, visit_error, visit_problems
from web.search import PLACES, language_codes, vocabulary
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
    responsibleUserId programmes { id } targetGroups { code }
    consents { id categories expiresOn valid revokedAt recipients { id name } }
    events { at actor action phase whereabouts note destination { name } }
    followUps {
      id monthsAfterArrival visitedOn whereabouts employment schooling healthCareAccess
      housing feelsSafe intendsToLeave economic social psychosocial note recordedAt
    }
    reintegration { dimension score }
    referrals {
      id reference status overdue
      service { name } receivingOrganisation { id name } needs { code label }
    }
  }
}
"""

VISIT = """
mutation Visit($input: CaseFollowUpInput!) {
  recordCaseFollowUp(input: $input) {
    __typename
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
    ... on VersionConflictError { message }
  }
}
"""

RESULT = """
    __typename
    ... on ReturnCasePayload { returnCase { id } }
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
    ... on VersionConflictError { message currentVersion }
"""
OPEN = (
    "mutation Open($input: OpenReturnCaseInput!) { openReturnCase(input: $input) {" + RESULT + "} }"
)
UPDATE = (
    "mutation Update($id: ID!, $input: ReturnCaseInput!, $version: Int) {"
    " updateReturnCase(id: $id, input: $input, expectedVersion: $version) {" + RESULT + "} }"
)
STATUS = (
    "mutation Status($input: CaseStatusInput!) { recordCaseStatus(input: $input) {" + RESULT + "} }"
)
CONSENT_RESULT = """
    __typename
    ... on ConsentPayload { consent { id } }
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
"""
CONSENT_MUTATIONS = {
    "grant": (
        "grantCaseConsent",
        "mutation Grant($input: CaseConsentInput!) { grantCaseConsent(input: $input) {"
        + CONSENT_RESULT
        + "} }",
    ),
    "extend": (
        "extendCaseConsent",
        "mutation Extend($input: CaseConsentRecipientsInput!) {"
        " extendCaseConsent(input: $input) {" + CONSENT_RESULT + "} }",
    ),
    "revoke": (
        "revokeCaseConsent",
        "mutation Revoke($id: ID!) { revokeCaseConsent(id: $id) {" + CONSENT_RESULT + "} }",
    ),
}

WHEREABOUTS = [w.name for w in Whereabouts]
PHASES = [p.name for p in Phase]
ROLES = [r.name for r in MemberRole]
AGES = [a.name for a in MemberAge]
DOCUMENTS = [d.name for d in DocumentType]
DOCUMENT_STATES = ["REQUESTED", "AVAILABLE", "TRANSLATED", "RECOGNISED"]
CATEGORIES = [c.name for c in DataCategory]
VISIT_FIELDS = ["monthsAfterArrival", "visitedOn", "whereabouts", *INDICATORS, "note"]
VISIT_ROUTE = "POST /app/cases/{case_id}/visit"
# Empty member rows a form offers beyond the members already recorded.
SPARE_MEMBERS = 2


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
    failed: str = "",
    visit: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The case page; after a refused form, `failed` names it and `error` says why."""
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
    # Beside its fields only in the visit form; the other forms list what is wrong above.
    errors = {
        str(p["field"]).removeprefix("input."): p["message"]
        for p in (error or {}).get("fields") or []
        if failed == "visit"
    }
    owner = case["viewerSide"] == "OWNER"
    refer = None
    if owner and allowed(request, session, "GET /app/referrals/new"):
        refer = [
            ("place", case["destination"]["name"] if case["destination"] else ""),
            *[("needs", n["code"]) for n in case["needs"]],
            *[("needs", n["code"]) for m in case["members"] for n in m["needs"]],
            ("languages", ", ".join(case["languages"])),
            ("case", case["reference"]),
        ]
    valid = next((k for k in case["consents"] if k["valid"]), None)
    # Organisations a (not cancelled) referral of the case goes to: who a consent may name.
    receivers = {
        r["receivingOrganisation"]["id"]: r["receivingOrganisation"]["name"]
        for r in case["referrals"]
        if r["receivingOrganisation"] and r["status"] != "CANCELLED"
    }
    named = {o["id"] for o in valid["recipients"]} if valid else set()
    return render(
        request,
        session,
        "case.html",
        status_code=status_code,
        case=case,
        timeline=timeline(case),
        refer=list(dict.fromkeys(refer)) if refer is not None else None,
        can_visit=case["phase"] != "PREPARING" and allowed(request, session, VISIT_ROUTE),
        can_edit=owner and allowed(request, session, "GET /app/cases/{case_id}/edit"),
        can_status=case["phase"] != "CLOSED"
        and allowed(request, session, "POST /app/cases/{case_id}/status"),
        can_consent=owner and allowed(request, session, "POST /app/cases/{case_id}/consent"),
        months=sorted(set(months) | set(case["followUpsDue"])),
        whereabouts=WHEREABOUTS,
        phases=PHASES,
        indicators=INDICATORS,
        categories=CATEGORIES,
        valid_consent=valid,
        recipients=receivers,
        unnamed={k: v for k, v in receivers.items() if k not in named},
        consent_until=(today + timedelta(days=365)).isoformat(),
        values=values,
        failed=failed,
        error=error,
        errors=errors,
        saved=request.query_params.get("saved"),
    )


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
        return await _page(
            request,
            session,
            case_id,
            failed="visit",
            visit=submitted,
            error=error,
            status_code=422,
        )
    return see_other(session, f"/app/cases/{case_id}?saved=visit")


# A problem found here offers no suggestions, as the API's own may.
NONE: dict[str, Any] = {"suggestions": []}


async def _place(
    request: Request, session: WebSession, name: str, t: Translator
) -> tuple[str | None, dict[str, Any] | None]:
    """The area a place name (in any spelling) means, or the problem with it."""
    if not name:
        return None, {"field": "input.destination", "message": t("case.place_missing")} | NONE
    found = (await run(request, session, PLACES, {"name": name}))["areas"]["nodes"]
    if not found:
        return None, {"field": "input.destination", "message": t("case.place_unknown")} | NONE
    return str(found[0]["id"]), None


def _invalid(problem: dict[str, Any], t: Translator) -> dict[str, Any]:
    return {"__typename": "ValidationError", "message": t("case.check"), "fields": [problem]}


@router.post("/cases/{case_id}/status")
async def record_status(request: Request, case_id: str) -> Response:
    """A new phase (the owner) or whereabouts (also a receiving partner), with a note."""
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))

    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    t = translator(API_LANGUAGE[session.lang])
    change: dict[str, Any] = {
        "caseId": case_id,
        "phase": text("phase") if text("phase") in PHASES else None,
        "whereabouts": text("whereabouts") if text("whereabouts") in WHEREABOUTS else None,
        "note": text("note") or None,
        "expectedVersion": int(text("version")) if text("version").isdigit() else None,
    }
    error: dict[str, Any] | None = None
    if text("place"):
        change["destination"], problem = await _place(request, session, text("place"), t)
        if problem is not None:
            error = {
                "__typename": "ValidationError",
                "message": t("case.check"),
                "fields": [problem],
            }
    if error is None:
        result = (await run(request, session, STATUS, {"input": change}))["recordCaseStatus"]
        error = typed_error(result)
    if error is not None:
        status = 409 if error["__typename"] == "VersionConflictError" else 422
        return await _page(
            request, session, case_id, failed="status", error=error, status_code=status
        )
    return see_other(session, f"/app/cases/{case_id}?saved=status")


@router.post("/cases/{case_id}/consent")
async def case_consent(request: Request, case_id: str) -> Response:
    """The household's one consent: recorded, extended to further organisations, revoked."""
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    action = str(form.get("action", ""))
    recipients = [str(v) for v in form.getlist("recipients")]
    error: dict[str, Any] | None
    if action not in CONSENT_MUTATIONS:
        error = {"__typename": "ValidationError", "message": f"unknown action {action!r}"}
    else:
        field, mutation = CONSENT_MUTATIONS[action]
        variables: dict[str, Any]
        if action == "grant":
            variables = {
                "input": {
                    "caseId": case_id,
                    "recipients": recipients,
                    "categories": [str(v) for v in form.getlist("categories")],
                    "purpose": str(form.get("purpose", "")).strip(),
                    "evidenceReference": str(form.get("evidence", "")).strip(),
                    "expiresOn": str(form.get("expires", "")) or None,
                }
            }
        elif action == "extend":
            variables = {
                "input": {"consentId": str(form.get("consent", "")), "recipients": recipients}
            }
        else:
            variables = {"id": str(form.get("consent", ""))}
        error = typed_error((await run(request, session, mutation, variables))[field])
    if error is not None:
        return await _page(
            request, session, case_id, failed="consent", error=error, status_code=422
        )
    return see_other(session, f"/app/cases/{case_id}?saved=consent")


# --- opening and editing -----------------------------------------------------------------


def _form_values(case: dict[str, Any] | None) -> dict[str, Any]:
    """What the case form shows: a stored case, or an empty one."""
    if case is None:
        return {
            "return_type": "VOLUNTARY",
            "place": "",
            "file_number": "",
            "sending_country": "",
            "planned_arrival": "",
            "actual_arrival": "",
            "languages": "",
            "note": "",
            "members": [{"role": "", "age": "", "needs": []}] * 4,
            "documents": {},
            "version": "",
        }
    return {
        "return_type": case["returnType"],
        "place": case["destination"]["name"] if case["destination"] else "",
        "file_number": case["fileNumber"] or "",
        "sending_country": case["sendingCountry"] or "",
        "planned_arrival": case["plannedArrival"] or "",
        "actual_arrival": case["actualArrival"] or "",
        "languages": ", ".join(case["languages"]),
        "note": case["note"] or "",
        "members": [
            {"role": m["role"], "age": m["age"], "needs": [n["code"] for n in m["needs"]]}
            for m in case["members"]
        ]
        + [{"role": "", "age": "", "needs": []}] * SPARE_MEMBERS,
        "documents": {d["document"]: d["state"] for d in case["documents"]},
        "version": str(case["version"]),
    }


def _submitted(form: Any) -> dict[str, Any]:
    def text(name: str) -> str:
        return str(form.get(name, "")).strip()

    rows = int(text("member_rows")) if text("member_rows").isdigit() else 0
    return {
        "return_type": text("return_type"),
        "place": text("place"),
        "file_number": text("file_number"),
        "sending_country": text("sending_country"),
        "planned_arrival": text("planned_arrival"),
        "actual_arrival": text("actual_arrival"),
        "languages": text("languages"),
        "note": text("note"),
        "members": [
            {
                "role": text(f"member_{i}_role"),
                "age": text(f"member_{i}_age"),
                "needs": [str(v) for v in form.getlist(f"member_{i}_needs")],
            }
            for i in range(min(rows, 30))
        ],
        "documents": {d: text(f"document_{d}") for d in DOCUMENTS if text(f"document_{d}")},
        "version": text("version"),
    }


def _case_input(values: dict[str, Any], destination: str, kept: dict[str, Any]) -> dict[str, Any]:
    """The mutation's input from the form; what the form does not show (programmes, the
    responsible counsellor, the household's own needs) is `kept` as stored."""
    return {
        "returnType": values["return_type"] or "VOLUNTARY",
        "destination": destination,
        "fileNumber": values["file_number"] or None,
        "sendingCountry": values["sending_country"] or None,
        "plannedArrival": values["planned_arrival"] or None,
        "actualArrival": values["actual_arrival"] or None,
        "languages": language_codes(values["languages"]),
        "note": values["note"] or None,
        "members": [
            {"role": m["role"], "age": m["age"], "needs": m["needs"]}
            for m in values["members"]
            if m["role"] and m["age"]
        ],
        "documents": [{"document": d, "state": state} for d, state in values["documents"].items()],
    } | kept


async def _form(
    request: Request,
    session: WebSession,
    *,
    case: dict[str, Any] | None,
    values: dict[str, Any],
    error: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    words = await vocabulary(request, session)
    return render(
        request,
        session,
        "case_form.html",
        status_code=status_code,
        case=case,
        values=values,
        error=error,
        return_types=RETURN_TYPES,
        roles=ROLES,
        ages=AGES,
        documents=DOCUMENTS,
        document_states=DOCUMENT_STATES,
        need_groups=words["need_groups"],
        countries=words["countries"],
    )


@router.post("/cases")
async def open_case(request: Request) -> Response:
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    t = translator(API_LANGUAGE[session.lang])
    values = _submitted(form)
    destination, problem = await _place(request, session, values["place"], t)
    error: dict[str, Any] | None = None
    if problem is not None:
        error = _invalid(problem, t)
    else:
        assert destination is not None
        opened = await run(request, session, OPEN, {"input": _case_input(values, destination, {})})
        error = typed_error(opened["openReturnCase"])
    if error is not None:
        return await _form(request, session, case=None, values=values, error=error, status_code=422)
    return see_other(
        session, f"/app/cases/{opened['openReturnCase']['returnCase']['id']}?saved=opened"
    )


async def _stored(request: Request, session: WebSession, case_id: str) -> dict[str, Any] | None:
    case: dict[str, Any] | None = (await run(request, session, READ, {"id": case_id}))["returnCase"]
    return case if case is not None and case["viewerSide"] == "OWNER" else None


def _not_found(request: Request, session: WebSession) -> Response:
    return render(
        request, session, "message.html", status_code=404, title="notfound.title", text=None
    )


@router.get("/cases/{case_id}/edit")
async def edit_case(request: Request, case_id: str) -> Response:
    session = await page_session(request)
    case = await _stored(request, session, case_id)
    if case is None:
        return _not_found(request, session)
    return await _form(request, session, case=case, values=_form_values(case))


@router.post("/cases/{case_id}/edit")
async def update_case(request: Request, case_id: str) -> Response:
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    case = await _stored(request, session, case_id)
    if case is None:
        return _not_found(request, session)
    t = translator(API_LANGUAGE[session.lang])
    values = _submitted(form)
    was = case["destination"]
    error: dict[str, Any] | None = None
    destination: str | None = was["id"] if was else None
    if was is None or values["place"] != was["name"]:
        destination, problem = await _place(request, session, values["place"], t)
        if problem is not None:
            error = {
                "__typename": "ValidationError",
                "message": t("case.check"),
                "fields": [problem],
            }
    if error is None:
        assert destination is not None
        kept = {
            "programmes": [p["id"] for p in case["programmes"]],
            "needs": [n["code"] for n in case["needs"]],
            "targetGroups": [g["code"] for g in case["targetGroups"]],
            "responsibleUserId": case["responsibleUserId"],
        }
        variables = {
            "id": case_id,
            "input": _case_input(values, destination, kept),
            "version": int(values["version"]) if values["version"].isdigit() else None,
        }
        error = typed_error((await run(request, session, UPDATE, variables))["updateReturnCase"])
    if error is not None:
        status = 409 if error["__typename"] == "VersionConflictError" else 422
        return await _form(
            request, session, case=case, values=values, error=error, status_code=status
        )
    return see_other(session, f"/app/cases/{case_id}?saved=edited")


LIST = """
query Cases(
  $phase: [CasePhase!], $whereabouts: [Whereabouts!], $due: Boolean, $overdue: Boolean,
  $file: String, $after: String
) {
  returnCases(
    phase: $phase, whereabouts: $whereabouts, followUpsDue: $due, overdueReferrals: $overdue,
    fileNumber: $file, first: 50, after: $after
  ) {
    nodes {
      id reference fileNumber viewerSide phase whereabouts plannedArrival actualArrival
      followUpsDue destination { name } ownerOrganisation { name }
      referrals { status overdue }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
# Referrals still waiting for an answer or being worked on.
OPEN_STATUSES = frozenset({"SENT", "ACKNOWLEDGED", "ACCEPTED", "IN_PROGRESS"})


def _cursor(after: str | None) -> str | None:
    """The page's cursor, or None for the first page: an edited link starts over rather than
    failing."""
    try:
        datetime.fromisoformat(decode_cursor(after)[0]) if after else None
    except (ValidationFailed, ValueError):
        return None
    return after


@router.get("/cases")
async def case_list(request: Request) -> Response:
    """The cases the person's organisations own or receive referrals of, newest first, with
    the filters of `returnCases`; a value the form never offers is ignored, not refused."""
    session = await page_session(request)
    query = request.query_params
    chosen = {
        "phase": query.get("phase", "") if query.get("phase") in PHASES else "",
        "whereabouts": query.get("whereabouts", "")
        if query.get("whereabouts") in WHEREABOUTS
        else "",
        "file": query.get("file", "").strip()[:100],
        "due": query.get("due") == "1",
        "overdue": query.get("overdue") == "1",
    }
    variables = {
        "phase": [chosen["phase"]] if chosen["phase"] else None,
        "whereabouts": [chosen["whereabouts"]] if chosen["whereabouts"] else None,
        "due": True if chosen["due"] else None,
        "overdue": True if chosen["overdue"] else None,
        "file": chosen["file"] or None,
        "after": _cursor(query.get("after")),
    }
    found = (await run(request, session, LIST, variables))["returnCases"]
    rows = [
        case
        | {
            "open": sum(r["status"] in OPEN_STATUSES for r in case["referrals"]),
            "overdue": any(r["overdue"] for r in case["referrals"]),
        }
        for case in found["nodes"]
    ]
    kept = [(k, v) for k, v in query.multi_items() if k not in {"after", "lang"}]
    more = found["pageInfo"]
    return render(
        request,
        session,
        "cases.html",
        rows=rows,
        chosen=chosen,
        filtered=any(chosen.values()),
        phases=PHASES,
        whereabouts=WHEREABOUTS,
        next_page=urlencode([*kept, ("after", more["endCursor"])]) if more["hasNextPage"] else None,
        can_open=allowed(request, session, "GET /app/cases/new"),
    )


@router.get("/cases/new")
async def new_case(request: Request) -> Response:
    session = await page_session(request)
    return await _form(request, session, case=None, values=_form_values(None))


# After /cases/new, which it would otherwise take for a case id.
@router.get("/cases/{case_id}")
async def case_page(request: Request, case_id: str) -> Response:
    session = await page_session(request)
    return await _page(request, session, case_id)
