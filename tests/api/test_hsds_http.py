"""HTTP around `/hsds/`: CORS for pages elsewhere, ETag and Last-Modified with 304s, a blank
search that filters nothing, proximity in metres (postcodes refused) and the profile."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from core.settings import Settings
from graph.driver import Graph
from homeward.app import create_app
from seed.loader import seed
from tests.conftest import wipe

# Prishtina: the demo directory has sites there.
PRISHTINA = {"lat": 42.6629, "lng": 21.1655}


@pytest.fixture(scope="module")
async def demo(migrated: Graph) -> Graph:
    await wipe(migrated)
    await seed(migrated)
    return migrated


@pytest.fixture(scope="module")
async def client(demo: Graph, test_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application: FastAPI = create_app(test_settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_a_page_elsewhere_may_read_the_hsds_api(client: httpx.AsyncClient) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    answer = await client.get("/hsds/services", headers=origin)
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "*"
    preflight = await client.options(
        "/hsds/services",
        headers=origin | {"Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
    # Only the read API: GraphQL stays same-origin.
    graphql = await client.get("/health", headers=origin)
    assert "access-control-allow-origin" not in graphql.headers


async def test_lists_and_records_answer_304_when_unchanged(client: httpx.AsyncClient) -> None:
    page = await client.get("/hsds/services", params={"per_page": 5})
    etag, modified = page.headers["etag"], page.headers["last-modified"]
    again = await client.get(
        "/hsds/services", params={"per_page": 5}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    since = await client.get(
        "/hsds/services", params={"per_page": 5}, headers={"If-Modified-Since": modified}
    )
    assert since.status_code == 304
    other = await client.get(
        "/hsds/services", params={"per_page": 6}, headers={"If-None-Match": etag}
    )
    assert other.status_code == 200
    one = page.json()["contents"][0]["id"]
    record = await client.get(f"/hsds/services/{one}")
    assert (
        await client.get(f"/hsds/services/{one}", headers={"If-None-Match": record.headers["etag"]})
    ).status_code == 304


async def test_a_blank_search_is_no_filter(client: httpx.AsyncClient) -> None:
    for path in ("/hsds/services", "/hsds/organizations", "/hsds/service_at_locations"):
        everything = (await client.get(path)).json()["total_items"]
        blank = (await client.get(path, params={"search": " "})).json()["total_items"]
        assert blank == everything > 0, path


async def test_proximity_in_metres_and_postcodes_refused(client: httpx.AsyncClient) -> None:
    near = await client.get("/hsds/service_at_locations", params=PRISHTINA | {"proximity": 2000})
    everywhere = await client.get("/hsds/service_at_locations")
    assert 0 < near.json()["total_items"] < everywhere.json()["total_items"]
    refused = await client.get("/hsds/service_at_locations", params={"postcode": "10000"})
    assert refused.status_code == 422
    assert "postcodes" in refused.text
    alone = await client.get("/hsds/services", params={"proximity": 2000})
    assert alone.status_code == 422


async def test_the_api_points_at_homewards_profile(client: httpx.AsyncClient) -> None:
    info = (await client.get("/hsds/")).json()
    assert info["profile"].endswith("/hsds/profile")
    answer = await client.get("/hsds/profile")
    assert answer.status_code == 200, answer.text
    profile = answer.json()
    assert profile["hsds_version"] == "3.0"
    assert "capacity" in profile["profile_fields"]["service"]
    assert "sending-country" in profile["profile_fields"]["service"]
