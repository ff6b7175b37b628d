"""Writing services: registration, idempotent rewrites, references checked against the
graph, and the search facts kept in step with the relationships."""

from __future__ import annotations

from typing import Any

import pytest

from core.errors import ValidationFailed
from graph.driver import Graph
from graph.migrations import MIGRATIONS
from graph.services.models import ServiceInput
from graph.services.reads import get_service
from graph.services.writes import register_service
from graph.users import SYSTEM
from tests import directory


async def _count(graph: Graph, query: str) -> int:
    async with graph.driver.session(database=graph.database) as session:
        record = await (await session.run(query)).single()
    assert record is not None
    return int(record[0])


async def test_registered_service_reads_back_with_its_relations(directory_graph: Graph) -> None:
    data = directory.service(
        locations=[{"name": "Prizren office", "area": "XK-prizren"}],
        minimum_age=6,
        maximum_age=17,
    )
    created = await directory_graph.write(
        register_service, id="svc-1", data=data, actor=SYSTEM, allowed_organisations=None
    )
    assert created.organisation_id == "org-krct"
    assert created.need_codes == ["psychosocial.trauma-therapy"]
    assert created.target_group_codes == ["rae"]
    assert created.covered_area_ids == ["XK-prizren"]
    # A site without coordinates sits at its area's centroid.
    assert created.locations[0].area_id == "XK-prizren"
    assert created.locations[0].point is not None
    assert created.locations[0].point.lat == pytest.approx(42.2139)
    assert await directory_graph.read(get_service, id="svc-1") == created


async def test_writing_the_same_service_twice_changes_nothing(directory_graph: Graph) -> None:
    data = directory.service(locations=[{"area": "XK-prizren"}])
    await directory_graph.write(
        register_service, id="svc-1", data=data, actor=SYSTEM, allowed_organisations=None
    )
    before = await _count(directory_graph, "MATCH ()-[r]->() RETURN count(r)")
    await directory_graph.write(
        register_service, id="svc-1", data=data, actor=SYSTEM, allowed_organisations=None
    )
    assert await _count(directory_graph, "MATCH ()-[r]->() RETURN count(r)") == before
    assert await _count(directory_graph, "MATCH (l:Location) RETURN count(l)") == 1


async def test_every_unknown_reference_is_named(directory_graph: Graph) -> None:
    data = directory.service(
        organisation_id="org-nobody",
        needs=["psychosocial.trauma-therapy", "flying-lessons"],
        target_groups=["martians"],
        covers=["XK-atlantis"],
        locations=[{"area": "XK-prizren"}, {"area": "XK-nowhere"}],
        sending_countries=["DE", "QQ"],
    )
    with pytest.raises(ValidationFailed) as failure:
        await directory_graph.write(
            register_service, id="svc-2", data=data, actor=SYSTEM, allowed_organisations=None
        )
    assert sorted(p.field for p in failure.value.problems) == [
        "covers.0",
        "locations.1.area",
        "needs.1",
        "organisation_id",
        "sending_countries.1",
        "target_groups.0",
    ]
    assert await _count(directory_graph, "MATCH (s:Service) RETURN count(s)") == 0
    assert await _count(directory_graph, "MATCH (l:Location) RETURN count(l)") == 0


async def _search_facts(graph: Graph, id: str) -> dict[str, Any]:
    async with graph.driver.session(database=graph.database) as session:
        result = await session.run(
            "MATCH (s:Service {id: $id}) RETURN s {.need_codes, .target_group_codes, "
            ".covered_area_ids, .programme_ids, .site_points} AS facts",
            id=id,
        )
        record = await result.single(strict=True)
    facts: dict[str, Any] = record["facts"]
    return facts


async def test_a_service_keeps_its_search_facts_in_step_with_its_relations(
    directory_graph: Graph,
) -> None:
    site = {"id": "krct-prizren", "area": "XK-prizren", "point": {"lat": 42.21, "lon": 20.74}}
    await directory.add_services(
        directory_graph,
        [("svc-1", directory.service(locations=[site])), ("svc-2", directory.service())],
    )
    facts = await _search_facts(directory_graph, "svc-1")
    assert facts["need_codes"] == ["psychosocial.trauma-therapy"]
    assert facts["target_group_codes"] == ["rae"]
    assert facts["covered_area_ids"] == ["XK-prizren"]
    assert facts["programme_ids"] == []
    assert [(p.y, p.x) for p in facts["site_points"]] == [(42.21, 20.74)]

    # An edit replaces them with the relations.
    edited = directory.service(needs=["employment"], target_groups=[], covers=["XK"])
    await directory.add_services(directory_graph, [("svc-1", edited)])
    facts = await _search_facts(directory_graph, "svc-1")
    assert facts["need_codes"] == ["employment"]
    assert facts["target_group_codes"] == []
    assert facts["covered_area_ids"] == ["XK"]
    assert facts["site_points"] == []


async def test_a_shared_site_that_moves_moves_for_every_service_there(
    directory_graph: Graph,
) -> None:
    def at(lat: float) -> ServiceInput:
        site = {"id": "krct-office", "area": "XK-prizren", "point": {"lat": lat, "lon": 20.74}}
        return directory.service(locations=[site])

    await directory.add_services(directory_graph, [("svc-1", at(42.21)), ("svc-2", at(42.21))])
    await directory.add_services(directory_graph, [("svc-2", at(42.30))])
    for id in ("svc-1", "svc-2"):
        points = (await _search_facts(directory_graph, id))["site_points"]
        assert [p.y for p in points] == [42.30], id


async def test_migration_9_gives_services_written_before_it_their_search_facts(
    directory_graph: Graph,
) -> None:
    await directory.add_services(
        directory_graph, [("svc-1", directory.service(locations=[{"area": "XK-prizren"}]))]
    )
    async with directory_graph.driver.session(database=directory_graph.database) as session:
        await session.run(
            "MATCH (s:Service) REMOVE s.need_codes, s.target_group_codes, s.covered_area_ids, "
            "s.programme_ids, s.site_points"
        )
    (backfill,) = next(m for m in MIGRATIONS if m.version == 9).statements
    await directory_graph.run_schema(backfill)
    facts = await _search_facts(directory_graph, "svc-1")
    assert facts["need_codes"] == ["psychosocial.trauma-therapy"]
    assert facts["covered_area_ids"] == ["XK-prizren"]
    assert len(facts["site_points"]) == 1


async def test_search_facts_are_what_the_relationships_say_in_their_order(
    directory_graph: Graph,
) -> None:
    """The facts come from the rows written, not from reading the relationships back: they
    must still be exactly what a reading of the relationships gives (migration 9's), with
    codes that name nothing left out and everything sorted by code or id."""

    def at(lat: float) -> dict[str, Any]:
        return {"lat": lat, "lon": 20.74}

    sites = [
        {"id": "site-b", "area": "XK-prizren", "point": at(42.22)},
        {"id": "site-a", "area": "XK", "point": at(42.21)},
        {"id": "site-c", "area": "XK-prizren"},  # at the centroid
    ]
    data = directory.service(
        needs=["psychosocial.trauma-therapy", "no-such-need", "employment", "psychosocial"],
        covers=["XK-prizren", "XK", "XK-nowhere"],
        locations=sites,
    )
    edited = directory.service(
        needs=["psychosocial", "employment"], covers=["XK"], locations=sites[1:2]
    )
    (backfill,) = next(m for m in MIGRATIONS if m.version == 9).statements
    relationships = "MATCH (:Service {id: 'svc-1'})-[r]->() RETURN count(r)"
    # Needs, target groups, covered areas and sites that exist, for each version.
    for version, expected_relationships in ((data, 3 + 1 + 2 + 3), (edited, 2 + 1 + 1 + 1)):
        await directory.add_services(directory_graph, [("svc-1", version)])
        # Twice: rewriting the same input adds and removes nothing.
        await directory.add_services(directory_graph, [("svc-1", version)])
        written = await _search_facts(directory_graph, "svc-1")
        await directory_graph.run_schema(backfill)
        assert await _search_facts(directory_graph, "svc-1") == written
        assert await _count(directory_graph, relationships) == expected_relationships
    assert written["need_codes"] == ["employment", "psychosocial"]
    assert written["covered_area_ids"] == ["XK"]
    assert [p.y for p in written["site_points"]] == [42.21]
