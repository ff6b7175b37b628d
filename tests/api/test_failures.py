"""How unexpected failures reach the caller (api/failures.py), on a schema of its own whose
resolvers fail on purpose: a bug is a 500 with INTERNAL_SERVER_ERROR, an outage a 503 with
DATABASE_UNAVAILABLE, a domain error keeps a 200 with its own code."""

from __future__ import annotations

import httpx
import pytest
import strawberry
from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter

from api.failures import ErrorCodes
from core.errors import DatabaseUnavailable, NotFound


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> int:
        return int("not a number")

    @strawberry.field
    def outage(self) -> int:
        raise DatabaseUnavailable("Neo4j is unavailable: connection refused")

    @strawberry.field
    def missing(self) -> int:
        raise NotFound("organisation", "x")

    @strawberry.field
    def fine(self) -> int:
        return 1


@pytest.fixture
async def http() -> httpx.AsyncClient:
    app = FastAPI()
    app.include_router(
        GraphQLRouter(strawberry.Schema(query=Query, extensions=[ErrorCodes])), prefix="/graphql"
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize(
    ("field", "status", "code"),
    [
        ("broken", 500, "INTERNAL_SERVER_ERROR"),
        ("outage", 503, "DATABASE_UNAVAILABLE"),
        ("missing", 200, "NOT_FOUND"),
    ],
)
async def test_each_failure_has_its_code_and_status(
    http: httpx.AsyncClient, field: str, status: int, code: str
) -> None:
    async with http:
        response = await http.post("/graphql", json={"query": f"{{ {field} fine }}"})
    assert response.status_code == status, response.text
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == [code]
    if status == 503:
        assert response.headers["retry-after"]


async def test_a_query_error_before_execution_keeps_its_shape(http: httpx.AsyncClient) -> None:
    async with http:
        response = await http.post("/graphql", json={"query": "{ nosuchfield }"})
    assert response.status_code == 200
    assert "extensions" not in response.json()["errors"][0] or (
        response.json()["errors"][0]["extensions"].get("code") != "INTERNAL_SERVER_ERROR"
    )
