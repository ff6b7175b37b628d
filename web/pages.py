"""What every page shares: executing GraphQL on behalf of the signed-in person, rendering a
template, and answering a form with a redirect or with its errors.

Pages have no data access of their own. They run operations of the project's GraphQL schema
in-process with the person's context, so the same resolvers, policy checks and typed errors
apply as over HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from api import policy
from api.graphql.context import context_for
from api.graphql.schema import schema
from core.errors import Forbidden, Unauthenticated
from core.i18n import Translator, translator
from graph.users import Role
from web.session import (
    API_LANGUAGE,
    LANGUAGES,
    PageForbidden,
    SignInRequired,
    WebSession,
    remember,
)

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


class GraphQLFailure(RuntimeError):
    """A GraphQL error that is neither a refusal nor a typed result: a bug, shown as a 500."""


async def run(
    request: Request, session: WebSession, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The data of one operation. Refusals become a sign-in redirect or a 403 page."""
    context = context_for(request, actor=session.actor, lang=API_LANGUAGE[session.lang])
    result = await schema.execute(query, variable_values=variables, context_value=context)
    for error in result.errors or []:
        code = (error.extensions or {}).get("code")
        if code == "UNAUTHENTICATED":
            raise SignInRequired(error.message, request.url.path)
        if code == "FORBIDDEN":
            raise PageForbidden(error.message)
        raise GraphQLFailure(error.message)
    return result.data or {}


# Start page of each role, in order of preference for people with several.
START_PAGES = [
    (Role.COUNSELLOR, "/app/search"),
    (Role.PARTNER, "/app/organisation"),
    (Role.COORDINATOR, "/app/gaps"),
    (Role.ADMIN, "/app/gaps"),
]


NAVIGATION = [
    ("/app/search", "nav.search"),
    ("/app/referrals", "nav.referrals"),
    ("/app/cases", "nav.cases"),
    ("/app/organisation", "nav.organisation"),
    ("/app/incoming", "nav.incoming"),
    ("/app/gaps", "nav.gaps"),
    ("/app/duplicates", "nav.duplicates"),
    ("/app/notifications", "nav.notifications"),
    ("/app/admin/users", "nav.admin"),
    ("/app/settings", "nav.settings"),
]


def allowed(request: Request, session: WebSession, operation: str) -> bool:
    """Whether the access rules let this person use a page, to show links only to those."""
    try:
        policy.check(operation, session.actor, request.app.state.settings, policy.REST_RULES)
    except (Forbidden, Unauthenticated):
        return False
    return True


def navigation(request: Request, session: WebSession) -> list[tuple[str, str]]:
    """(path, message key) of the pages the access rules let this person open."""
    if not session.signed_in:
        return []
    return [(path, key) for path, key in NAVIGATION if allowed(request, session, f"GET {path}")]


def render(
    request: Request,
    session: WebSession,
    template: str,
    *,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    t = translator(API_LANGUAGE[session.lang])
    # The language links keep the page and its query, with another ?lang=.
    kept = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    lang_links = {code: "?" + urlencode([*kept, ("lang", code)]) for code in LANGUAGES}
    html = TEMPLATES.get_template(template).render(
        t=t,
        tn=t.counted,
        number=t.decimal,
        category_names=lambda codes: category_names(t, codes),
        lang=session.lang,
        html_lang=API_LANGUAGE[session.lang],
        languages=LANGUAGES,
        session=session,
        csrf=session.csrf,
        nav=navigation(request, session),
        path=request.url.path,
        lang_links=lang_links,
        **values,
    )
    return remember(HTMLResponse(html, status_code=status_code), session)


def category_names(t: Translator, codes: list[str]) -> str:
    """Data categories (of a consent, or withheld from a partner) by their names."""
    keys = ["category." + code for code in codes]
    return ", ".join(t(key) for key in keys)


def see_other(session: WebSession, url: str) -> Response:
    """POST-redirect-GET: a reload never sends the form twice."""
    return remember(RedirectResponse(url, status_code=303), session)


def typed_error(result: dict[str, Any]) -> dict[str, Any] | None:
    """The typed error member of a mutation's result union, or None on success."""
    if result.get("__typename", "").endswith("Error"):
        return result
    return None
