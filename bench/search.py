"""Search benchmark: `searchPartners` over HTTP with concurrent clients, and the same searches
run directly through the driver (the Cypher the search runs, the page's services and
organisations included, plus the reasons of its page, not yet worded), in one run. A third
phase sends a trivial GraphQL query (`{ __typename }`) the same way: no database, no
resolver, so its latency is the floor that HTTP, FastAPI and Strawberry set on this machine
with this many clients.

Beside latencies, each phase reports the CPU time per request of the API process, the
benchmark Neo4j and this client (Linux `/proc`): on a machine shared with other work,
latencies mostly say how much of the two cores the run got, while CPU per request says what
a request costs.

    python -m bench.search --clients 8 --requests 800

Needs data set M loaded in the benchmark Neo4j (`python -m bench.dataset load`); starts that
Neo4j if it is not running, serves the API on 127.0.0.1 in a child process, and stops both
child processes it started when done. Requests go to loopback only and their number is
bounded.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from bench.neo4j import serving_api
from core.clock import utcnow
from core.settings import Settings
from graph.driver import Graph, create_driver
from graph.reference import ReferenceCache
from graph.search import PartnerSearch, search_partners
from homeward import neo4j_server

API_PORT = 8765
console = Console()
app = typer.Typer(add_completion=False)

QUERY = """
query S($q: PartnerSearchInput!) {
  searchPartners(query: $q, first: 20) {
    __typename
    ... on PartnerSearchResults {
      totalCount
      edges { node { score distanceKm reasons service { id name } organisation { name } } }
    }
    ... on ValidationError { message }
  }
}
"""

# Answered by Strawberry itself: what any request costs before a resolver runs.
TRIVIAL = "{ __typename }"

DESTINATIONS = [
    "XK-prishtine", "XK-prizren", "XK-peje", "XK-ferizaj", "XK-gjakove", "XK-gjilan",
    "XK-mitrovice-e-jugut", "XK-podujeve", "XK-vushtrri", "XK-suhareke", "XK-rahovec",
    "XK-fushe-kosove", "XK-lipjan", "XK-drenas", "XK-skenderaj", "XK-dragash",
]  # fmt: skip
NEEDS = [
    "employment", "employment.job-placement", "employment.vocational-training",
    "psychosocial.trauma-therapy", "psychosocial", "housing", "housing.reconstruction",
    "documents", "education.language-classes", "health.medical-care", "social-assistance",
    "legal-counselling",
]  # fmt: skip
SENDING = ["DE", "DE", "DE", "AT", "DK", "SE", "CH", None]
LANGUAGES = [["sq"], ["sq", "de"], ["sr"], ["rom", "sq"], []]


def workload(count: int, seed: int) -> list[dict[str, Any]]:
    """A reproducible mix of counsellors' searches (GraphQL input, camelCase)."""
    rng = random.Random(seed)
    queries = []
    for _ in range(count):
        query: dict[str, Any] = {
            "areaId": rng.choice(DESTINATIONS),
            "needs": rng.sample(NEEDS, rng.choice([1, 1, 2, 3])),
            "languages": rng.choice(LANGUAGES),
            "radiusKm": rng.choice([10, 25, 25, 50]),
        }
        sending = rng.choice(SENDING)
        if sending:
            query["sendingCountry"] = sending
        queries.append(query)
    return queries


def _to_model(query: dict[str, Any]) -> PartnerSearch:
    return PartnerSearch(
        area_id=query["areaId"],
        needs=query["needs"],
        languages=query["languages"],
        radius_km=query["radiusKm"],
        sending_country=query.get("sendingCountry"),
    )


async def _run_concurrently(
    clients: int, queries: list[Any], call: Callable[[Any], Awaitable[None]]
) -> list[float]:
    """Each client takes the next query until none are left; returns latencies in ms."""
    latencies: list[float] = []
    pending = list(reversed(queries))

    async def client() -> None:
        while pending:
            query = pending.pop()
            started = time.perf_counter()
            await call(query)
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def _cpu_ms(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far, in ms; 0 where /proc is missing."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU per request of the API, Neo4j and this client over one phase."""

    def __init__(self, api_pid: int | None, neo4j_pid: int | None) -> None:
        self.pids = {"api": api_pid, "neo4j": neo4j_pid}
        self.started: dict[str, float] = {}

    def start(self) -> None:
        self.started = {name: _cpu_ms(pid) for name, pid in self.pids.items()}
        self.started["client"] = time.process_time() * 1000

    def per_request(self, requests: int) -> dict[str, float]:
        now = {name: _cpu_ms(pid) for name, pid in self.pids.items()}
        now["client"] = time.process_time() * 1000
        return {f"cpu_{k}": (now[k] - self.started[k]) / requests for k in now}


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "p99": ordered[int(0.99 * (len(ordered) - 1))],
        "rps": len(ordered) / seconds,
    }


async def _http_phase(
    queries: list[dict[str, Any]], clients: int, cpu: CpuMeter, *, trivial: bool = False
) -> tuple[dict[str, float], int]:
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{API_PORT}", limits=limits, timeout=30
    ) as http:

        async def call(query: dict[str, Any]) -> None:
            nonlocal errors
            if trivial:
                response = await http.post("/graphql", json={"query": TRIVIAL})
                if response.status_code != 200 or "errors" in response.json():
                    errors += 1
                return
            response = await http.post("/graphql", json={"query": QUERY, "variables": {"q": query}})
            body = response.json()
            result = (body.get("data") or {}).get("searchPartners") or {}
            if response.status_code != 200 or result.get("__typename") != "PartnerSearchResults":
                errors += 1

        await _run_concurrently(clients, queries[: clients * 5], call)  # warm-up
        cpu.start()
        started = time.perf_counter()
        latencies = await _run_concurrently(clients, queries, call)
        summary = _summary(latencies, time.perf_counter() - started)
        return summary | cpu.per_request(len(latencies)), errors


async def _bare_phase(
    queries: list[dict[str, Any]], clients: int, settings: Settings, cpu: CpuMeter
) -> dict[str, float]:
    driver = create_driver(settings)
    graph = Graph(driver, settings.neo4j_database)
    now = utcnow()
    cache = ReferenceCache()  # as the API keeps one per process

    async def call(query: dict[str, Any]) -> None:
        await graph.read(
            search_partners,
            search=_to_model(query),
            first=20,
            after=None,
            now=now,
            ageing_after_days=settings.verification_ageing_days,
            stale_after_days=settings.verification_stale_days,
            cache=cache,
            # The API reads the page's services and organisations in the search's own
            # transaction: they are part of the Cypher a search runs.
            with_services=True,
        )

    try:
        await _run_concurrently(clients, queries[: clients * 5], call)  # warm-up
        cpu.start()
        started = time.perf_counter()
        latencies = await _run_concurrently(clients, queries, call)
        return _summary(latencies, time.perf_counter() - started) | cpu.per_request(len(latencies))
    finally:
        await driver.close()


@app.command()
def main(
    clients: int = typer.Option(8, min=1, max=64),
    requests: int = typer.Option(800, min=10, max=20000),
    seed: int = typer.Option(7),
) -> None:
    with serving_api(API_PORT) as (instance, api):
        queries = workload(requests, seed)
        settings = Settings(NEO4J_URI=instance.uri)
        cpu = CpuMeter(api.pid, neo4j_server.running_pid(instance))
        http, errors = asyncio.run(_http_phase(queries, clients, cpu))
        bare = asyncio.run(_bare_phase(queries, clients, settings, cpu))
        floor, floor_errors = asyncio.run(_http_phase(queries, clients, cpu, trivial=True))
        errors += floor_errors

    table = Table(
        "path", "requests", "p50 ms", "p95 ms", "p99 ms", "req/s",
        "CPU ms/req: API", "Neo4j", "client",
    )  # fmt: skip
    phases = (
        ("HTTP searchPartners", http),
        ("driver: search_partners", bare),
        ("HTTP { __typename } (floor)", floor),
    )
    for name, row in phases:
        table.add_row(
            name, f"{row['n']:.0f}", f"{row['p50']:.1f}", f"{row['p95']:.1f}",
            f"{row['p99']:.1f}", f"{row['rps']:.0f}",
            f"{row['cpu_api']:.1f}", f"{row['cpu_neo4j']:.1f}", f"{row['cpu_client']:.1f}",
        )  # fmt: skip
    console.print(table)
    console.print(
        f"clients {clients}, errors {errors}; ratio HTTP/driver: "
        f"p50 {http['p50'] / bare['p50']:.2f}x, p95 {http['p95'] / bare['p95']:.2f}x"
    )


if __name__ == "__main__":
    app()
