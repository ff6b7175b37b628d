"""The partner's organisation: its services, a form to add or edit one, and the one-click
"still correct" verification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from core.i18n import Translator, translator
from graph.users import Role
from web.duplicates import evidence_lines
from web.errors import page_error
from web.languages import language_choices
from web.pages import render, run, see_other, typed_error
from web.session import API_LANGUAGE, PageForbidden, WebSession, check_form, page_session
from web.sites import (
    SITE_FIELDS,
    SentSites,
    SiteRow,
    posted_rows,
    renumber,
    rows_of,
    sent_sites,
    week,
    weekday_names,
)

router = APIRouter()

ME = "query Me { me { displayName memberships { organisationId role } } }"

ORGANISATION = """
query Organisation($id: ID!) {
  organisation(id: $id) {
    id name acronym countryCode
    services(first: 100) {
      nodes {
        id name status capacity capacityNote freshness lastVerifiedAt version restriction
        needs { label }
        coverage { name }
      }
    }
  }
}
"""

FORM_DATA = """
query ServiceForm($country: ID!) {
  needs { code label broader { code } }
  targetGroups { code label }
  country: area(id: $country) { id name }
  areas(parentId: $country, first: 100) { nodes { id name } }
}
"""

SERVICE = """
query Service($id: ID!) {
  service(id: $id) {
    id name description status delivery languages eligibilityDescription minimumAge maximumAge
    sendingCountries returnTypes feesDescription referralMethod expectedResponseDays
    capacity capacityNote version phone email
    organisation { id countryCode }
    needs { code }
    targetGroups { code }
    coverage { id }
    programmes { id }
    locations {
      id name address point { lat lon } pointApproximate area { id name }
      openingHours { weekday opens closes }
    }
  }
}
"""

RESULT = """
    __typename
    ... on ServicePayload { service { id } }
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
    ... on VersionConflictError { message currentVersion }
    ... on PossibleDuplicatesError {
      message candidates { id name evidence { field value similarity weight } }
    }
"""

# The duplicate check runs unless the person, shown its candidates, says why this is another
# service.
REGISTER = (
    "mutation Register($input: ServiceInput!, $confirm: Boolean!, $reason: String) {"
    " registerService(input: $input, confirmNotDuplicate: $confirm,"
    " notDuplicateReason: $reason) {" + RESULT + "} }"
)
CANDIDATE = """
query Candidate($id: ID!) {
  service(id: $id) { id name organisation { id name } coverage { id name } }
}
"""
UPDATE = (
    "mutation Update($id: ID!, $version: Int!, $input: ServiceInput!) {"
    " updateService(id: $id, expectedVersion: $version, input: $input) {" + RESULT + "} }"
)
VERIFY = "mutation Verify($id: ID!) { verifyService(id: $id) {" + RESULT + "} }"
CAPACITY = (
    "mutation Capacity($id: ID!, $capacity: Capacity!, $note: String) {"
    " setServiceCapacity(id: $id, capacity: $capacity, note: $note) {" + RESULT + "} }"
)

# Where the API's problems with a ServiceInput show on the form: (form field, message).
SERVICE_FIELDS = {
    "name": ("name", "error.service.name"),
    "description": ("description", "error.text"),
    "needs": ("needs", "error.service.needs"),
    "covers": ("covers", "error.service.covers"),
    "targetGroups": ("target_groups", "error.choose"),
    "languages": ("languages", "error.languages"),
    "eligibilityDescription": ("eligibility", "error.text"),
    "capacity": ("capacity", "error.choose"),
    "capacityNote": ("capacity_note", "error.text"),
    "delivery": ("delivery", "error.service.delivery"),
    "expectedResponseDays": ("expected_response_days", "error.service.response_days"),
    "notDuplicateReason": ("not_duplicate_reason", "error.text"),
    "phone": ("phone", "error.org.phone"),
    "email": ("email", "error.org.email"),
    # A site named by an in-person service: none given and no area covered either.
    "locations": ("site-0-area", "error.site.needed"),
    **SITE_FIELDS,
}

CAPACITIES = ["AVAILABLE", "LIMITED", "FULL", "UNKNOWN"]
DELIVERY = ["IN_PERSON", "REMOTE", "OUTREACH"]


async def own_organisation(request: Request, session: WebSession) -> str:
    """The organisation this partner maintains (`?org=` picks one of several)."""
    me = (await run(request, session, ME))["me"]
    mine = [
        m["organisationId"]
        for m in me["memberships"]
        if m["role"] in {Role.PARTNER.name, Role.ADMIN.name}
    ]
    chosen = request.query_params.get("org")
    # An admin keeps any organisation's record (the API lets them); the list of organisations
    # on the admins' page links here with `?org=`.
    admin = any(m["role"] == Role.ADMIN.name for m in me["memberships"])
    if chosen in mine or (chosen and admin):
        return str(chosen)
    if not mine:
        raise PageForbidden("you maintain no organisation's services")
    return str(mine[0])


CONTACTS = """
query Contacts($id: ID!) {
  organisation(id: $id) { id name acronym description website email phone version }
}
"""
UPDATE_ORGANISATION = """
mutation UpdateOrganisation($id: ID!, $version: Int!, $input: OrganisationContactsInput!) {
  updateOrganisation(id: $id, expectedVersion: $version, input: $input) {
    __typename
    ... on OrganisationPayload { organisation { id } }
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
    ... on VersionConflictError { message currentVersion }
  }
}
"""
CONTACT_FIELDS = ["name", "acronym", "description", "website", "email", "phone"]
# Where the API's problems with an OrganisationContactsInput show: (form field, message).
ORGANISATION_FIELDS = {
    "name": ("name", "error.service.name"),
    "acronym": ("acronym", "error.org.acronym"),
    "description": ("description", "error.text"),
    "website": ("website", "error.org.website"),
    "email": ("email", "error.org.email"),
    "phone": ("phone", "error.org.phone"),
}


@router.get("/organisation/edit")
async def edit_organisation(request: Request) -> Response:
    session = await page_session(request)
    organisation_id = await own_organisation(request, session)
    data = await run(request, session, CONTACTS, {"id": organisation_id})
    return _contacts_form(request, session, data["organisation"], error=None)


def _contacts_form(
    request: Request,
    session: WebSession,
    organisation: dict[str, Any],
    *,
    error: dict[str, Any] | None,
    status_code: int = 200,
) -> Response:
    t = translator(API_LANGUAGE[session.lang])
    return render(
        request,
        session,
        "organisation_form.html",
        status_code=status_code,
        organisation=organisation,
        fields=CONTACT_FIELDS,
        perror=page_error(error, t, ORGANISATION_FIELDS),
    )


@router.post("/organisation/edit")
async def save_organisation(request: Request) -> Response:
    session = await page_session(request)
    organisation_id = await own_organisation(request, session)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    values = {name: str(form.get(name, "")).strip() or None for name in CONTACT_FIELDS}
    values["name"] = values["name"] or ""
    version = str(form.get("version", ""))
    variables = {
        "id": organisation_id,
        "version": int(version) if version.isdigit() else 0,
        "input": values,
    }
    result = (await run(request, session, UPDATE_ORGANISATION, variables))["updateOrganisation"]
    error = typed_error(result)
    if error is not None:
        shown = {"id": organisation_id, "version": version} | values
        if error["__typename"] == "VersionConflictError":
            current = await run(request, session, CONTACTS, {"id": organisation_id})
            shown["version"] = current["organisation"]["version"]
        status = 409 if error["__typename"] == "VersionConflictError" else 422
        return _contacts_form(request, session, shown, error=error, status_code=status)
    return see_other(session, f"/app/organisation?org={organisation_id}&saved=1")


@router.get("/organisation")
async def organisation_page(request: Request) -> Response:
    session = await page_session(request)
    organisation_id = await own_organisation(request, session)
    return await _organisation(request, session, organisation_id)


async def _organisation(
    request: Request,
    session: WebSession,
    organisation_id: str,
    *,
    capacity_problem: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """`capacity_problem`: the service whose capacity could not be saved, the note typed
    and the problem in words, to show beside that service's switch."""
    data = await run(request, session, ORGANISATION, {"id": organisation_id})
    return render(
        request,
        session,
        "organisation.html",
        status_code=status_code,
        organisation=data["organisation"],
        capacities=CAPACITIES,
        capacity_problem=capacity_problem,
        saved=request.query_params.get("saved") == "1",
    )


def _blank(organisation_id: str) -> dict[str, Any]:
    return {
        "id": None,
        "version": None,
        "organisation": {"id": organisation_id},
        "name": "",
        "description": "",
        "needs": [],
        "coverage": [],
        "targetGroups": [],
        "languages": [],
        "eligibilityDescription": "",
        "capacity": "UNKNOWN",
        "capacityNote": "",
        "delivery": ["IN_PERSON"],
        "expectedResponseDays": None,
        "phone": "",
        "email": "",
        "locations": [],
    }


async def _form(
    request: Request,
    session: WebSession,
    service: dict[str, Any],
    country: str,
    *,
    error: dict[str, Any] | None = None,
    status_code: int = 200,
    reason: str = "",
    sites: list[SiteRow] | None = None,
) -> Response:
    from web.search import need_options

    data = await run(request, session, FORM_DATA, {"country": country})
    areas = ([data["country"]] if data["country"] else []) + data["areas"]["nodes"]
    # A site may lie in an area the list does not offer (a settlement, another country).
    site_areas = {a["id"]: a["name"] for a in areas} | {
        loc["area"]["id"]: loc["area"]["name"]
        for loc in service.get("locations") or []
        if loc.get("area")
    }
    t = translator(API_LANGUAGE[session.lang])
    perror = page_error(error, t, SERVICE_FIELDS)
    if perror is not None and reason == "" and error and error.get("reasonMissing"):
        perror["fields"]["not_duplicate_reason"] = t("error.service.not_duplicate_reason")
    return render(
        request,
        session,
        "service_form.html",
        status_code=status_code,
        service=service,
        selected={
            "needs": {n["code"] for n in service["needs"]},
            "coverage": {a["id"] for a in service["coverage"]},
            "targetGroups": {g["code"] for g in service["targetGroups"]},
        },
        need_groups=need_options(data["needs"]),
        target_groups=data["targetGroups"],
        areas=[{"code": a["id"], "label": a["name"]} for a in areas],
        capacities=CAPACITIES,
        delivery_modes=DELIVERY,
        perror=perror,
        language_choices=language_choices(t.locale, service["languages"]),
        duplicates=await _candidates(request, session, error, t, data),
        reason=reason,
        sites=sites if sites is not None else rows_of(service["locations"]),
        site_areas=sorted(site_areas.items(), key=lambda a: a[1].casefold()),
        weekdays=weekday_names(t.locale),
    )


async def _candidates(
    request: Request,
    session: WebSession,
    error: dict[str, Any] | None,
    t: Translator,
    form_data: dict[str, Any],
) -> list[dict[str, Any]]:
    """The services the duplicate check found, with their organisation and the evidence in
    the page's language."""
    if error is None or error["__typename"] != "PossibleDuplicatesError":
        return []
    names = {n["code"]: n["label"] for n in form_data["needs"]}
    names |= {g["code"]: g["label"] for g in form_data["targetGroups"]}
    names |= {a["id"]: a["name"] for a in form_data["areas"]["nodes"]}
    if form_data["country"]:
        names[form_data["country"]["id"]] = form_data["country"]["name"]
    found = []
    for candidate in error["candidates"]:
        service = (await run(request, session, CANDIDATE, {"id": candidate["id"]}))["service"]
        organisation = service["organisation"] if service else None
        if service is not None:
            names |= {a["id"]: a["name"] for a in service["coverage"]}
        if organisation is not None:
            names[organisation["id"]] = organisation["name"]
        found.append({"candidate": candidate, "organisation": organisation})
    return [
        {
            "id": f["candidate"]["id"],
            "name": f["candidate"]["name"],
            "organisation": f["organisation"]["name"] if f["organisation"] else "",
            "evidence": evidence_lines(f["candidate"]["evidence"], t, names),
        }
        for f in found
    ]


async def _country_of(request: Request, session: WebSession, organisation_id: str) -> str:
    data = await run(request, session, ORGANISATION, {"id": organisation_id})
    if data["organisation"] is None:
        raise PageForbidden("your organisation is not in the directory")
    return str(data["organisation"]["countryCode"])


@router.get("/services/new")
async def new_service(request: Request) -> Response:
    session = await page_session(request)
    organisation_id = await own_organisation(request, session)
    country = await _country_of(request, session, organisation_id)
    return await _form(request, session, _blank(organisation_id), country)


async def _service(request: Request, session: WebSession, service_id: str) -> dict[str, Any]:
    service: dict[str, Any] | None = (await run(request, session, SERVICE, {"id": service_id}))[
        "service"
    ]
    if service is None:
        raise PageForbidden("no such service")
    return service


@router.get("/services/{service_id}/edit")
async def edit_service(request: Request, service_id: str) -> Response:
    session = await page_session(request)
    service = await _service(request, session, service_id)
    return await _form(request, session, service, service["organisation"]["countryCode"])


def service_input(
    form: FormData, kept: dict[str, Any] | None, organisation_id: str, sites: SentSites
) -> Any:
    """The ServiceInput of the form. An edit replaces the whole description, so what the
    form does not show (programmes, age limits, fees...) is carried over as it was."""

    def text(name: str) -> str | None:
        value = str(form.get(name, "")).strip()
        return value or None

    days = text("expected_response_days")
    values: dict[str, Any] = {
        "organisationId": organisation_id,
        "name": text("name") or "",
        "description": text("description"),
        "needs": [str(v) for v in form.getlist("needs")],
        "covers": [str(v) for v in form.getlist("covers")],
        "targetGroups": [str(v) for v in form.getlist("target_groups")],
        "languages": [str(v) for v in form.getlist("languages")],
        "eligibilityDescription": text("eligibility"),
        "capacity": text("capacity"),
        "capacityNote": text("capacity_note"),
        "delivery": [str(v) for v in form.getlist("delivery")],
        "expectedResponseDays": int(days) if days and days.isdigit() else None,
        "phone": text("phone"),
        "email": text("email"),
        "locations": sites.locations,
    }
    if kept is not None:
        values |= {
            "status": kept["status"],
            "minimumAge": kept["minimumAge"],
            "maximumAge": kept["maximumAge"],
            "sendingCountries": kept["sendingCountries"],
            "returnTypes": kept["returnTypes"],
            "feesDescription": kept["feesDescription"],
            "referralMethod": kept["referralMethod"],
            "programmes": [p["id"] for p in kept["programmes"]],
        }
    return values


def _as_shown(values: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
    """What the person typed, in the shape the form template reads, to show it again."""
    return kept | {
        "name": values["name"],
        "description": values["description"] or "",
        "needs": [{"code": c} for c in values["needs"]],
        "coverage": [{"id": a} for a in values["covers"]],
        "targetGroups": [{"code": c} for c in values["targetGroups"]],
        "languages": values["languages"],
        "eligibilityDescription": values["eligibilityDescription"] or "",
        "capacity": values["capacity"] or "UNKNOWN",
        "capacityNote": values["capacityNote"] or "",
        "delivery": values["delivery"],
        "expectedResponseDays": values["expectedResponseDays"],
        "phone": values["phone"] or "",
        "email": values["email"] or "",
    }


async def _save(
    request: Request,
    session: WebSession,
    *,
    kept: dict[str, Any] | None,
    organisation_id: str,
    country: str,
) -> Response:
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    rows = posted_rows(form)
    sites = sent_sites(rows)
    values = service_input(form, kept, organisation_id, sites)
    reason = str(form.get("not_duplicate_reason", "")).strip()
    shown = _as_shown(values, kept or _blank(organisation_id))
    if form.get("add_site") == "1" or sites.problems:
        # Another blank site asked for, or coordinates that are no numbers: nothing is sent,
        # the form comes back as it was filled in.
        error = None
        if sites.problems:
            problems = [{"field": path, "message": m} for path, m in sites.problems]
            error = {"__typename": "ValidationError", "fields": problems}
        return await _form(
            request,
            session,
            shown,
            country,
            error=renumber(error, sites) if error else None,
            status_code=422 if error else 200,
            reason=reason,
            sites=[*rows, *([SiteRow(hours=week([]))] if not error else [])],
        )
    # "Register anyway" counts only with the reason the reviewers will read.
    asked = form.get("confirm_not_duplicate") == "1"
    if kept is None:
        variables: dict[str, Any] = {
            "input": values,
            "confirm": asked and reason != "",
            "reason": reason or None,
        }
        field, result = "registerService", await run(request, session, REGISTER, variables)
    else:
        variables = {
            "id": kept["id"],
            "version": int(str(form.get("version", "0"))),
            "input": values,
        }
        field, result = "updateService", await run(request, session, UPDATE, variables)
    error = typed_error(result[field])
    if error is not None:
        status = 409 if error["__typename"] == "VersionConflictError" else 422
        error = renumber(error, sites) | {"reasonMissing": asked and reason == ""}
        return await _form(
            request,
            session,
            shown,
            country,
            error=error,
            status_code=status,
            reason=reason,
            sites=rows,
        )
    return see_other(session, f"/app/organisation?org={organisation_id}&saved=1")


@router.post("/services")
async def register_service(request: Request) -> Response:
    session = await page_session(request)
    organisation_id = await own_organisation(request, session)
    country = await _country_of(request, session, organisation_id)
    return await _save(
        request, session, kept=None, organisation_id=organisation_id, country=country
    )


@router.post("/services/{service_id}")
async def update_service(request: Request, service_id: str) -> Response:
    session = await page_session(request)
    kept = await _service(request, session, service_id)
    return await _save(
        request,
        session,
        kept=kept,
        organisation_id=kept["organisation"]["id"],
        country=kept["organisation"]["countryCode"],
    )


@router.post("/services/{service_id}/verify")
async def verify_service(request: Request, service_id: str) -> Response:
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    result = (await run(request, session, VERIFY, {"id": service_id}))["verifyService"]
    error = typed_error(result)
    if error is not None:
        raise PageForbidden(error["message"])
    org = str(form.get("org", ""))
    return see_other(session, f"/app/organisation?org={org}&saved=1")


@router.post("/services/{service_id}/capacity")
async def set_capacity(request: Request, service_id: str) -> Response:
    """The switch beside each service on the organisation page: how much it can take on now,
    with a note; nothing else of the service changes (no edit, no version conflict)."""
    session = await page_session(request)
    organisation_id = await own_organisation(request, session)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    capacity = str(form.get("capacity", ""))
    note = str(form.get("capacity_note", "")).strip()
    t = translator(API_LANGUAGE[session.lang])
    problem = None
    if capacity not in CAPACITIES:
        problem = t("error.choose")
    else:
        variables = {"id": service_id, "capacity": capacity, "note": note or None}
        result = (await run(request, session, CAPACITY, variables))["setServiceCapacity"]
        error = typed_error(result)
        if error is not None and error["__typename"] == "ValidationError":
            problem = t("error.text")
        elif error is not None:
            raise PageForbidden(error["message"])
    if problem is not None:
        shown = {"service": service_id, "note": note, "message": problem}
        return await _organisation(
            request, session, organisation_id, capacity_problem=shown, status_code=422
        )
    return see_other(
        session, f"/app/organisation?org={organisation_id}&saved=1#service-{service_id}"
    )
