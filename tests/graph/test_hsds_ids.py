"""HSDS ids kept on records by every write, found with one indexed read, and given to
records written before migration 11 by its backfill."""

from __future__ import annotations

from typing import Any

import pytest

from graph.driver import Graph
from graph.hsds_ids import backfill_hsds_keys, find_by_hsds_id, hsds_id, site_id
from graph.migrations import MIGRATIONS
from graph.organisations import OrganisationInput, register_organisation, upsert_organisations
from graph.services import register_service, update_service, upsert_row, upsert_services
from graph.users import SYSTEM
from tests import directory

IMPORTED_SERVICE = "5A1B2C3D-0000-4000-8000-00000000AAAA"  # upper case, as a file may give it
IMPORTED_SITE = "5a1b2c3d-0000-4000-8000-00000000bbbb"


@pytest.fixture
async def directory_graph(countries: Graph) -> Graph:
    await directory.build(countries)
    return countries


async def _find(graph: Graph, kind: str, id: str) -> list[str] | None:
    return await graph.read(find_by_hsds_id, kind=kind, id=id)


async def _keys(graph: Graph) -> list[tuple[str, str, Any]]:
    """Every HSDS key in the graph, by kind and Homeward id."""
    query = """
    CALL () {
      MATCH (n) WHERE n:Organisation OR n:Service OR n:Location
      RETURN labels(n)[0] AS kind, n.id AS id, n.hsds_key AS key
      UNION ALL
      MATCH (s:Service)-[at:DELIVERED_AT]->(l:Location)
      RETURN 'DELIVERED_AT' AS kind, s.id + ' at ' + l.id AS id, at.hsds_key AS key
    }
    RETURN kind, id, key ORDER BY kind, id
    """
    async with graph.driver.session(database=graph.database) as session:
        result = await session.run(query)
        return [(r["kind"], r["id"], r["key"]) async for r in result]


async def test_a_registered_service_is_found_by_its_hsds_id_right_after(
    directory_graph: Graph,
) -> None:
    data = directory.service(locations=[{"id": "krct-office", "area": "XK-prizren"}])
    await directory_graph.write(
        register_service, id="svc-1", data=data, actor=SYSTEM, allowed_organisations=None
    )
    service = hsds_id("service", "svc-1")
    assert await _find(directory_graph, "service", service) == ["svc-1"]
    assert await _find(directory_graph, "service", service.upper()) == ["svc-1"]
    site = site_id(service, hsds_id("location", "krct-office"))
    assert await _find(directory_graph, "service_at_location", site) == ["svc-1", "krct-office"]
    # The upserted organisations of the directory, and one registered now.
    organisation = hsds_id("organization", "org-krct")
    assert await _find(directory_graph, "organization", organisation) == ["org-krct"]
    await directory_graph.write(
        register_organisation,
        id="org-new",
        data=OrganisationInput(name="New NGO", kind="ngo", country="XK"),
        actor=SYSTEM,
        confirm_not_duplicate=True,
    )
    new = hsds_id("organization", "org-new")
    assert await _find(directory_graph, "organization", new) == ["org-new"]
    # Ids of nothing, and ids of one kind asked as another, find nothing.
    assert await _find(directory_graph, "service", organisation) is None
    assert (
        await _find(directory_graph, "organization", "00000000-0000-0000-0000-000000000000") is None
    )


async def test_an_imported_record_keeps_its_hsds_id_through_an_edit(directory_graph: Graph) -> None:
    data = directory.service(locations=[{"id": "krct-office", "area": "XK-prizren"}])
    row = upsert_row("svc-1", data, {"hsds_id": IMPORTED_SERVICE})
    row["locations"][0]["extra"] = {"hsds_id": IMPORTED_SITE}
    await directory_graph.write(upsert_services, rows=[row])
    pair = site_id(IMPORTED_SERVICE, IMPORTED_SITE)
    assert await _find(directory_graph, "service", IMPORTED_SERVICE.lower()) == ["svc-1"]
    assert await _find(directory_graph, "service_at_location", pair) == ["svc-1", "krct-office"]
    # An edit through the API brings no HSDS id: the kept ones still find the service and
    # its site, now also at a second site.
    edited = directory.service(
        name="Trauma therapy for families",
        locations=[
            {"id": "krct-office", "area": "XK-prizren"},
            {"id": "krct-annex", "area": "XK-prizren"},
        ],
    )
    await directory_graph.write(
        update_service,
        id="svc-1",
        expected_version=1,
        data=edited,
        actor=SYSTEM,
        allowed_organisations=None,
    )
    assert await _find(directory_graph, "service", IMPORTED_SERVICE) == ["svc-1"]
    assert await _find(directory_graph, "service_at_location", pair) == ["svc-1", "krct-office"]
    annex = site_id(IMPORTED_SERVICE, hsds_id("location", "krct-annex"))
    assert await _find(directory_graph, "service_at_location", annex) == ["svc-1", "krct-annex"]
    # The derived id is not the service's: it came with one of its own.
    assert await _find(directory_graph, "service", hsds_id("service", "svc-1")) is None
    # An organisation imported with an HSDS id is found by it.
    imported_org = "5a1b2c3d-0000-4000-8000-00000000cccc"
    await directory_graph.write(
        upsert_organisations,
        rows=[
            (
                "org-krct",
                OrganisationInput(name="KRCT", kind="health_provider", country="XK"),
                {"hsds_id": imported_org},
            )
        ],
    )
    assert await _find(directory_graph, "organization", imported_org) == ["org-krct"]


async def test_migration_11_gives_records_written_before_it_their_hsds_keys(
    directory_graph: Graph,
) -> None:
    sites = [{"id": "krct-office", "area": "XK-prizren"}, {"id": "krct-annex", "area": "XK"}]
    imported = upsert_row(
        "svc-1", directory.service(locations=sites), {"hsds_id": IMPORTED_SERVICE}
    )
    imported["locations"][0]["extra"] = {"hsds_id": IMPORTED_SITE}
    plain = upsert_row("svc-2", directory.service(locations=sites[1:]), {})
    await directory_graph.write(upsert_services, rows=[imported, plain])
    written = await _keys(directory_graph)
    # Organisations, services, sites and services at sites: every one has its key.
    assert len(written) == 2 + 2 + 2 + 3
    assert all(key for _, _, key in written)

    async with directory_graph.driver.session(database=directory_graph.database) as session:
        await session.run("MATCH (n) WHERE n.hsds_key IS NOT NULL REMOVE n.hsds_key")
        await session.run("MATCH ()-[r:DELIVERED_AT]->() REMOVE r.hsds_key")
    assert all(key is None for _, _, key in await _keys(directory_graph))

    (migration,) = [m for m in MIGRATIONS if m.version == 11]
    assert migration.backfill is not None
    # In pages smaller than the directory, so that paging on is exercised.
    assert await backfill_hsds_keys(directory_graph, batch=1) == 2 + 2 + 2
    assert await _keys(directory_graph) == written
    # Again: the same keys (it recomputes).
    await migration.backfill(directory_graph)
    assert await _keys(directory_graph) == written
    pair = site_id(IMPORTED_SERVICE, IMPORTED_SITE)
    assert await _find(directory_graph, "service_at_location", pair) == ["svc-1", "krct-office"]


async def test_a_shared_site_given_a_new_hsds_id_re_keys_every_service_delivered_there(
    directory_graph: Graph,
) -> None:
    office = [{"id": "krct-office", "area": "XK-prizren"}]
    plain = [upsert_row(id, directory.service(locations=office), {}) for id in ("svc-1", "svc-2")]
    await directory_graph.write(upsert_services, rows=plain)
    other = hsds_id("service", "svc-2")
    before = site_id(other, hsds_id("location", "krct-office"))
    assert await _find(directory_graph, "service_at_location", before) == ["svc-2", "krct-office"]

    # A file that brings only svc-1, with an HSDS id of its own for the site they share.
    imported = upsert_row("svc-1", directory.service(locations=office), {})
    imported["locations"][0]["extra"] = {"hsds_id": IMPORTED_SITE}
    await directory_graph.write(upsert_services, rows=[imported])

    after = site_id(other, IMPORTED_SITE)
    assert await _find(directory_graph, "service_at_location", after) == ["svc-2", "krct-office"]
    assert await _find(directory_graph, "service_at_location", before) is None
    mine = site_id(hsds_id("service", "svc-1"), IMPORTED_SITE)
    assert await _find(directory_graph, "service_at_location", mine) == ["svc-1", "krct-office"]
    # The same keys the backfill computes from scratch.
    written = await _keys(directory_graph)
    await backfill_hsds_keys(directory_graph)
    assert await _keys(directory_graph) == written
