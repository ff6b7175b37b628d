"""Benchmark of the coordination maps: cold and warm requests of `/exports/gaps.svg` (and
`.png`, and the supply, overlap and arrivals questions) through the application in process
(ASGI, no network), on the demo directory with its seeded referral history.

    python -m bench.maps --repeats 20

Uses its own database `.neo4j/bench-maps` (the size of the benchmark Neo4j, on its port:
`HOMEWARD_BENCH_NEO4J_PORT`), seeded here, so that data set M in `.neo4j/bench` is left
alone; the demo directory is the only one with municipality outlines for the whole of Kosovo,
which is what the maps draw. Starts that Neo4j if it is not running and stops it only if it
started it.

"cold" is the first request of a map in a fresh process (no projected outlines, no cached
map); "warm" the median and p95 of the following requests, which the route answers from its
kept maps (`reports.maps.cached_map`) as long as the graph does not change. Where the time of
a map drawn anew goes is measured beside it, with the functions the route calls: `gather` (the
graph reads), `draw` (spec, SVG or PNG) and `Graph.data_version` (the one round trip a kept
map costs).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from datetime import datetime
from typing import Annotated, Any

import httpx
import typer
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from bench.neo4j import BENCH_HOME, bench_graph, bench_instance, running_bench
from core.settings import Settings
from graph.driver import Graph
from graph.migrations import migrate
from homeward.app import create_app
from reports.maps import Question, draw, gather
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed

console = Console()
app = typer.Typer(add_completion=False)

MAPS_HOME = BENCH_HOME.parent / "bench-maps"
NEED = "psychosocial.trauma-therapy"
PERIOD = {"since": "2026-01-01", "until": "2026-12-31"}

# name, format, question
CASES: list[tuple[str, str, Question]] = [
    ("gap SVG", "svg", "gap"),
    ("gap PNG", "png", "gap"),
    ("supply SVG", "svg", "supply"),
    ("overlap SVG", "svg", "overlap"),
    ("arrivals SVG", "svg", "arrivals"),
]


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]


async def _load() -> None:
    async with bench_graph(MAPS_HOME) as graph:
        await migrate(graph)
        await seed(graph)
        await graph.write(create_demo_identities)


async def _split(
    graph: Graph, settings: Settings, question: Question, image_format: str, now: datetime
) -> tuple[float, float]:
    """One map's graph reads and drawing, in milliseconds, as the route does them."""
    started = time.perf_counter()
    data = await gather(
        graph,
        question=question,
        country="XK",
        need=NEED,
        since=datetime.fromisoformat(PERIOD["since"]).date(),
        until=datetime.fromisoformat(PERIOD["until"]).date(),
        now=now,
        stale_after_days=settings.verification_stale_days,
        minimum_count=settings.statistics_minimum_count,
        lang="en",
    )
    read = time.perf_counter()
    draw(
        data,
        question,
        "en",
        image_format=image_format,
        minimum_count=settings.statistics_minimum_count,
    )
    return (read - started) * 1000, (time.perf_counter() - read) * 1000


async def _run(repeats: int) -> Table:
    await _load()
    settings = Settings(
        NEO4J_URI=bench_instance(MAPS_HOME).uri,
        HOMEWARD_DATA_KEYS=Fernet.generate_key().decode("ascii"),
        HOMEWARD_WEBHOOK_INTERVAL_S=0,
        HOMEWARD_HOUSEKEEPING_INTERVAL_S=0,
        HOMEWARD_RATE_LIMIT="",
        HOMEWARD_RATE_LIMIT_ANONYMOUS="",
    )
    api = create_app(settings)
    coordinator = next(i for i in DEMO_IDENTITIES if i.role.value == "coordinator")
    headers = {"Authorization": f"Bearer {coordinator.token}"}
    table = Table(
        "map",
        "cold ms",
        "warm median ms",
        "warm p95 ms",
        "graph read ms",
        "draw ms",
        "version ms",
        "bytes",
    )
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, image_format, question in CASES:
                params: dict[str, Any] = {"need": NEED, "country": "XK", "question": question}
                params |= PERIOD
                path = f"/exports/gaps.{image_format}"
                times = []
                size = 0
                for _ in range(repeats + 1):
                    started = time.perf_counter()
                    response = await client.get(path, params=params, headers=headers)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                    size = len(response.content)
                reads, draws, versions = [], [], []
                graph: Graph = api.state.graph
                now = api.state.clock()
                for _ in range(repeats):
                    read, drawn = await _split(graph, settings, question, image_format, now)
                    reads.append(read)
                    draws.append(drawn)
                    started = time.perf_counter()
                    await graph.data_version()
                    versions.append((time.perf_counter() - started) * 1000)
                cold, warm = times[0], times[1:]
                table.add_row(
                    name,
                    f"{cold:.0f}",
                    f"{statistics.median(warm):.1f}",
                    f"{_p95(warm):.1f}",
                    f"{statistics.median(reads):.0f}",
                    f"{statistics.median(draws):.0f}",
                    f"{statistics.median(versions):.1f}",
                    str(size),
                )
    return table


@app.command()
def main(repeats: Annotated[int, typer.Option(min=1, max=200)] = 20) -> None:
    with running_bench(MAPS_HOME):
        console.print(asyncio.run(_run(repeats)))


if __name__ == "__main__":
    app()
