"""Coordination views on the seeded demo directory, which plants what they must find: three
offices in Ferizaj offering the same business start-up support, and trauma-therapy referrals
to municipalities without trauma care."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from neo4j import AsyncManagedTransaction

from core.errors import NotFound
from graph.coordination import service_gaps, service_overlaps, support_comparison
from graph.driver import Graph
from graph.migrations import MIGRATIONS
from seed.loader import seed

NOW = datetime(2026, 11, 24, tzinfo=UTC)
YEAR = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def seeded(graph: Graph) -> Graph:
    await seed(graph)
    return graph


async def test_the_three_ferizaj_offices_are_one_overlap(seeded: Graph) -> None:
    overlaps = await seeded.read(
        service_overlaps,
        area_id="XK",
        need="employment",
        target_group=None,
        since=YEAR,
        stale_after_days=3650,
        now=NOW,
        minimum_count=1,
    )
    ferizaj = [o for o in overlaps if o.area_id == "XK-ferizaj" and o.need.endswith("start-up")]
    assert len(ferizaj) == 1
    assert ferizaj[0].organisations == 3
    assert {s.service for s in ferizaj[0].services} == {
        "xk-iom-business-start-up-ferizaj",
        "de-awo-heimatgarten-business-start-up-ferizaj",
        "xk-drpr-business-start-up-ferizaj",
    }
    assert sum(s.referrals or 0 for s in ferizaj[0].services) == 6


async def test_trauma_care_gaps_put_demand_without_supply_first(seeded: Graph) -> None:
    cells = await seeded.read(
        service_gaps,
        area_id="XK",
        needs=["psychosocial.trauma-therapy"],
        since=YEAR,
        until=NOW,
        stale_after_days=3650,
        now=NOW,
        minimum_count=1,
    )
    assert len(cells) == 38  # every Kosovo municipality once
    unmet = [c.area_id for c in cells if c.unmet]
    assert set(unmet) == {"XK-ferizaj", "XK-gjilan", "XK-vushtrri"}
    assert [c.area_id for c in cells[:3]] == ["XK-ferizaj", "XK-gjilan", "XK-vushtrri"]
    prizren = next(c for c in cells if c.area_id == "XK-prizren")
    assert prizren.supply == 1
    assert prizren.demand == 3
    ferizaj = cells[0]
    assert ferizaj.nearest_partner is not None
    assert ferizaj.nearest_partner.service_id == "xk-krct-trauma-therapy"
    assert 10 < ferizaj.nearest_partner.distance_km < 60


async def test_support_differs_by_sending_country(seeded: Graph) -> None:
    comparison = await seeded.read(
        support_comparison,
        destination_id="XK-ferizaj",
        need="employment.business-start-up",
        sending_countries=["DE", "DK"],
    )
    by_country = {r.sending_country: {s.id for s in r.services} for r in comparison.rows}
    assert "de-awo-heimatgarten-business-start-up-ferizaj" in by_country["DE"]
    assert "de-awo-heimatgarten-business-start-up-ferizaj" not in by_country["DK"]
    assert "xk-drc-reintegration-denmark" in by_country["DK"]
    assert "xk-drc-reintegration-denmark" not in by_country["DE"]


async def test_unknown_area_or_need_is_named(seeded: Graph) -> None:
    with pytest.raises(NotFound, match="area 'XK-atlantis'"):
        await seeded.read(
            service_overlaps,
            area_id="XK-atlantis",
            need=None,
            target_group=None,
            since=YEAR,
            stale_after_days=3650,
            now=NOW,
            minimum_count=3,
        )
    with pytest.raises(NotFound, match="need 'flying'"):
        await seeded.read(
            support_comparison, destination_id="XK", need="flying", sending_countries=[]
        )


async def test_migration_10_gives_referrals_written_before_it_their_need_codes(
    seeded: Graph,
) -> None:
    async def needs(tx: AsyncManagedTransaction) -> dict[str, tuple[list[str], list[str]]]:
        result = await tx.run(
            "MATCH (r:Referral) RETURN r.id AS id, r.need_codes AS kept, "
            "COLLECT { MATCH (r)-[:FOR]->(n:Need) RETURN n.code ORDER BY n.code } AS linked"
        )
        return {r["id"]: (r["kept"], r["linked"]) async for r in result}

    written = await seeded.read(needs)
    assert written
    assert all(kept == linked != [] for kept, linked in written.values())
    await seeded.run_schema("MATCH (r:Referral) REMOVE r.need_codes")
    (backfill,) = next(m for m in MIGRATIONS if m.version == 10).statements
    await seeded.run_schema(backfill)
    assert await seeded.read(needs) == written
