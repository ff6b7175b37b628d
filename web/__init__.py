"""The web pages under /app: server-rendered HTML for counsellors, partners and coordinators,
working on the GraphQL API in-process (see web/pages.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from api import policy
from api.auth import SESSION_COOKIE, SignInRefused, authenticate_password
from core.clock import utcnow
from core.errors import Unauthenticated
from core.i18n import translator
from graph.mail.preferences import remember_language
from web import (
    admin,
    cases,
    coordination,
    duplicates,
    handout,
    notifications,
    organisation,
    partners,
    password,
    preferences,
    referrals,
    search,
)
from web.headers import PageHeaders
from web.pages import START_PAGES, render, see_other
from web.session import (
    API_LANGUAGE,
    PageForbidden,
    SignInRequired,
    WebSession,
    actor_of_token,
    check_form,
    close_web_session,
    open_web_session,
    safe_next,
    sign_in_cookie,
    sign_in_url,
    sign_out_cookie,
    web_session,
)

router = APIRouter(prefix="/app", include_in_schema=False)

# Pages that show no data and so need no rule in policy.REST_RULES (a test checks that every
# other /app route has one).
OPEN_PAGES = frozenset(
    {
        "GET /app/",
        "GET /app/sign-in",
        "POST /app/sign-in",
        "POST /app/sign-out",
        *password.OPEN_PAGES,
    }
)


@router.get("/")
async def home(request: Request) -> Response:
    session = await web_session(request)
    for role, page in START_PAGES:
        if role in session.actor.roles:
            return see_other(session, page)
    return see_other(session, "/app/sign-in")


@router.get("/sign-in")
async def sign_in_page(
    request: Request, next: str | None = None, reason: str | None = None
) -> Response:
    session = await any_session(request)
    response = render(
        request,
        session,
        "sign_in.html",
        next=safe_next(next),
        reason=reason,
        failed=None,
        email="",
        password_set=request.query_params.get("password") == "set",
    )
    if request.cookies.get(SESSION_COOKIE) and not session.signed_in:
        # The kept token is no longer accepted: forget it.
        sign_out_cookie(response)
    return response


@router.post("/sign-in")
async def sign_in(
    request: Request,
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/app/",
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    token: Annotated[str, Form()] = "",
) -> Response:
    """E-mail and password, or (for those who have one) an API token pasted instead."""
    session = await web_session(request, use_token=False)
    check_form(request, session, csrf)
    t = translator(API_LANGUAGE[session.lang])
    state = request.app.state
    try:
        if token.strip():
            session.actor = await actor_of_token(request, token.strip())
        else:
            session.actor = await authenticate_password(
                email, password, graph=state.graph, settings=state.settings
            )
    except SignInRefused as exc:
        minutes = 0
        if exc.until is not None:
            minutes = max(1, -int(-(exc.until - utcnow()).total_seconds() // 60))
        failed = t.counted(exc.reason, minutes) if exc.until else t(exc.reason)
        return _refused(request, session, next=next, email=email, failed=failed)
    except Unauthenticated as exc:
        failed = t("signin.failed", reason=exc.message)
        return _refused(request, session, next=next, email=email, failed=failed)
    if session.actor.user_id is not None:
        await state.graph.write(
            remember_language, user_id=session.actor.user_id, language=API_LANGUAGE[session.lang]
        )
    response = see_other(session, safe_next(next))
    cookie = await open_web_session(request, session.actor, token.strip() or None)
    sign_in_cookie(response, cookie, https=session.https)
    return response


def _refused(
    request: Request, session: WebSession, *, next: str, email: str, failed: str
) -> Response:
    return render(
        request,
        session,
        "sign_in.html",
        status_code=401,
        next=safe_next(next),
        reason=None,
        failed=failed,
        email=email,
        password_set=False,
    )


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str, Form()] = "") -> Response:
    session = await web_session(request, use_token=False)
    check_form(request, session, csrf)
    # The session ends here, not only in this browser: a copy of the cookie is worthless now.
    await close_web_session(request)
    response = see_other(session, "/app/sign-in")
    sign_out_cookie(response)
    return response


PAGE_ROUTERS = [
    search.router,
    password.router,
    referrals.router,
    cases.router,
    organisation.router,
    # After the organisation's pages, whose /services/new it would otherwise shadow.
    partners.router,
    coordination.router,
    duplicates.router,
    notifications.router,
    preferences.router,
    handout.router,
    admin.router,
]
for _pages in PAGE_ROUTERS:
    router.include_router(_pages)


def page_operations() -> set[str]:
    """Every page as policy.rest_operation names it ("GET /app/search"), the form of the keys
    of policy.REST_RULES."""
    # The routes declared on `router` carry its prefix already; the included ones do not.
    routes = [(r, "") for r in router.routes] + [
        (r, router.prefix) for pages in PAGE_ROUTERS for r in pages.routes
    ]
    return {
        policy.rest_operation(method, prefix + route.path)
        for route, prefix in routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


async def any_session(request: Request) -> WebSession:
    """The session, signed out when the kept token is no longer accepted."""
    try:
        return await web_session(request)
    except SignInRequired:
        return await web_session(request, use_token=False)


async def on_sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    url = sign_in_url(exc.next_url)
    if exc.message:
        url += "&reason=" + quote(exc.message, safe="")
    return RedirectResponse(url, status_code=303)


async def on_forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageForbidden)
    session = await any_session(request)
    return render(
        request, session, "message.html", status_code=403, title="forbidden.title", text=exc.message
    )


def install(app: FastAPI) -> None:
    """Mount the pages, their static files and the answers to refusals on `app`."""
    app.include_router(router)
    static = Path(__file__).parent / "static"
    app.mount("/app/static", StaticFiles(directory=static), name="web-static")
    app.add_exception_handler(SignInRequired, on_sign_in_required)
    app.add_exception_handler(PageForbidden, on_forbidden)
    app.add_middleware(PageHeaders)
