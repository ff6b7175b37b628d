"""The page a one-time password link opens (`homeward users password-link`, or the mail sent
from "Forgot your password?"): the person chooses their password and then signs in with it;
and the page that mails such a link."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from api.passwords import link_for, request_reset, set_password_with_link
from core.errors import NotFound
from core.i18n import translator
from core.passwords import MIN_LENGTH, password_problem
from graph.passwords import LINK_LIFETIME
from web.pages import render, see_other
from web.session import API_LANGUAGE, WebSession, check_form, web_session

router = APIRouter()

# The link itself is the permission, so these pages need no rule of policy.REST_RULES.
OPEN_PAGES = frozenset(
    {
        "GET /app/password/{link}",
        "POST /app/password/{link}",
        "GET /app/password-reset",
        "POST /app/password-reset",
    }
)
# As graph.users.UserInput checks an account's address.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _page(
    request: Request,
    session: WebSession,
    *,
    link: str,
    email: str,
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render(
        request,
        session,
        "password.html",
        status_code=status_code,
        link=link,
        email=email,
        errors=errors,
        min_length=MIN_LENGTH,
    )


def _gone(request: Request, session: WebSession) -> Response:
    return render(
        request,
        session,
        "message.html",
        status_code=404,
        title="password.title",
        text=translator(API_LANGUAGE[session.lang])("password.link_gone"),
    )


@router.get("/password/{link}")
async def password_page(request: Request, link: str) -> Response:
    session = await web_session(request, use_token=False)
    found = await link_for(link, graph=request.app.state.graph)
    if found is None:
        return _gone(request, session)
    return _page(request, session, link=link, email=found.email, errors={})


@router.post("/password/{link}")
async def choose_password(
    request: Request,
    link: str,
    password: Annotated[str, Form()] = "",
    again: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    session = await web_session(request, use_token=False)
    check_form(request, session, csrf)
    t = translator(API_LANGUAGE[session.lang])
    graph = request.app.state.graph
    found = await link_for(link, graph=graph)
    if found is None:
        return _gone(request, session)
    errors: dict[str, str] = {}
    problem = password_problem(password, email=found.email)
    if problem is not None:
        errors["password"] = t(problem, min=MIN_LENGTH)
    elif again != password:
        errors["again"] = t("password.mismatch")
    if errors:
        return _page(request, session, link=link, email=found.email, errors=errors, status_code=422)
    try:
        await set_password_with_link(link, password, graph=graph)
    except NotFound:
        return _gone(request, session)
    return see_other(session, "/app/sign-in?password=set")


def _reset_page(
    request: Request,
    session: WebSession,
    *,
    email: str = "",
    error: str | None = None,
    sent: bool = False,
    status_code: int = 200,
) -> Response:
    return render(
        request,
        session,
        "password_reset.html",
        status_code=status_code,
        email=email,
        error=error,
        sent=sent,
        hours=int(LINK_LIFETIME.total_seconds() // 3600),
        mail_enabled=request.app.state.settings.mail_enabled,
    )


@router.get("/password-reset")
async def reset_page(request: Request) -> Response:
    session = await web_session(request, use_token=False)
    return _reset_page(request, session)


@router.post("/password-reset")
async def ask_for_reset(
    request: Request,
    email: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """The answer is the same whether or not an account has the address: the page must not
    tell who has an account."""
    session = await web_session(request, use_token=False)
    check_form(request, session, csrf)
    state = request.app.state
    if not state.settings.mail_enabled:
        return _reset_page(request, session)
    email = email.strip()
    if len(email) > 254 or not EMAIL.match(email):
        t = translator(API_LANGUAGE[session.lang])
        return _reset_page(
            request, session, email=email, error=t("error.forgot.email"), status_code=422
        )
    await request_reset(email, graph=state.graph, cipher=state.cipher, now=state.clock())
    return _reset_page(request, session, sent=True)
