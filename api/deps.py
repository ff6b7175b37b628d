"""FastAPI dependencies, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api import policy
from api.auth import SESSION_COOKIE, authenticate_with_session
from api.middleware import route_template
from core.errors import Forbidden, Unauthenticated
from core.settings import Settings
from graph.driver import Graph
from graph.users import Actor


# `async def` although they do not wait for anything: FastAPI runs a plain `def` dependency
# in its thread pool, a hand-off that cost every request more than what these do.
async def get_graph(request: Request) -> Graph:
    graph: Graph = request.app.state.graph
    return graph


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


GraphDep = Annotated[Graph, Depends(get_graph)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


class Authorize:
    """The dependency that guards the REST routes: the caller, if the rule of the matched route
    (`policy.REST_RULES`, keyed by the route's method and path template) lets them in; else
    the 401 or 403 that says why. A route without a rule is refused, so a new route is closed
    until someone decides who may use it. Given to a whole router, it guards every route added
    to it. With `session`, the web pages' sign-in cookie counts as well as the Authorization
    header: only for reads that a page links to (the gap map picture, the 3W download), never
    for routes that write."""

    def __init__(self, *, session: bool = False) -> None:
        self.session = session

    async def __call__(self, request: Request) -> Actor:
        operation = policy.rest_operation(request.method, route_template(request.scope) or "")
        cookie = request.cookies.get(SESSION_COOKIE) if self.session else None
        try:
            actor = await authenticate_with_session(
                request.headers.get("authorization"),
                cookie,
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


authorize = Authorize()
authorize_with_session = Authorize(session=True)
# The caller of a route that `authorize` guards; FastAPI runs it once per request however many
# times the route and its router ask for it.
ActorDep = Annotated[Actor, Depends(authorize)]
