"""`GET /health`: is the API up, and can it reach Neo4j right now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import GraphDep, SettingsDep
from core.errors import DatabaseUnavailable

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(request: Request, graph: GraphDep, settings: SettingsDep) -> JSONResponse:
    """200 when Neo4j answers, 503 with the reason when it does not. Nothing is cached: the
    driver reconnects by itself, so the first call after Neo4j returns reports it up."""
    body: dict[str, Any] = {"api": "up", "database": graph.database or "(default)"}
    # Whether searches are ranked in this process or by the database (docs/search.md).
    index = getattr(request.app.state, "search_index", None)
    body["search_index"] = (
        {"built": index.built, "services": index.size} if index is not None else None
    )
    try:
        server = await graph.ping(timeout_s=settings.neo4j_connection_timeout_s)
    except DatabaseUnavailable as exc:
        body |= {"status": "unavailable", "neo4j": {"state": "unreachable", "error": exc.message}}
        return JSONResponse(body, status_code=503)
    body |= {"status": "ok", "neo4j": {"state": "up", **server}}
    return JSONResponse(body)
