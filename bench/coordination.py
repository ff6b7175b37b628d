"""Benchmark of the coordination views on data set M: the gap matrix of a country, and the
comparison of support by sending country (`supportComparison`).

    .venv/bin/python -m bench.coordination --repeats 7

Runs `service_gaps` for each country of M that has municipalities, for a broad and a narrow
need, after one warm-up pass, and prints the median and maximum per country. The budget
(DESIGN.md) is a country's gap matrix in under a second. Then `support_comparison` for a
country, a large and a smaller municipality of Kosovo, for two needs, every sending country
compared, the same way.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import datetime, timedelta

import typer
from rich.console import Console
from rich.table import Table

from bench.neo4j import bench_graph, running_bench
from core.clock import utcnow
from graph.coordination import GapCell, service_gaps, support_comparison
from graph.driver import Graph
from graph.migrations import migrate

app = typer.Typer(add_completion=False)
console = Console()

NEEDS = [["psychosocial"], ["psychosocial.trauma-therapy"], ["employment", "housing"]]

COUNTRIES = """
MATCH (c:Area {level: 'country'})
WHERE EXISTS { (:Area {level: 'municipality'})-[:PART_OF*1..2]->(c) }
RETURN c.id AS id,
       COUNT { (:Area {level: 'municipality'})-[:PART_OF*1..2]->(c) } AS municipalities
ORDER BY id
"""


async def _run(repeats: int) -> list[tuple[str, int, str, float, float, int]]:
    rows = []
    async with bench_graph() as graph:
        await migrate(graph)
        async with graph.driver.session() as session:
            countries = [(r["id"], r["municipalities"]) async for r in await session.run(COUNTRIES)]
        now = utcnow()
        for country, municipalities in countries:
            for needs in NEEDS:
                timings = []
                cells = 0
                for attempt in range(repeats + 1):
                    started = time.perf_counter()
                    found = await _gaps(graph, country, needs, now)
                    if attempt:  # the first is a warm-up
                        timings.append((time.perf_counter() - started) * 1000)
                    cells = len(found)
                rows.append(
                    (
                        country,
                        municipalities,
                        "+".join(needs),
                        statistics.median(timings),
                        max(timings),
                        cells,
                    )
                )
    return rows


SUPPORT_AT = ["XK", "XK-prishtine", "XK-prizren"]
SUPPORT_NEEDS = ["psychosocial", "employment"]


async def _support(repeats: int) -> list[tuple[str, str, float, float, int]]:
    rows = []
    async with bench_graph() as graph:
        for destination in SUPPORT_AT:
            for need in SUPPORT_NEEDS:
                timings = []
                services = 0
                for attempt in range(repeats + 1):
                    started = time.perf_counter()
                    found = await graph.read(
                        support_comparison,
                        destination_id=destination,
                        need=need,
                        sending_countries=[],
                    )
                    if attempt:  # the first is a warm-up
                        timings.append((time.perf_counter() - started) * 1000)
                    services = len({s.id for row in found.rows for s in row.services})
                rows.append((destination, need, statistics.median(timings), max(timings), services))
    return rows


async def _gaps(graph: Graph, country: str, needs: list[str], now: datetime) -> list[GapCell]:
    return list(
        await graph.read(
            service_gaps,
            area_id=country,
            needs=needs,
            since=now - timedelta(days=365),
            until=now,
            stale_after_days=365,
            now=now,
            minimum_count=3,  # the deployment default; suppression is part of the work timed
        )
    )


@app.command()
def main(repeats: int = typer.Option(7, min=1, max=50)) -> None:
    with running_bench():
        rows = asyncio.run(_run(repeats))
    table = Table("country", "municipalities", "needs", "median ms", "max ms", "cells")
    for country, municipalities, needs, median, worst, cells in rows:
        table.add_row(
            country, str(municipalities), needs, f"{median:.0f}", f"{worst:.0f}", str(cells)
        )
    console.print(table)
    with running_bench():
        support = asyncio.run(_support(repeats))
    table = Table("supportComparison at", "need", "median ms", "max ms", "services")
    for destination, need, median, worst, services in support:
        table.add_row(destination, need, f"{median:.0f}", f"{worst:.0f}", str(services))
    console.print(table)


if __name__ == "__main__":
    app()
