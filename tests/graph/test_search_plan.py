"""The search's queries use the indexes they were written for (checked with EXPLAIN)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, LiteralString

from neo4j.spatial import WGS84Point

from graph.driver import Graph
from graph.search import RANKED, TEXT, WEIGHTS
from seed.loader import seed


def _details(plan: dict[str, Any]) -> list[str]:
    found = [f"{plan['operatorType']} {plan.get('args', {}).get('Details', '')}"]
    for child in plan.get("children", []):
        found += _details(child)
    return found


async def _explain(graph: Graph, query: LiteralString, **params: Any) -> list[str]:
    async with graph.driver.session(database=graph.database) as session:
        result = await session.run("EXPLAIN " + query, params)
        summary = await result.consume()
    assert summary.plan is not None
    return _details(summary.plan)


async def test_candidates_use_the_point_index_and_id_lookups(graph: Graph) -> None:
    await seed(graph)  # plans depend on statistics; plan against a populated directory
    point = WGS84Point((20.74, 42.21))
    now = datetime.now(UTC)
    plan = await _explain(
        graph,
        RANKED,
        chain=["XK-prizren", "XK"],
        chain_points=[25.0, 12.0],
        point=point,
        south_west=WGS84Point((20.4, 42.0)),
        north_east=WGS84Point((21.0, 42.4)),
        radius_m=25000.0,
        statuses=["active"],
        include_full=True,
        include_remote=True,
        sending_country=None,
        return_type=None,
        text_ids=None,
        need_codes=["employment"],
        requested=[{"code": "employment", "codes": ["employment"]}],
        target_groups=[],
        languages=[],
        programme=None,
        fresh_since=now,
        stale_since=now,
        w=WEIGHTS,
        after=None,
        limit=21,
    )
    text = "\n".join(plan)
    assert "POINT INDEX" in text, text
    assert "Location(point)" in text, text
    # The destination chain goes through the id index (a seek or, with some statistics, a
    # scan of that index joined by hash); the variable name is the planner's choice.
    assert re.search(r"NodeUnique\w*\S* UNIQUE \w+:Area\(id\)|INDEX \w+:Area\(id\)", text), text
    assert "AllNodesScan" not in text, text
    assert "NodeByLabelScan" not in text, text


async def test_free_text_uses_the_full_text_index(graph: Graph) -> None:
    plan = await _explain(graph, TEXT, terms="trauma")
    assert any(line.startswith("ProcedureCall") for line in plan), plan
    assert any("db.index.fulltext.queryNodes" in line for line in plan), plan
