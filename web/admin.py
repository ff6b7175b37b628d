"""The admins' pages: the accounts (add one, give a one-time link to set a password, sign
someone out of every browser, disable and enable) and the organisations with their people.

Each action is a GraphQL mutation the access rules give to admins only, and audited there;
these pages only ask and show.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from core.i18n import translator
from graph.users import Role
from web.errors import page_error
from web.pages import render, run, see_other, typed_error
from web.session import API_LANGUAGE, WebSession, check_form, page_session

router = APIRouter()

USERS = """
query Users($after: String) {
  users(first: 100, after: $after) {
    nodes { id email displayName disabled demo memberships { organisationId role } }
    pageInfo { hasNextPage endCursor }
  }
  organisations(first: 100) { nodes { id name } }
}
"""

ERRORS = """
    ... on ValidationError { message fields { field message suggestions } }
    ... on NotFoundError { message }
    ... on ForbiddenError { message }
"""
CREATE = (
    "mutation Create($input: CreateUserInput!) { createUser(input: $input) {"
    " __typename ... on UserPayload { user { id } }" + ERRORS + "} }"
)
DISABLE = (
    "mutation Disable($id: ID!, $disabled: Boolean!) {"
    " setUserDisabled(id: $id, disabled: $disabled) {"
    " __typename ... on UserPayload { user { id } }" + ERRORS + "} }"
)
END_SESSIONS = (
    "mutation End($id: ID!) { endUserSessions(id: $id) {"
    " __typename ... on UserPayload { user { id } }" + ERRORS + "} }"
)
PASSWORD_LINK = (
    "mutation Link($id: ID!) { issuePasswordLink(userId: $id) {"
    " __typename ... on IssuedPasswordLink { url expiresAt }" + ERRORS + "} }"
)
INVITE = (
    "mutation Invite($id: ID!) { inviteUser(userId: $id) {"
    " __typename ... on InvitationPayload { user { id } }" + ERRORS + "} }"
)
USER = "query User($after: String) { users(first: 100, after: $after) { nodes { id email } } }"

# Where the API's problems with a CreateUserInput show on the form.
USER_FIELDS = {
    "email": ("email", "error.org.email"),
    "displayName": ("display_name", "error.text"),
    "organisationId": ("organisation", "error.choose"),
    "role": ("role", "error.choose"),
}
ROLES = [role.name for role in Role]
# What a finished action says at the top of the list (the `done` parameter).
DONE = {"created", "disabled", "enabled", "signed_out", "invited"}


async def _users_page(
    request: Request,
    session: WebSession,
    *,
    form: dict[str, str] | None = None,
    error: dict[str, Any] | None = None,
    issued: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    data = await run(request, session, USERS, {"after": request.query_params.get("after")})
    organisations = sorted(data["organisations"]["nodes"], key=lambda o: o["name"].casefold())
    names = {o["id"]: o["name"] for o in organisations}
    done = request.query_params.get("done")
    return render(
        request,
        session,
        "admin_users.html",
        status_code=status_code,
        users=data["users"]["nodes"],
        page=data["users"]["pageInfo"],
        organisations=organisations,
        organisation_names=names,
        roles=ROLES,
        form=form or {},
        perror=page_error(error, translator(API_LANGUAGE[session.lang]), USER_FIELDS),
        issued=issued,
        done=done if done in DONE else None,
        # Invitations go by mail, so the button is there only where mail goes out.
        mail=request.app.state.settings.mail_enabled,
    )


@router.get("/admin/users")
async def users(request: Request) -> Response:
    session = await page_session(request)
    return await _users_page(request, session)


@router.post("/admin/users")
async def create_user(request: Request) -> Response:
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    values = {
        name: str(form.get(name, "")).strip()
        for name in ("email", "display_name", "organisation", "role")
    }
    variables = {
        "input": {
            "email": values["email"],
            "displayName": values["display_name"],
            "organisationId": values["organisation"],
            "role": values["role"] if values["role"] in ROLES else "",
        }
    }
    if not variables["input"]["role"]:
        missing: dict[str, Any] = {
            "__typename": "ValidationError",
            "fields": [{"field": "input.role", "message": "choose a role"}],
        }
        return await _users_page(request, session, form=values, error=missing, status_code=422)
    result = (await run(request, session, CREATE, variables))["createUser"]
    error = typed_error(result)
    if error is not None:
        return await _users_page(request, session, form=values, error=error, status_code=422)
    return see_other(session, "/app/admin/users?done=created")


async def _action(request: Request, user_id: str, query: str, field: str) -> dict[str, Any]:
    """Run one of the per-account mutations for the form just posted; a missing account
    is a 404 page, as for any record that is not there."""
    session = await page_session(request)
    form = await request.form()
    check_form(request, session, str(form.get("csrf", "")))
    variables: dict[str, Any] = {"id": user_id}
    if field == "setUserDisabled":
        variables["disabled"] = form.get("disabled") == "true"
    result: dict[str, Any] = (await run(request, session, query, variables))[field]
    return result


@router.post("/admin/users/{user_id}/disabled")
async def set_disabled(request: Request, user_id: str) -> Response:
    session = await page_session(request)
    result = await _action(request, user_id, DISABLE, "setUserDisabled")
    if (error := typed_error(result)) is not None:
        return await _users_page(request, session, error=error, status_code=404)
    form = await request.form()
    done = "disabled" if form.get("disabled") == "true" else "enabled"
    return see_other(session, f"/app/admin/users?done={done}")


@router.post("/admin/users/{user_id}/invitation")
async def invite(request: Request, user_id: str) -> Response:
    session = await page_session(request)
    result = await _action(request, user_id, INVITE, "inviteUser")
    if (error := typed_error(result)) is not None:
        status = 404 if error["__typename"] == "NotFoundError" else 422
        return await _users_page(request, session, error=error, status_code=status)
    return see_other(session, "/app/admin/users?done=invited")


@router.post("/admin/users/{user_id}/sessions")
async def sign_out_everywhere(request: Request, user_id: str) -> Response:
    session = await page_session(request)
    result = await _action(request, user_id, END_SESSIONS, "endUserSessions")
    if (error := typed_error(result)) is not None:
        return await _users_page(request, session, error=error, status_code=404)
    return see_other(session, "/app/admin/users?done=signed_out")


@router.post("/admin/users/{user_id}/password-link")
async def password_link(request: Request, user_id: str) -> Response:
    """The link is shown on this response only (never in a URL or a redirect), for the admin
    to pass on; it is not stored in readable form anywhere."""
    session = await page_session(request)
    result = await _action(request, user_id, PASSWORD_LINK, "issuePasswordLink")
    if (error := typed_error(result)) is not None:
        return await _users_page(request, session, error=error, status_code=404)
    data = await run(request, session, USER, {"after": None})
    emails = {u["id"]: u["email"] for u in data["users"]["nodes"]}
    issued = {"url": result["url"], "expiresAt": result["expiresAt"], "email": emails.get(user_id)}
    return await _users_page(request, session, issued=issued)


ORGANISATIONS = """
query Organisations($after: String) {
  organisations(first: 100, after: $after) {
    nodes { id name acronym kind countryCode website services(first: 100) { nodes { id } } }
    pageInfo { hasNextPage endCursor }
  }
  users(first: 100) { nodes { id displayName disabled memberships { organisationId role } } }
}
"""


@router.get("/admin/organisations")
async def organisations(request: Request) -> Response:
    session = await page_session(request)
    data = await run(request, session, ORGANISATIONS, {"after": request.query_params.get("after")})
    people: dict[str, list[dict[str, Any]]] = {}
    for user in data["users"]["nodes"]:
        for m in user["memberships"]:
            people.setdefault(m["organisationId"], []).append(
                {"name": user["displayName"], "role": m["role"], "disabled": user["disabled"]}
            )
    return render(
        request,
        session,
        "admin_organisations.html",
        organisations=data["organisations"]["nodes"],
        page=data["organisations"]["pageInfo"],
        people=people,
    )
