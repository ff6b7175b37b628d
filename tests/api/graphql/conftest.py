from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI


class GraphQLClient:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        lang: str | None = None,
        token: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Accept-Language": lang} if lang else {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


START = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)


class Clock:
    """The application's clock, moved by hand so that entries age and referrals go overdue."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def clock(app: FastAPI) -> Clock:
    c = Clock()
    app.state.clock = c
    return c
