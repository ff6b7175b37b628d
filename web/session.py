"""Who is signed in to the web pages, in which language, and the CSRF defence of their forms.

The e-mail address and password (api.auth.authenticate_password), or a bearer token pasted
instead, are checked once, at sign-in, and open a server-side session (graph.users, "web
sessions") whose id is kept in an HttpOnly, SameSite=Strict cookie (Secure when the page came
over https); neither password nor token is ever put in a cookie. Every
request checks the session, and through it the token, so signing out, a revoked or expired
token or a disabled account signs the person out at once.

CSRF: double-submit token. A random value lives in its own SameSite=Strict cookie and every
form carries it in a hidden field; a POST whose field does not equal the cookie is refused.
A POST whose Origin header names another site is refused as well.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import Response

from api import policy
from api.auth import SESSION_COOKIE, authenticate, authenticate_session
from api.graphql.context import context_for
from api.graphql.schema import schema
from api.middleware import route_template
from core.clock import utcnow
from core.errors import Forbidden, Unauthenticated
from graph.users import (
    ANONYMOUS,
    Actor,
    Role,
    close_session,
    new_session,
    open_session,
    split_session,
    split_token,
)

R = TypeVar("R", bound=Response)

DEFAULT = "en"
# Page language -> the tag asked of the API, put in <html lang> and looked up in the catalogues.
# Serbian is offered in both scripts; a browser that asks for plain "sr" gets the Latin one.
API_LANGUAGE = {"en": "en", "de": "de", "sq": "sq", "sr": "sr-Latn", "sr-Cyrl": "sr-Cyrl"}
# Page language -> its name in itself, for the language switch.
LANGUAGES = {
    "en": "English",
    "de": "Deutsch",
    "sq": "Shqip",
    "sr": "Srpski",
    "sr-Cyrl": "Српски",
}

CSRF_COOKIE = "homeward_csrf"
LANG_COOKIE = "homeward_lang"
CSRF_FIELD = "csrf"


class SignInRequired(Exception):
    """Raised by a page whose reader must sign in (again); answered with a redirect."""

    def __init__(self, message: str, next_url: str) -> None:
        super().__init__(message)
        self.message = message
        self.next_url = next_url


class PageForbidden(Exception):
    """Raised by a page the signed-in person may not see; answered with a 403 page."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class WebSession:
    actor: Actor
    lang: str
    csrf: str
    # True when the request chose a language with ?lang=, to be remembered in a cookie.
    lang_chosen: bool
    # A new CSRF value to be set as a cookie (first visit).
    csrf_new: bool
    https: bool
    # Unread notices of the signed-in person, for the count in the navigation.
    unread: int = 0

    @property
    def signed_in(self) -> bool:
        return self.actor.authenticated

    def has(self, *roles: Role) -> bool:
        return bool(self.actor.roles & set(roles)) or Role.ADMIN in self.actor.roles


def _language(request: Request) -> tuple[str, bool]:
    chosen = request.query_params.get("lang")
    if chosen in LANGUAGES:
        return chosen, True
    kept = request.cookies.get(LANG_COOKIE)
    if kept in LANGUAGES:
        return kept, False
    header = request.headers.get("accept-language", "")
    for part in header.split(","):
        tag = part.split(";")[0].strip().split("-")[0].lower()
        if tag in LANGUAGES:
            return tag, False
    return DEFAULT, False


async def actor_of_token(request: Request, token: str) -> Actor:
    """Who the token typed at sign-in belongs to."""
    state = request.app.state
    return await authenticate(
        f"Bearer {token}", graph=state.graph, settings=state.settings, verifier=state.jwt_verifier
    )


async def open_web_session(request: Request, actor: Actor, token: str | None) -> str:
    """A new session for the person who signed in (with `token`, when they pasted an API
    token, whose end ends the session too); returns the cookie value."""
    assert actor.user_id is not None
    cookie, session_id, secret_hash = new_session()
    parts = split_token(token) if token else None
    await request.app.state.graph.write(
        open_session,
        id=session_id,
        secret_hash=secret_hash,
        user_id=actor.user_id,
        token_id=parts[0] if parts else None,
        # The instant authentication compares with (api.auth), not the pages' clock.
        now=utcnow(),
    )
    return cookie


async def close_web_session(request: Request) -> None:
    parts = split_session(request.cookies.get(SESSION_COOKIE) or "")
    if parts is not None:
        await request.app.state.graph.write(close_session, session_id=parts[0])


def _here(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return f"{request.url.path}{query}"


async def web_session(request: Request, *, use_token: bool = True) -> WebSession:
    """The session of any page, signed in or not. A token the API no longer accepts raises
    SignInRequired (the sign-in page says why); `use_token=False` ignores the token."""
    lang, chosen = _language(request)
    csrf = request.cookies.get(CSRF_COOKIE) or ""
    new = len(csrf) < 32
    if new:
        csrf = secrets.token_urlsafe(32)
    https = request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"
    cookie = request.cookies.get(SESSION_COOKIE) if use_token else None
    actor = ANONYMOUS
    if cookie:
        state = request.app.state
        try:
            actor = await authenticate_session(cookie, graph=state.graph, settings=state.settings)
        except Unauthenticated as exc:
            raise SignInRequired(exc.message, _here(request)) from exc
    return WebSession(
        actor=actor,
        lang=lang,
        csrf=csrf,
        lang_chosen=chosen,
        csrf_new=new,
        https=https,
        unread=await _unread(request, actor, lang) if actor.authenticated else 0,
    )


UNREAD: str = "query Unread { notifications(first: 1, unreadOnly: true) { unreadCount } }"


async def _unread(request: Request, actor: Actor, lang: str) -> int:
    """Asked of the GraphQL schema like everything a page shows (web/pages.py)."""
    context = context_for(request, actor=actor, lang=API_LANGUAGE[lang])
    result = await schema.execute(UNREAD, context_value=context)
    if result.errors or result.data is None:
        raise RuntimeError(f"the unread count failed: {result.errors}")
    return int(result.data["notifications"]["unreadCount"])


async def page_session(request: Request) -> WebSession:
    """The session of a page that its route's rule in `policy.REST_RULES` guards."""
    operation = policy.rest_operation(request.method, route_template(request.scope) or "")
    session = await web_session(request)
    if not session.signed_in:
        raise SignInRequired("", _here(request))
    try:
        policy.check(operation, session.actor, request.app.state.settings, policy.REST_RULES)
    except Unauthenticated as exc:
        raise SignInRequired(exc.message, _here(request)) from exc
    except Forbidden as exc:
        raise PageForbidden(exc.message) from exc
    return session


def check_form(request: Request, session: WebSession, submitted: str | None) -> None:
    """Refuse a POST that did not come from one of our own forms."""
    origin = request.headers.get("origin")
    if origin and origin != "null":
        host = request.headers.get("host", "")
        if urlsplit(origin).netloc != host:
            raise PageForbidden("the form was sent from another site")
    if session.csrf_new or not submitted or not hmac.compare_digest(submitted, session.csrf):
        raise PageForbidden("the form has expired; reload the page and send it again")


def remember(response: R, session: WebSession) -> R:
    """Cookies every response may need to set."""
    if session.csrf_new:
        response.set_cookie(
            CSRF_COOKIE,
            session.csrf,
            httponly=True,
            samesite="strict",
            secure=session.https,
            path="/",
        )
    if session.lang_chosen:
        response.set_cookie(
            LANG_COOKIE,
            session.lang,
            max_age=365 * 24 * 3600,
            samesite="strict",
            secure=session.https,
            path="/",
        )
    return response


def sign_in_cookie(response: Response, session: str, *, https: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, session, httponly=True, samesite="strict", secure=https, path="/"
    )


def sign_out_cookie(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def sign_in_url(next_url: str) -> str:
    return f"/app/sign-in?next={quote(next_url, safe='')}"


def safe_next(next_url: str | None) -> str:
    """Only a path of this application: never an address elsewhere (open redirect)."""
    if next_url and next_url.startswith("/app") and not next_url.startswith("//"):
        return next_url
    return "/app/"
