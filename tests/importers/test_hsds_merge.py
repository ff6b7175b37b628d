"""Imports merge, never erase: Homeward's own `/hsds/` answers (list items, full records,
NDJSON) imported into the directory they came from change nothing and create no second
record; an absent field or array leaves what is stored, an explicitly empty array clears it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from core.settings import Settings
from graph.driver import Graph
from graph.hsds_ids import hsds_id
from graph.organisations import organisations_after, organisations_by_ids
from graph.services import services_by_ids
from homeward.app import create_app
from importers.hsds.export import export_tables
from importers.hsds.loader import import_hsds
from importers.hsds.source import read_bytes
from importers.report import ImportRejected
from seed.loader import seed

COUNTS = """
CALL () { MATCH (o:Organisation) RETURN count(o) AS organisations }
CALL () { MATCH (s:Service) RETURN count(s) AS services }
CALL () { MATCH (l:Location) RETURN count(l) AS sites }
CALL () { MATCH (p:Programme) RETURN count(p) AS programmes }
RETURN organisations, services, sites, programmes
"""


async def _counts(graph: Graph) -> dict[str, int]:
    async with graph.driver.session(database=graph.database) as session:
        return dict(await (await session.run(COUNTS)).single(strict=True))


@pytest.fixture
async def demo(graph: Graph) -> Graph:
    await seed(graph)
    return graph


@pytest.fixture
async def client(demo: Graph, test_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    application: FastAPI = create_app(test_settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> bytes:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.content


async def test_importing_the_directorys_own_hsds_answers_changes_nothing(
    demo: Graph, client: httpx.AsyncClient
) -> None:
    before = await export_tables(demo)
    counts = await _counts(demo)
    some_service = json.loads(await _get(client, "/hsds/services", per_page=1))["contents"][0]
    some_org = json.loads(await _get(client, "/hsds/organizations", per_page=1))["contents"][0]
    answers = {
        # List items: one-to-one fields only, on purpose.
        "organizations-page.json": await _get(client, "/hsds/organizations", per_page=100),
        "services-page.json": await _get(client, "/hsds/services", per_page=100),
        "sites-page.json": await _get(client, "/hsds/service_at_locations", per_page=100),
        # Full records, one and in NDJSON.
        "one-service.json": await _get(client, f"/hsds/services/{some_service['id']}"),
        "one-organisation.json": await _get(client, f"/hsds/organizations/{some_org['id']}"),
        "services.ndjson": await _get(client, "/hsds/services", format="ndjson", full="true"),
        "sites.ndjson": await _get(client, "/hsds/service_at_locations", format="ndjson"),
        "organisations.ndjson": await _get(
            client, "/hsds/organizations", format="ndjson", full_service="true"
        ),
    }
    for name, data in answers.items():
        report = await import_hsds(demo, read_bytes(name, data))
        assert report.errors == [], (name, [str(p) for p in report.errors[:5]])
        assert await _counts(demo) == counts, name
        after = await export_tables(demo)
        for table in before:
            assert after[table] == before[table], (name, table)
        assert report.merged, name


SERVICE: dict[str, Any] = {
    "id": "8f7d0c8e-5f1c-4c36-9c3b-2f5b0e3f6a11",
    "organization_id": "0b8a3a3e-1a53-4b0a-9c5e-6e3c2b7d9f10",
    "name": "Legal advice on return",
    "status": "active",
    "languages": [
        {"id": "1e5f3c1a-2d44-4f9b-8e3a-0c6d7b8a9e01", "code": "sq"},
        {"id": "1e5f3c1a-2d44-4f9b-8e3a-0c6d7b8a9e02", "code": "de"},
    ],
    "service_areas": [
        {
            "id": "4b1c2d3e-5f60-4a7b-8c9d-0e1f2a3b4c5d",
            "service_id": "8f7d0c8e-5f1c-4c36-9c3b-2f5b0e3f6a11",
            "name": "Kosovo",
            "uri": "urn:homeward:area:XK",
        }
    ],
    "organization": {
        "id": "0b8a3a3e-1a53-4b0a-9c5e-6e3c2b7d9f10",
        "name": "Return Counsel",
        "description": "Legal help for returnees.",
        "email": "desk@example.org",
    },
}


async def test_an_absent_array_keeps_what_is_stored_and_an_empty_one_clears_it(
    demo: Graph,
) -> None:
    first = await import_hsds(
        demo, read_bytes("a.json", json.dumps(SERVICE).encode()), default_country="XK"
    )
    assert first.errors == [], [str(p) for p in first.errors]
    sid = str(SERVICE["id"])
    stored = (await demo.read(services_by_ids, ids=[sid]))[sid]
    assert stored.languages == ["sq", "de"]
    assert stored.covered_area_ids == ["XK"]

    # No `languages`, no `service_areas`, no `description`: all stay; a new name is taken.
    partial = {k: v for k, v in SERVICE.items() if k not in ("languages", "service_areas")}
    partial |= {"name": "Legal advice on return and reintegration"}
    await import_hsds(demo, read_bytes("b.json", json.dumps(partial).encode()))
    kept = (await demo.read(services_by_ids, ids=[sid]))[sid]
    assert kept.name == "Legal advice on return and reintegration"
    assert kept.languages == ["sq", "de"]
    assert kept.covered_area_ids == ["XK"]
    assert kept.need_codes == stored.need_codes

    # An explicitly empty array clears.
    cleared = partial | {"languages": []}
    await import_hsds(demo, read_bytes("c.json", json.dumps(cleared).encode()))
    emptied = (await demo.read(services_by_ids, ids=[sid]))[sid]
    assert emptied.languages == []
    assert emptied.covered_area_ids == ["XK"]


async def test_a_record_is_found_by_the_hsds_id_homeward_gives_it(demo: Graph) -> None:
    org = (await demo.read(organisations_after, after="", limit=1))[0]
    counts = await _counts(demo)
    # Homeward's id travels nowhere here: no identifiers, no attributes.
    renamed = {
        "id": hsds_id("organization", org.id),
        "name": org.name + " (renamed)",
        "organization_identifiers": [],
        "attributes": [],
    }
    report = await import_hsds(demo, read_bytes("org.json", json.dumps(renamed).encode()))
    assert report.errors == [], [str(p) for p in report.errors]
    assert report.merged == {"organizations": 1}
    assert await _counts(demo) == counts
    stored = (await demo.read(organisations_by_ids, ids=[org.id]))[org.id]
    assert stored.name == org.name + " (renamed)"
    assert stored.country == org.country


async def test_a_new_record_like_one_of_the_directory_is_reported_and_refused_when_strict(
    demo: Graph,
) -> None:
    org = (await demo.read(organisations_after, after="", limit=1))[0]
    twin = {
        "id": "5d0c9a61-3b7e-4f0e-9a44-2b1d8c7e6f01",
        "name": org.name,
        "website": org.website,
        "email": org.email,
    }
    data = json.dumps(twin).encode()
    with pytest.raises(ImportRejected) as refused:
        await import_hsds(
            demo, read_bytes("twin.json", data), strict=True, default_country=org.country
        )
    assert any(
        "probably repeats" in p.message and org.id in p.message for p in refused.value.report.errors
    ), [str(p) for p in refused.value.report.errors]
    counts = await _counts(demo)
    report = await import_hsds(demo, read_bytes("twin.json", data), default_country=org.country)
    assert any("probably repeats" in str(w) for w in report.warnings)
    assert (await _counts(demo))["organisations"] == counts["organisations"] + 1
