"""Reading services: coverage through the area tree, pages and cursors."""

from __future__ import annotations

import pytest

from core.errors import ValidationFailed
from graph.driver import Graph
from graph.services.reads import services_in_area, services_of_organisation
from tests import directory


async def test_covering_a_country_covers_its_municipalities(directory_graph: Graph) -> None:
    await directory.add_services(
        directory_graph,
        [
            ("svc-national", directory.service(name="National hotline", covers=["XK"])),
            ("svc-local", directory.service(name="Prizren clinic", covers=["XK-prizren"])),
            (
                "svc-site",
                directory.service(
                    name="Outreach team", covers=[], locations=[{"area": "XK-prizren"}]
                ),
            ),
        ],
    )
    in_prizren = await directory_graph.read(
        services_in_area, area_id="XK-prizren", first=10, after=None
    )
    assert [e.node.name for e in in_prizren.edges] == [
        "National hotline",
        "Outreach team",
        "Prizren clinic",
    ]
    # Kosovo as a whole shows only what is offered somewhere in it: sites count from below,
    # coverage of a single municipality does not make it cover the whole country.
    in_kosovo = await directory_graph.read(services_in_area, area_id="XK", first=10, after=None)
    assert [e.node.name for e in in_kosovo.edges] == ["National hotline", "Outreach team"]


async def test_pages_follow_on_without_gaps(directory_graph: Graph) -> None:
    await directory.add_services(
        directory_graph,
        [(f"svc-{i:02}", directory.service(name=f"Service {i:02}")) for i in range(7)],
    )
    seen: list[str] = []
    after = None
    while True:
        page = await directory_graph.read(
            services_of_organisation, organisation_id="org-krct", first=3, after=after
        )
        seen += [e.node.id for e in page.edges]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == [f"svc-{i:02}" for i in range(7)]


async def test_a_forged_cursor_is_a_validation_error(directory_graph: Graph) -> None:
    with pytest.raises(ValidationFailed, match="after: not a cursor"):
        await directory_graph.read(
            services_of_organisation, organisation_id="org-krct", first=3, after="!!nope"
        )
