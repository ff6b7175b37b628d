"""Duplicate review: the batch scan on the demo directory, decisions, merges and undo."""

from __future__ import annotations

import pytest

from core.clock import utcnow
from graph.driver import Graph
from graph.duplicates.review import (
    CANONICAL_SERVICE,
    Decision,
    DuplicatePair,
    State,
    canonical_ids,
    get_candidate,
    list_candidates,
    resolve_duplicate,
    scan,
    undo_resolution,
)
from graph.duplicates.scoring import Kind
from graph.users import SYSTEM
from seed.loader import seed

ORIGINAL = "xk-one-to-one-kosova"
SECOND = "xk-1to1-kosove"
ORG_PAIR = f"organisation:{SECOND}:{ORIGINAL}"
SERVICE_PAIR = "service:xk-1to1-kosove-psychosocial:xk-one-to-one-psychosocial"
DRC_PAIR = "organisation:dk-drc:xk-drc"


async def _decide(
    graph: Graph,
    decision: Decision,
    *,
    candidate: str | None = None,
    pair: tuple[str, str] | None = None,
    canonical: str | None = None,
) -> DuplicatePair:
    a, b = pair or (None, None)
    return await graph.write(
        resolve_duplicate,
        candidate=candidate,
        a=a,
        b=b,
        decision=decision,
        note="reviewed",
        canonical_id=canonical,
        actor=SYSTEM,
        now=utcnow(),
    )


@pytest.fixture
async def directory(graph: Graph) -> Graph:
    await seed(graph)
    return graph


async def test_the_scan_finds_the_planted_duplicates(directory: Graph) -> None:
    orgs = await scan(directory, kind=Kind.ORGANISATION)
    services = await scan(directory, kind=Kind.SERVICE)
    assert orgs.records == 53
    assert services.records == 109

    pair = await directory.read(get_candidate, id=ORG_PAIR)
    assert pair.state is State.OPEN
    assert pair.score >= 0.75
    assert {"name", "phone"} <= {e.field for e in pair.evidence}
    service = await directory.read(get_candidate, id=SERVICE_PAIR)
    assert {"organisation", "needs", "site"} <= {e.field for e in service.evidence}

    # The three Ferizaj offices overlap (a coordination signal), they are not duplicates.
    found = await directory.read(
        list_candidates,
        kind=Kind.SERVICE,
        area_id=None,
        min_score=0,
        state=None,
        first=100,
        after=None,
    )
    ids = {e.node.a_id for e in found.edges} | {e.node.b_id for e in found.edges}
    assert not {i for i in ids if i.endswith("business-start-up-ferizaj")}


async def test_a_dismissal_and_a_merge_stick_through_a_rescan(directory: Graph) -> None:
    await scan(directory, kind=Kind.ORGANISATION)
    dismissed = await _decide(directory, Decision.DIFFERENT, candidate=DRC_PAIR)
    assert dismissed.state is State.DIFFERENT
    merged = await _decide(directory, Decision.SAME, candidate=ORG_PAIR, canonical=ORIGINAL)
    assert merged.canonical_id == ORIGINAL

    again = await scan(directory, kind=Kind.ORGANISATION)
    assert again.new == 0
    assert again.reopened == 0
    assert again.pruned == 0
    assert (await directory.read(get_candidate, id=DRC_PAIR)).state is State.DIFFERENT
    assert (await directory.read(get_candidate, id=ORG_PAIR)).state is State.SAME
    assert await directory.read(canonical_ids, ids=[SECOND, ORIGINAL]) == {
        SECOND: ORIGINAL,
        ORIGINAL: ORIGINAL,
    }
    open_ones = await directory.read(
        list_candidates,
        kind=Kind.ORGANISATION,
        area_id=None,
        min_score=0,
        state=State.OPEN,
        first=100,
        after=None,
    )
    assert DRC_PAIR not in {e.node.id for e in open_ones.edges}


async def test_a_changed_record_is_asked_about_again(directory: Graph) -> None:
    await scan(directory, kind=Kind.ORGANISATION)
    await _decide(directory, Decision.SAME, candidate=ORG_PAIR, canonical=ORIGINAL)
    unchanged = await scan(directory, kind=Kind.ORGANISATION)
    assert unchanged.reopened == 0
    async with directory.driver.session(database=directory.database) as session:
        await session.run(
            "MATCH (o:Organisation {id: $id}) SET o.email = 'office@1to1.example.org'", id=SECOND
        )
    again = await scan(directory, kind=Kind.ORGANISATION)
    assert again.reopened == 1
    pair = await directory.read(get_candidate, id=ORG_PAIR)
    assert pair.state is State.OPEN
    assert [e.action for e in pair.history] == ["same", "reopened"]


async def test_a_merge_hides_the_duplicate_and_undo_brings_it_back(directory: Graph) -> None:
    await scan(directory, kind=Kind.ORGANISATION)
    await scan(directory, kind=Kind.SERVICE)

    async def shown() -> list[str]:
        async with directory.driver.session(database=directory.database) as session:
            result = await session.run(
                "MATCH (s:Service) WHERE s.id IN $ids AND " + CANONICAL_SERVICE + " RETURN s.id",
                ids=["xk-1to1-kosove-psychosocial", "xk-one-to-one-psychosocial"],
            )
            return sorted([r[0] async for r in result])

    assert len(await shown()) == 2
    await _decide(
        directory,
        Decision.SAME,
        pair=("xk-one-to-one-psychosocial", "xk-1to1-kosove-psychosocial"),
        canonical="xk-one-to-one-psychosocial",
    )
    assert await shown() == ["xk-one-to-one-psychosocial"]
    undone = await directory.write(
        undo_resolution, candidate=SERVICE_PAIR, note="wrong", actor=SYSTEM, now=utcnow()
    )
    assert undone.state is State.OPEN
    assert [e.action for e in undone.history] == ["same", "undone"]
    assert len(await shown()) == 2
