"""FastAPI dependencies, as `Annotated` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from api import policy
from api.auth import authenticate
from graph.driver import Graph
from graph.users import Actor
from homeward.errors import Forbidden, Unauthenticated
from homeward.settings import Settings


def get_graph(request: Request) -> Graph:
    graph: Graph = request.app.state.graph
    return graph


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


GraphDep = Annotated[Graph, Depends(get_graph)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]


async def rest_access(request: Request, operation: str) -> Actor:
    """The caller of a REST route, once `policy.REST_RULES` allows them `operation`
    ("GET /exports/3w.csv"); 401 or 403 otherwise."""
    try:
        actor = await authenticate(
            request.headers.get("authorization"),
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
