"""Neo4j goes away while the API serves: clean 503s within two seconds, recovery without a
restart of the API, and nothing half written, also when Neo4j is killed in the middle of
concurrent writes.

This runs its own throwaway Neo4j (in `.neo4j/fault`, on a free port) because it stops and
kills it; the suite's shared instance is never touched.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from core.settings import PROJECT_ROOT, Settings
from graph.areas import area_rows, upsert_areas
from graph.driver import Graph, create_driver
from graph.migrations import migrate
from homeward import neo4j_server
from tests import directory
from tests.conftest import COUNTRIES, add_people
from tests.reliability.conftest import LiveServer, free_port, serve

pytestmark = pytest.mark.neo4j

# The promise: an outage answers within this many seconds.
OUTAGE_ANSWER_S = 2.0
WRITERS = 8
WRITES_PER_WRITER = 15


# A fresh instance per test: the kill test is run on an instance nobody stopped and restarted
# before it (after such a restart, restarting again once failed with the new process
# terminated while starting; not understood yet).
@pytest.fixture
def instance() -> Iterator[neo4j_server.LocalNeo4j]:
    home = PROJECT_ROOT / ".neo4j" / "fault"
    neo4j = neo4j_server.LocalNeo4j(home=home, port=free_port(), heap="512m", pagecache="64m")
    neo4j_server.stop(neo4j)
    shutil.rmtree(home, ignore_errors=True)
    neo4j_server.start(neo4j, timeout_s=120)
    try:
        yield neo4j
    finally:
        neo4j_server.stop(neo4j)
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def fault_settings(instance: neo4j_server.LocalNeo4j, test_settings: Settings) -> Settings:
    return test_settings.model_copy(update={"neo4j_uri": instance.uri})


@pytest.fixture
async def fault_graph(fault_settings: Settings) -> AsyncIterator[Graph]:
    driver = create_driver(fault_settings)
    graph = Graph(driver, fault_settings.neo4j_database)
    try:
        yield graph
    finally:
        await driver.close()


@pytest.fixture
async def tokens(fault_graph: Graph) -> dict[str, str]:

    await migrate(fault_graph)
    await fault_graph.write(upsert_areas, rows=area_rows(COUNTRIES))
    await directory.build(fault_graph)
    return await add_people(fault_graph)


@pytest.fixture
def live(fault_settings: Settings, tokens: dict[str, str]) -> Iterator[LiveServer]:
    yield from serve(fault_settings)


REGISTER_ORGANISATION = """
mutation R($name: String!) {
  registerOrganisation(input: {name: $name, kind: NGO, country: "XK"}, confirmNotDuplicate: true) {
    __typename ... on RegisterOrganisationPayload { organisation { id } }
  }
}
"""
ORGANISATIONS = 'query { organisation(id: "org-a") { id name } }'
# Answered from the search index's memory once warm: only the clock read goes to Neo4j.
SEARCH = """
query { searchPartners(query: {areaId: "XK-prizren", needs: ["psychosocial"]}) {
  __typename ... on PartnerSearchResults { totalCount }
} }
"""
REGISTER_SERVICE = """
mutation S($input: ServiceInput!) {
  registerService(input: $input, confirmNotDuplicate: true) {
    __typename ... on ServicePayload { service { id } }
  }
}
"""


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> tuple[httpx.Response, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    return response, time.monotonic() - started


async def timed_get(
    http: httpx.AsyncClient, path: str, token: str | None = None
) -> tuple[httpx.Response, float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    response = await http.get(path, headers=headers)
    return response, time.monotonic() - started


async def count(graph: Graph, cypher: str, **params: Any) -> int:
    async with graph.driver.session(database=graph.database) as session:
        record = await (await session.run(cypher, params)).single()
        assert record is not None
        return int(record[0])


async def test_a_stopped_neo4j_gives_clean_503s_and_the_api_recovers_by_itself(
    instance: neo4j_server.LocalNeo4j, live: LiveServer, tokens: dict[str, str], fault_graph: Graph
) -> None:
    admin = tokens["admin"]
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as http:
        before, _ = await post(http, REGISTER_ORGANISATION, {"name": "Before the outage"}, admin)
        assert before.json()["data"]["registerOrganisation"]["__typename"] == (
            "RegisterOrganisationPayload"
        )

        for _ in range(100):  # until the search index is built, so that it answers below
            health = (await http.get("/health")).json()
            if health["search_index"]["built"]:
                break
            await asyncio.sleep(0.1)
        warm, _ = await post(http, SEARCH, {})
        assert warm.json()["data"]["searchPartners"]["__typename"] == "PartnerSearchResults"
        neo4j_server.stop(instance)
        answered: list[float] = []
        # A warm search still asks Neo4j for the clock: no answer from a stale index.
        response, elapsed = await post(http, SEARCH, {})
        assert response.status_code == 503, response.text
        assert response.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        assert elapsed < OUTAGE_ANSWER_S
        answered.append(elapsed)
        # Anonymous reads fail inside GraphQL execution: the GraphQL shape, with a code.
        response, elapsed = await post(http, ORGANISATIONS, {})
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        errors = response.json()["errors"]
        assert errors[0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        assert elapsed < OUTAGE_ANSWER_S
        answered.append(elapsed)
        # With a token, authentication already needs the graph: a JSON 503.
        response, elapsed = await post(http, REGISTER_ORGANISATION, {"name": "During"}, admin)
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "DATABASE_UNAVAILABLE"
        assert elapsed < OUTAGE_ANSWER_S
        answered.append(elapsed)
        for path in ("/health", "/exports/3w.csv"):
            response, elapsed = await timed_get(http, path, admin)
            assert response.status_code == 503, (path, response.text)
            assert elapsed < OUTAGE_ANSWER_S, path
            answered.append(elapsed)
        # The figures docs/reliability.md quotes (shown with `pytest -s`).
        print(f"faults: 503s answered in {', '.join(f'{s * 1000:.0f} ms' for s in answered)}")
        # What needs no database still works.
        assert (await http.get("/openapi.json")).status_code == 200

        neo4j_server.start(instance, timeout_s=120)
        # No restart of the API: the very first request after Neo4j is back succeeds (a
        # pooled connection gone stale is replaced by the retry in Graph).
        response, _ = await post(http, ORGANISATIONS, {})
        assert response.status_code == 200, response.text
        assert response.json()["data"]["organisation"]["name"] == "Organisation A"
        response, _ = await post(http, SEARCH, {})
        assert response.json() == warm.json()
        response, _ = await timed_get(http, "/health")
        assert response.status_code == 200

    assert (
        await count(
            fault_graph, "MATCH (o:Organisation {name: 'Before the outage'}) RETURN count(o)"
        )
        == 1
    )
    assert await count(fault_graph, "MATCH (o:Organisation {name: 'During'}) RETURN count(o)") == 0


def service_input(writer: int, n: int) -> dict[str, Any]:
    return {
        "organisationId": "org-b",
        "name": f"Outage test service {writer}-{n}",
        "delivery": ["IN_PERSON"],
        "needs": ["psychosocial.trauma-therapy", "employment"],
        "targetGroups": ["rae"],
        "covers": ["XK-prizren"],
        "languages": ["sq", "de"],
    }


async def test_killing_neo4j_during_concurrent_writes_leaves_no_half_written_service(
    instance: neo4j_server.LocalNeo4j, live: LiveServer, tokens: dict[str, str], fault_graph: Graph
) -> None:
    partner = tokens["partner_b"]
    statuses: list[int] = []
    confirmed: list[str] = []
    flowing = asyncio.Event()

    async def writer(http: httpx.AsyncClient, w: int) -> None:
        for n in range(WRITES_PER_WRITER):
            response, _ = await post(
                http, REGISTER_SERVICE, {"input": service_input(w, n)}, partner
            )
            statuses.append(response.status_code)
            if len(statuses) >= WRITERS * 2:
                flowing.set()
            if response.status_code == 200:
                result = response.json()["data"]["registerService"]
                assert result["__typename"] == "ServicePayload", result
                confirmed.append(result["service"]["id"])

    async def killer() -> None:
        # Once writes are flowing, the hard way: no shutdown, no flush.
        await flowing.wait()
        pid = neo4j_server.running_pid(instance)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    # Generous client timeouts: the machine may be loaded, and what is checked here is the
    # outcome of each write, not its speed (the test above holds the 503s to two seconds).
    async with httpx.AsyncClient(base_url=live.url, timeout=90) as http:
        await asyncio.wait_for(
            asyncio.gather(killer(), *(writer(http, w) for w in range(WRITERS))), timeout=300
        )
    neo4j_server.stop(instance)  # its pid file outlived the kill
    neo4j_server.start(instance, timeout_s=120)

    print(
        f"faults: kill -9 under {WRITERS} writers: {statuses.count(200)} writes confirmed, "
        f"{statuses.count(503)} answered 503, {len(statuses)} in all"
    )
    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert 503 in statuses
    assert 200 in statuses
    # Every confirmed write survived the kill, whole.
    assert await count(
        fault_graph, "MATCH (s:Service) WHERE s.id IN $ids RETURN count(s)", ids=confirmed
    ) == len(confirmed)
    # Every service there is, confirmed or not (a commit can land after its connection
    # died), is whole: organisation, both needs, its target group and its area.
    broken = await count(
        fault_graph,
        "MATCH (s:Service) WHERE s.name STARTS WITH 'Outage test service' "
        "AND NOT (COUNT { (:Organisation {id: 'org-b'})-[:PROVIDES]->(s) } = 1 "
        "AND COUNT { (s)-[:ADDRESSES]->(:Need) } = 2 AND COUNT { (s)-[:SERVES]->() } = 1 "
        "AND COUNT { (s)-[:COVERS]->(:Area) } = 1) RETURN count(s)",
    )
    assert broken == 0
