"""HTTP protection and observability: request ids, the rate limit, the body size limit, and
who may read /metrics. Each runs the real application against the test Neo4j."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import ValidationError

from core.settings import Settings
from graph.driver import Graph
from tests.conftest import serve

NEEDS = {"query": "{ needs { code } }"}


# Request ids


async def test_a_request_id_is_generated_and_echoed(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["x-request-id"])
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_a_well_formed_request_id_is_kept(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json=NEEDS, headers={"X-Request-ID": "lb-7f3a.9"})
    assert response.headers["x-request-id"] == "lb-7f3a.9"


@pytest.mark.parametrize("sent", ["has space", "x" * 129, "line\\nbreak", "-leading", "<b>"])
async def test_a_malformed_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get(
        "/health", headers={"X-Request-ID": sent.encode().decode("latin-1")}
    )
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


# Rate limit


async def test_a_token_over_its_rate_limit_gets_429_with_retry_after(
    test_settings: Settings, people: dict[str, str]
) -> None:
    settings = test_settings.model_copy(update={"rate_limit": "3/minute"})
    async with serve(settings) as http:
        partner = {"Authorization": f"Bearer {people['partner']}"}
        for _ in range(3):
            assert (await http.post("/graphql", json=NEEDS, headers=partner)).status_code == 200
        refused = await http.post("/graphql", json=NEEDS, headers=partner)
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert refused.json()["detail"].startswith("rate limit of 3 per 1 minute exceeded")
        assert "token" in refused.json()["detail"]
        assert refused.headers["x-request-id"]
        # Another token of the same address has its own budget; probes are never limited.
        other = {"Authorization": f"Bearer {people['admin']}"}
        assert (await http.post("/graphql", json=NEEDS, headers=other)).status_code == 200
        for _ in range(5):
            assert (await http.get("/health")).status_code == 200


async def test_anonymous_callers_are_limited_by_address(
    test_settings: Settings, graph: Graph
) -> None:
    settings = test_settings.model_copy(update={"rate_limit_anonymous": "2/minute"})
    async with serve(settings, client=("198.51.100.7", 4000)) as http:
        assert (await http.post("/graphql", json=NEEDS)).status_code == 200
        assert (await http.post("/graphql", json=NEEDS)).status_code == 200
        refused = await http.post("/graphql", json=NEEDS)
        assert refused.status_code == 429
        assert "address" in refused.json()["detail"]
    # The limiter is the application's: another address starts afresh.
    async with serve(settings, client=("198.51.100.8", 4000)) as http:
        assert (await http.post("/graphql", json=NEEDS)).status_code == 200


async def test_made_up_token_ids_share_their_address_budget(
    test_settings: Settings, people: dict[str, str]
) -> None:
    """A token id of a bucket of its own only once it authenticated: made-up ids, each new,
    are charged to the address and get 429 when it is spent; a genuine token goes on."""
    settings = test_settings.model_copy(update={"rate_limit_anonymous": "3/minute"})
    async with serve(settings, client=("198.51.100.9", 4000)) as http:
        partner = {"Authorization": f"Bearer {people['partner']}"}
        assert (await http.post("/graphql", json=NEEDS, headers=partner)).status_code == 200
        statuses = [
            (
                await http.post(
                    "/graphql",
                    json=NEEDS,
                    headers={"Authorization": f"Bearer hwt_{i:016x}_made-up-secret"},
                )
            ).status_code
            for i in range(4)
        ]
        assert statuses == [401, 401, 429, 429]
        assert (await http.post("/graphql", json=NEEDS, headers=partner)).status_code == 200


async def test_the_default_limits_let_a_busy_client_through(
    test_settings: Settings, graph: Graph
) -> None:
    defaults = Settings()
    settings = test_settings.model_copy(
        update={
            "rate_limit": defaults.rate_limit,
            "rate_limit_anonymous": defaults.rate_limit_anonymous,
        }
    )
    async with serve(settings) as http:
        for _ in range(120):  # two requests a second for a minute
            assert (await http.post("/graphql", json=NEEDS)).status_code == 200


def test_a_malformed_rate_limit_setting_is_refused() -> None:
    with pytest.raises(ValidationError, match="'lots' is not a rate limit such as '600/minute'"):
        Settings(HOMEWARD_RATE_LIMIT="lots")


# Body size


async def test_a_body_over_the_limit_is_413(test_settings: Settings, graph: Graph) -> None:
    settings = test_settings.model_copy(update={"max_body_bytes": 2048})
    async with serve(settings) as http:
        body = ('{"query": "{ needs { code } }' + " " * 3000 + '"}').encode()
        response = await http.post(
            "/graphql", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["detail"] == (
            f"request body of {len(body)} bytes is over the limit of 2048 bytes "
            "(HOMEWARD_MAX_BODY_BYTES)"
        )

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: streamed
            yield b'{"query": "{ needs { code } }'
            for _ in range(10):
                yield b" " * 500
            yield b'"}'

        streamed = await http.post(
            "/graphql", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert "over the limit of 2048 bytes" in streamed.json()["detail"]
        small = await http.post("/graphql", json=NEEDS)
        assert small.status_code == 200


# /metrics


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_need_an_admin_token(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    assert (await client.get("/metrics")).status_code == 401
    partner = await client.get("/metrics", headers={"Authorization": f"Bearer {people['partner']}"})
    assert partner.status_code == 403
    admin = await client.get("/metrics", headers={"Authorization": f"Bearer {people['admin']}"})
    assert admin.status_code == 200
    assert admin.headers["content-type"].startswith("text/plain")


async def test_metrics_from_loopback_only_when_allowed(
    test_settings: Settings, graph: Graph
) -> None:
    settings = test_settings.model_copy(update={"metrics_from_loopback": True})
    async with serve(settings, client=("127.0.0.1", 9000)) as http:
        assert (await http.get("/metrics")).status_code == 200
    async with serve(settings, client=("::1", 9000)) as http:
        assert (await http.get("/metrics")).status_code == 200
    async with serve(settings, client=("192.0.2.10", 9000)) as http:
        assert (await http.get("/metrics")).status_code == 401


async def test_metrics_count_requests_operations_queries_and_errors(
    test_settings: Settings, graph: Graph
) -> None:
    settings = test_settings.model_copy(update={"metrics_from_loopback": True})
    async with serve(settings) as http:
        before = (await http.get("/metrics")).text
        named = {"query": "query NeedsTree { needs { code } }"}
        for _ in range(3):
            await http.post("/graphql", json=named)
        await http.post("/graphql", json={"query": "{ nothing }"})
        after = (await http.get("/metrics")).text

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    latency = "homeward_http_request_duration_seconds_count"
    assert grew(latency, route="/graphql", operation="NeedsTree") == 3
    assert grew("homeward_http_requests_total", operation="NeedsTree", status="200") == 3
    assert grew("homeward_neo4j_transaction_duration_seconds_count", work="all_needs") >= 1
    assert grew("homeward_errors_total", kind="graphql_validation") == 1
