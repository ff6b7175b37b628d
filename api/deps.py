"""FastAPI dependencies, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api import policy
from api.auth import SESSION_COOKIE, authenticate, header_or_session_cookie
from core.errors import Forbidden, Unauthenticated
from core.settings import Settings
from graph.driver import Graph
from graph.users import Actor


def get_graph(request: Request) -> Graph:
    graph: Graph = request.app.state.graph
    return graph


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


GraphDep = Annotated[Graph, Depends(get_graph)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def authorize_rest(request: Request, operation: str, *, session: bool = False) -> Actor:
    """The caller of a REST route, if `policy.REST_RULES[operation]` lets them in; else the
    401 or 403 that says why. With `session`, the web pages' sign-in cookie counts as well as
    the Authorization header: only for reads that a page links to (the gap map picture, the
    3W download), never for routes that write."""
    cookie = request.cookies.get(SESSION_COOKIE) if session else None
    try:
        actor = await authenticate(
            header_or_session_cookie(request.headers.get("authorization"), cookie),
            graph=request.app.state.graph,
            settings=request.app.state.settings,
            verifier=request.app.state.jwt_verifier,
        )
        policy.check(operation, actor, request.app.state.settings, policy.REST_RULES)
    except Unauthenticated as exc:
        raise HTTPException(401, exc.message, headers={"WWW-Authenticate": "Bearer"}) from exc
    except Forbidden as exc:
        raise HTTPException(403, exc.message) from exc
    return actor
