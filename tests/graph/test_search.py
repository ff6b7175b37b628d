"""The score and reasons of partner search on a tiny directory: three services in Prizren
that differ only in what their referrals show."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from graph.driver import Graph
from graph.reference import ReferenceCache
from graph.search import (
    ACCEPTANCE,
    FEEDBACK,
    MIN_REFERRALS,
    RESPONSE_FAST,
    RESPONSE_WEEK,
    Match,
    PartnerSearch,
    SearchResult,
    search_partners,
)
from tests import directory

NOW = datetime(2026, 11, 24, tzinfo=UTC)
SEARCH = PartnerSearch(area_id="XK-prizren", needs=["psychosocial.trauma-therapy"])

# What graph/referrals/lifecycle.py keeps on a service from the referrals it received.
SET_STATS = """
MATCH (s:Service {id: $id})
SET s.referrals_received = $received, s.ack_median_hours = $hours,
    s.acceptance_rate = $acceptance, s.feedback_rate = $feedback
"""


@pytest.fixture
async def prizren(countries: Graph) -> Graph:
    await directory.build(countries)
    await directory.add_services(
        countries,
        [
            (id, directory.service(name=f"Trauma therapy {id}", expected_response_days=days))
            for id, days in (("svc-a", None), ("svc-b", None), ("svc-c", None), ("svc-d", 1))
        ],
    )
    return countries


async def _stats(graph: Graph, id: str, **stats: Any) -> None:
    values = {"received": None, "hours": None, "acceptance": None, "feedback": None} | stats
    async with graph.driver.session(database=graph.database) as session:
        await (await session.run(SET_STATS, id=id, **values)).consume()


async def _search(graph: Graph, cache: ReferenceCache | None = None) -> SearchResult:
    return await graph.read(
        search_partners,
        search=SEARCH,
        first=10,
        after=None,
        now=NOW,
        ageing_after_days=180,
        stale_after_days=365,
        cache=cache,
    )


def _by_id(result: SearchResult) -> dict[str, Match]:
    return {m.service_id: m for m in result.matches}


async def test_referrals_count_from_three_received(prizren: Graph) -> None:
    baseline = _by_id(await _search(prizren))["svc-a"].score
    # Two referrals that went perfectly do not decide anything yet.
    await _stats(prizren, "svc-a", received=MIN_REFERRALS - 1, hours=5.0, acceptance=1.0)
    await _stats(prizren, "svc-b", received=MIN_REFERRALS, hours=30.0, acceptance=1.0, feedback=0.5)
    found = _by_id(await _search(prizren))

    assert found["svc-a"].score == baseline
    assert not {r.kind for r in found["svc-a"].reasons} & {"answers_hours", "accepts"}
    assert found["svc-b"].score == pytest.approx(
        baseline + RESPONSE_FAST + ACCEPTANCE * 1.0 + FEEDBACK * 0.5
    )
    reasons = {r.kind: r.params for r in found["svc-b"].reasons}
    assert reasons["answers_hours"] == {"hours": 30, "count": MIN_REFERRALS}
    assert reasons["accepts"] == {"percent": 100}
    assert reasons["reports_outcomes"] == {"percent": 50}


async def test_the_responsive_service_ranks_first(prizren: Graph) -> None:
    await _stats(prizren, "svc-c", received=12, hours=50.0, acceptance=0.9, feedback=0.8)
    result = await _search(prizren)
    assert result.matches[0].service_id == "svc-c"
    reasons = {r.kind: r.params for r in result.matches[0].reasons}
    # Over two days the median is said in days.
    assert reasons["answers_days"] == {"days": 2, "count": 12}


async def test_a_measured_answer_time_replaces_the_stated_one(prizren: Graph) -> None:
    before = _by_id(await _search(prizren))
    # svc-d states an answer within a day; its referrals say a week (168 hours) at the median.
    assert before["svc-d"].score == before["svc-a"].score + RESPONSE_FAST
    await _stats(prizren, "svc-d", received=5, hours=168.0, acceptance=0.0, feedback=None)
    after = _by_id(await _search(prizren))
    assert after["svc-d"].score == pytest.approx(before["svc-a"].score + RESPONSE_WEEK)
    kinds = [r.kind for r in after["svc-d"].reasons]
    # Both are shown: what the service says and what its referrals show.
    assert "response" in kinds
    assert "answers_days" in kinds
    assert "reports_outcomes" not in kinds


async def test_the_cache_answers_like_the_database(prizren: Graph) -> None:
    cache = ReferenceCache()
    uncached = await _search(prizren)
    assert await _search(prizren, cache) == uncached
    assert cache.chains.get("XK-prizren") is not None
    assert cache.narrower.get("psychosocial.trauma-therapy") == ["psychosocial.trauma-therapy"]
    assert await _search(prizren, cache) == uncached


async def test_a_confirmed_duplicate_shows_once_as_its_canonical(prizren: Graph) -> None:
    assert "svc-b" in _by_id(await _search(prizren))
    async with prizren.driver.session(database=prizren.database) as session:
        await (
            await session.run(
                "MATCH (d:Service {id: 'svc-b'}), (c:Service {id: 'svc-a'}) "
                "CREATE (d)-[:SAME_AS]->(c)"
            )
        ).consume()
    found = _by_id(await _search(prizren))
    assert "svc-b" not in found
    assert "svc-a" in found
