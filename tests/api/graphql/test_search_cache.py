"""The search's result pages from memory (graph/search_cache.py): the models of the page's
services and organisations kept by an API process, with the same answers as reading them
from the database every time, and no older than the last write any other process committed.
Each test runs independent application instances on the one test Neo4j, as separate API
processes would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.graphql.search import _worded
from core.clock import utcnow
from core.settings import Settings
from graph.driver import Graph
from graph.organisations import OrganisationInput, OrganisationKind, upsert_organisations
from graph.referrals.responsiveness import update_responsiveness
from graph.search_index import SearchIndex
from graph.services import flag_for_reverification
from homeward.app import create_app
from seed.loader import seed
from tests.api.graphql.conftest import GraphQLClient
from tests.conftest import add_people

# Every field of a page that comes from the cached models.
SEARCH = """
query S($q: PartnerSearchInput!, $first: Int, $lang: String) {
  searchPartners(query: $q, first: $first, lang: $lang) {
    __typename
    ... on PartnerSearchResults {
      totalCount
      edges { cursor node {
        score distanceKm reasons
        service {
          id name description status capacity capacityNote lastVerifiedAt reverificationReason
          version updatedAt sendingCountries languages
          locations { id name address point { lat lon } }
          responsiveness { referralsReceived ackMedianHours acceptanceRate feedbackRate }
        }
        organisation { id name acronym phone email website version }
      } }
    }
  }
}
"""
QUERY = {"place": "Prizren", "needs": ["employment", "psychosocial"], "radiusKm": 60}

UPDATE_ORGANISATION = """
mutation U($id: ID!, $version: Int!, $input: OrganisationContactsInput!) {
  updateOrganisation(id: $id, expectedVersion: $version, input: $input) {
    __typename ... on OrganisationPayload { organisation { version } }
  }
}
"""
CAPACITY = """
mutation C($id: ID!) {
  setServiceCapacity(id: $id, capacity: FULL, note: "waiting list") { __typename }
}
"""
VERIFY = "mutation V($id: ID!) { verifyService(id: $id) { __typename } }"


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[FastAPI, GraphQLClient]]:
    """An application instance with its lifespan, once its search index (if any) is built."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        index: SearchIndex | None = application.state.search_index
        for _ in range(600):
            if index is None or index.built or not index.building:
                break
            await asyncio.sleep(0.1)
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield application, GraphQLClient(c)


async def _page(gql: GraphQLClient, **extra: Any) -> dict[str, Any]:
    variables = {"q": QUERY, "first": extra.pop("first", 50), "lang": extra.pop("lang", None)}
    body = await gql(SEARCH, variables)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["searchPartners"]
    assert result["__typename"] == "PartnerSearchResults"
    return result


@pytest.fixture
async def seeded(graph: Graph) -> dict[str, str]:
    await seed(graph)
    return await add_people(graph)


def _settings(settings: Settings, **env: Any) -> Settings:
    return settings.model_copy(update=env)


async def test_a_write_through_one_process_is_on_the_next_page_of_another(
    seeded: dict[str, str], graph: Graph, test_settings: Settings
) -> None:
    admin = seeded["admin"]
    uncached = _settings(test_settings, search_index_max_services=0)
    async with (
        running(test_settings) as (_, writer),
        running(test_settings) as (reader_app, reader),
        running(uncached) as (_, database),
    ):
        models = reader_app.state.search_index.models

        async def same() -> dict[str, Any]:
            mine, reference = await _page(reader), await _page(database)
            assert mine == reference
            return mine

        first = await same()
        # The whole result on one page, so that what changes stays on it.
        assert 20 <= len(first["edges"]) == first["totalCount"]
        misses = models.misses
        again = await same()
        assert again == first
        assert models.misses == misses, "a second page of the same results reads nothing"

        node = first["edges"][0]["node"]
        service, organisation = node["service"], node["organisation"]
        # The organisation's own edit (updateOrganisation) through the other process.
        contacts = {"name": "Renamed for the test", "phone": "+383 29 000 000"}
        updated = await writer(
            UPDATE_ORGANISATION,
            {"id": organisation["id"], "version": organisation["version"], "input": contacts},
            token=admin,
        )
        assert updated["data"]["updateOrganisation"]["__typename"] == "OrganisationPayload"
        page = await same()
        shown = [e["node"]["organisation"] for e in page["edges"]]
        assert {"id": organisation["id"], "name": "Renamed for the test"}.items() <= next(
            o for o in shown if o["id"] == organisation["id"]
        ).items()

        # Capacity and verification.
        for mutation in (CAPACITY, VERIFY):
            done = await writer(mutation, {"id": service["id"]}, token=admin)
            assert next(iter(done["data"].values()))["__typename"] == "ServicePayload", done
        page = await same()
        after = {e["node"]["service"]["id"]: e["node"]["service"] for e in page["edges"]}
        assert after[service["id"]]["capacity"] == "FULL"
        assert after[service["id"]]["capacityNote"] == "waiting list"
        assert after[service["id"]]["lastVerifiedAt"] != service["lastVerifiedAt"]

        # Writes of other parts of the application, through another driver: a referral
        # coming back flags the entry, referral statistics, an import of organisations.
        other = first["edges"][1]["node"]
        await graph.write(
            flag_for_reverification, id=other["service"]["id"], reason="could not contact",
            at=utcnow(),
        )  # fmt: skip
        await graph.write(
            update_responsiveness, service_ids=[e["node"]["service"]["id"] for e in first["edges"]]
        )
        imported = OrganisationInput(
            name="Imported name", kind=OrganisationKind.NGO, country="XK", phone="+383 38 111 111"
        )
        await graph.write(upsert_organisations, rows=[(other["organisation"]["id"], imported, {})])
        page = await same()
        nodes = {e["node"]["service"]["id"]: e["node"] for e in page["edges"]}
        flagged = nodes[other["service"]["id"]]
        assert flagged["service"]["reverificationReason"] == "could not contact"
        assert flagged["organisation"]["name"] == "Imported name"
        assert models.misses > misses


async def test_the_bound_on_page_models_and_without_them(
    seeded: dict[str, str], test_settings: Settings
) -> None:
    uncached = _settings(test_settings, search_index_max_services=0)
    small = _settings(test_settings, search_cache_max_entries=3)
    none = _settings(test_settings, search_cache_max_entries=0)
    async with (
        running(small) as (small_app, bounded),
        running(none) as (none_app, unkept),
        running(uncached) as (_, database),
    ):
        reference = await _page(database, first=12)
        for gql, application in ((bounded, small_app), (unkept, none_app)):
            for _ in range(2):
                assert await _page(gql, first=12) == reference
            models = application.state.search_index.models
            assert len(models.services) <= models.services.max_entries
            assert len(models.organisations) <= models.organisations.max_entries
            assert len(models.facts) <= models.facts.max_entries
        # Without a bound to keep them, every page reads its 12 services again.
        assert none_app.state.search_index.models.misses >= 2 * 12 * 2
        assert len(none_app.state.search_index.models.services) == 0
        assert len(small_app.state.search_index.models.services) == 3


async def test_above_the_index_bound_the_database_ranks_and_the_answer_is_the_same(
    seeded: dict[str, str], test_settings: Settings
) -> None:
    # The demo directory has more than 10 services: this process builds no index.
    bounded = _settings(test_settings, search_index_max_services=10)
    uncached = _settings(test_settings, search_index_max_services=0)
    async with running(bounded) as (application, gql), running(uncached) as (_, database):
        index: SearchIndex = application.state.search_index
        assert await _page(gql) == await _page(database)
        await asyncio.sleep(0.5)  # a build the search may have asked for
        assert not index.built
        assert index.size == 0
        assert index.models.misses == 0


async def test_cached_pages_word_reasons_in_each_language_as_the_database_path(
    seeded: dict[str, str], test_settings: Settings
) -> None:
    uncached = _settings(test_settings, search_index_max_services=0)
    async with running(test_settings) as (_, gql), running(uncached) as (_, database):
        for lang in ("en", "de", "sq", "sr-Latn", "sr-Cyrl", "en"):
            _worded.cache_clear()  # the database path words every reason anew
            reference = await _page(database, lang=lang)
            assert await _page(gql, lang=lang) == reference


async def test_stopping_the_application_ends_a_build_still_running(
    seeded: dict[str, str], test_settings: Settings
) -> None:
    application = create_app(test_settings)
    async with application.router.lifespan_context(application):
        index: SearchIndex = application.state.search_index
        building = index._building
        assert building is not None  # started with the application, not yet done
    # Ended before the driver closed, not left reading over closed connections.
    assert building.done()
    assert index._building is None


async def test_warm_searches_send_only_the_clock_read_and_share_it_yet_see_every_write(
    seeded: dict[str, str], test_settings: Settings
) -> None:
    """A warm search is answered from memory after one query, the clock read, outside a
    transaction of its own; searches that begin while a read is in flight share the next
    one. Neither may cost freshness: a write committed before a search began is on its
    page, however many searches run at once."""
    uncached = _settings(test_settings, search_index_max_services=0)
    async with (
        running(test_settings) as (reader_app, reader),
        running(test_settings) as (_, writer),
        running(uncached) as (_, database),
    ):
        reads: Graph = reader_app.state.graph
        first = await _page(reader)
        before = reads.transactions
        assert await _page(reader) == first
        assert reads.transactions - before == 1, "one query for a warm search"

        before = reads.transactions
        pages = await asyncio.gather(*(_page(reader) for _ in range(8)))
        assert all(page == first for page in pages)
        assert reads.transactions - before < 8, "concurrent searches share clock reads"

        service = first["edges"][0]["node"]["service"]
        done = await writer(CAPACITY, {"id": service["id"]}, token=seeded["admin"])
        assert done["data"]["setServiceCapacity"]["__typename"] == "ServicePayload", done
        pages = await asyncio.gather(*(_page(reader) for _ in range(8)))
        reference = await _page(database)
        for page in pages:
            assert page == reference
            shown = {e["node"]["service"]["id"]: e["node"]["service"] for e in page["edges"]}
            assert shown[service["id"]]["capacity"] == "FULL"
