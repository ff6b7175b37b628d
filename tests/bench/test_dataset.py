"""Data set M, loaded at a tiny scale into the test Neo4j: the responsiveness the search
benchmark ranks with is what the application computes from the same referrals."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from rich.progress import Progress

from bench.dataset import DEFAULT_AS_OF, DEFAULT_SEED, DataSet, generate, load
from bench.referrals import referred_services
from graph.driver import Graph
from graph.referrals import ReferralStatus
from graph.referrals.responsiveness import update_responsiveness

Responsiveness = tuple[int | None, float | None, float | None, float | None]

READ: LiteralString = """
MATCH (s:Service)
RETURN s.id AS id, s.referrals_received AS received, s.ack_median_hours AS hours,
       s.acceptance_rate AS acceptance, s.feedback_rate AS feedback
"""

CLEAR: LiteralString = """
MATCH (s:Service)
REMOVE s.referrals_received, s.ack_median_hours, s.acceptance_rate, s.feedback_rate
"""


async def _read(tx: AsyncManagedTransaction) -> dict[str, Responsiveness]:
    return {
        r["id"]: (r["received"], r["hours"], r["acceptance"], r["feedback"])
        async for r in await tx.run(READ)
    }


async def _clear(tx: AsyncManagedTransaction) -> None:
    await tx.run(CLEAR)


async def _load(graph: Graph) -> DataSet:
    # 40 organisations, 200 services, 400 referrals; the gazetteer and taxonomy are whole.
    data = generate(scale=0.002, seed=DEFAULT_SEED, as_of=DEFAULT_AS_OF)
    with Progress(disable=True) as progress:
        await load(data, graph, progress=progress, deadline=None)
    return data


def _close(a: float | None, b: float | None) -> bool:
    return a is None if b is None else a is not None and math.isclose(a, b, rel_tol=1e-9)


def _same(a: Responsiveness, b: Responsiveness) -> bool:
    return a[0] == b[0] and all(_close(x, y) for x, y in zip(a[1:], b[1:], strict=True))


async def test_loaded_responsiveness_is_what_each_transition_would_keep(graph: Graph) -> None:
    data = await _load(graph)
    loaded = await graph.read(_read)
    referred = referred_services(data.referrals)
    assert len(loaded) == len(data.services)

    # Recomputed service by service, as a transition of one of its referrals would.
    await graph.write(_clear)
    for service in referred:
        assert await graph.write(update_responsiveness, service_ids=[service]) == 1
    recomputed = await graph.read(_read)
    different = {
        s: (loaded[s], recomputed[s]) for s in loaded if not _same(loaded[s], recomputed[s])
    }
    assert different == {}

    # Services nobody referred to carry nothing, as in the application.
    unreferred = set(loaded) - set(referred)
    assert unreferred
    assert all(loaded[s] == (None, None, None, None) for s in unreferred)
    # Something to compare: measured acknowledgement times and rates strictly between 0 and 1.
    measured = [loaded[s] for s in referred]
    assert sum(hours is not None for _, hours, _, _ in measured) > len(measured) / 2
    assert any(rate is not None and 0 < rate < 1 for _, _, rate, _ in measured)
    assert any(rate is not None and 0 < rate < 1 for _, _, _, rate in measured)


async def test_loaded_rates_follow_the_statuses_of_the_generated_referrals(
    graph: Graph,
) -> None:
    """The stamps M writes say what its statuses say: a referral in progress or completed
    was accepted, a completed one reached an outcome, a declined one was declined."""
    data = await _load(graph)
    loaded = await graph.read(_read)
    accepted_on = {ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS, ReferralStatus.COMPLETED}
    counts: dict[str, Counter[str]] = {}
    for row in data.referrals:
        props: dict[str, Any] = row["props"]
        if props["sent_at"] is None:
            continue
        status = ReferralStatus(props["status"])
        tally = counts.setdefault(row["service"], Counter())
        tally["received"] += 1
        tally["accepted"] += status in accepted_on
        tally["declined"] += status is ReferralStatus.DECLINED
        tally["completed"] += status is ReferralStatus.COMPLETED
    assert counts
    for service, tally in counts.items():
        received, _, acceptance, feedback = loaded[service]
        decided = tally["accepted"] + tally["declined"]
        assert received == tally["received"]
        assert _close(acceptance, tally["accepted"] / decided if decided else None)
        expected = tally["completed"] / tally["accepted"] if tally["accepted"] else None
        assert _close(feedback, expected)
