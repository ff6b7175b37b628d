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
Neo4j if it is not running, serves the API on 127.0.0.1 in child processes (the Cypher path
and the index path, each once more for the two-worker variant), and stops the child
processes it started when done. Requests go to loopback only and their number is
bounded.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from bench.neo4j import serving_api, start_api, wait_for_api, wait_for_search_index
from core.clock import utcnow
from core.settings import Settings
from graph.driver import Graph, create_driver
from graph.migrations import migrate
from graph.reference import ReferenceCache
from graph.search import PartnerSearch, search_partners
from homeward import neo4j_server

API_PORT = 8765
INDEX_PORT = 8766
# The second worker of each path in the two-worker variant (clients take them in turn).
API_PORT_2 = 8767
INDEX_PORT_2 = 8768
# Wide enough for the whole table: at a terminal's 80 columns rich cut its figures short.
console = Console(width=max(shutil.get_terminal_size().columns, 160))
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


def cpu_ms(pid: int | None) -> float:
    """CPU time (user + system) a process has used so far, in ms; 0 where /proc is missing."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU per request of the API (all its worker processes), Neo4j and this client over one
    phase."""

    def __init__(self, api_pids: list[int], neo4j_pid: int | None) -> None:
        self.api_pids = api_pids
        self.neo4j_pid = neo4j_pid
        self.started: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {
            "api": sum(cpu_ms(pid) for pid in self.api_pids),
            "neo4j": cpu_ms(self.neo4j_pid),
            "client": time.process_time() * 1000,
        }

    def start(self) -> None:
        self.started = self._now()

    def per_request(self, requests: int) -> dict[str, float]:
        now = self._now()
        return {f"cpu_{k}": (now[k] - self.started[k]) / requests for k in now}


def _rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux `/proc`); 0 where it is missing."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _summary(latencies: list[float], seconds: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "n": len(ordered),
        "p50": statistics.median(ordered),
        "p95": ordered[int(0.95 * (len(ordered) - 1))],
        "p99": ordered[int(0.99 * (len(ordered) - 1))],
        "rps": len(ordered) / seconds,
    }


async def _http_round(
    https: list[httpx.AsyncClient], queries: list[dict[str, Any]], clients: int, *, trivial: bool
) -> tuple[list[float], int]:
    """`queries` through `clients` concurrent clients; with more than one worker, each
    request goes to the next worker in turn."""
    errors = 0
    turn = 0

    async def call(query: dict[str, Any]) -> None:
        nonlocal errors, turn
        http = https[turn % len(https)]
        turn += 1
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

    return await _run_concurrently(clients, queries, call), errors


async def _identical(queries: list[dict[str, Any]]) -> tuple[int, int]:
    """How many of `queries` get the same response body from both paths, of how many."""
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{API_PORT}", timeout=60) as cypher,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{INDEX_PORT}", timeout=60) as index,
    ):
        same = 0
        for query in queries:
            body = {"query": QUERY, "variables": {"q": query}}
            a = (await cypher.post("/graphql", json=body)).json()
            b = (await index.post("/graphql", json=body)).json()
            same += a == b
        return same, len(queries)


# The paths compared: the workers (ports) each sends to, and whether it is the floor.
PATHS: dict[str, tuple[list[int], bool]] = {
    "cypher": ([API_PORT], False),
    "index": ([INDEX_PORT], False),
    "floor": ([INDEX_PORT], True),
}
TWO_WORKERS: dict[str, tuple[list[int], bool]] = {
    "cypher x2": ([API_PORT, API_PORT_2], False),
    "index x2": ([INDEX_PORT, INDEX_PORT_2], False),
}


async def _interleaved(
    queries: list[dict[str, Any]],
    clients: int,
    rounds: int,
    paths: dict[str, tuple[list[int], bool]],
    meters: dict[str, CpuMeter],
) -> tuple[dict[str, dict[str, float]], int]:
    """The paths in turn, `rounds` times over slices of the same queries, so that a change
    in the machine's load falls on all of them alike."""
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    latencies: dict[str, list[float]] = {path: [] for path in paths}
    seconds = dict.fromkeys(paths, 0.0)
    cpu = {path: {"cpu_api": 0.0, "cpu_neo4j": 0.0, "cpu_client": 0.0} for path in paths}
    errors = 0
    clients_by_path = {
        path: [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60)
            for port in ports
        ]
        for path, (ports, _) in paths.items()
    }
    try:
        for path, https in clients_by_path.items():  # warm-up
            await _http_round(https, queries[: clients * 5], clients, trivial=paths[path][1])
        size = max(len(queries) // rounds, 1)
        for r in range(rounds):
            part = queries[r * size : (r + 1) * size]
            for path, https in clients_by_path.items():
                meter = meters[path]
                meter.start()
                started = time.perf_counter()
                got, failed = await _http_round(https, part, clients, trivial=paths[path][1])
                seconds[path] += time.perf_counter() - started
                errors += failed
                latencies[path] += got
                for key, value in meter.per_request(1).items():
                    cpu[path][key] += value
    finally:
        for https in clients_by_path.values():
            for http in https:
                await http.aclose()
    summary = {}
    for path in paths:
        n = len(latencies[path])
        summary[path] = _summary(latencies[path], seconds[path]) | {
            key: total / n for key, total in cpu[path].items()
        }
    return summary, errors


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
    clients: list[int] = typer.Option([1, 8], min=1, max=64),  # noqa: B008
    requests: int = typer.Option(800, min=10, max=20000),
    rounds: int = typer.Option(4, min=1, max=50),
    seed: int = typer.Option(7),
    two_workers: bool = typer.Option(
        True, help="Also each path with two API worker processes, taken in turn."
    ),
    bare: bool = typer.Option(False, help="Also time the Cypher path through the driver."),
) -> None:
    """Today's Cypher path (an API process with the search index off), the index path (an
    API process with it) and the framework floor, and each path with two worker processes,
    interleaved in rounds, at each client count; then whether both paths give identical
    response bodies."""
    cypher_env = {"HOMEWARD_SEARCH_INDEX_MAX_SERVICES": "0"}
    with serving_api(API_PORT, env=cypher_env) as (instance, api):
        settings = Settings(NEO4J_URI=instance.uri)
        asyncio.run(_migrate(settings))
        started = [start_api(instance, INDEX_PORT)]
        if two_workers:
            started += [
                start_api(instance, API_PORT_2, cypher_env),
                start_api(instance, INDEX_PORT_2),
            ]
        try:
            index_ports = [INDEX_PORT, INDEX_PORT_2] if two_workers else [INDEX_PORT]
            for port in index_ports + ([API_PORT_2] if two_workers else []):
                wait_for_api(port)
            queries = workload(requests, seed)
            neo4j_pid = neo4j_server.running_pid(instance)
            # The index builds in the background at start-up; searches meanwhile take the
            # Cypher path, so wait for it to be built before measuring.
            built = [asyncio.run(wait_for_search_index(port)) for port in index_ports]
            same, compared = asyncio.run(_identical(queries))
            pids = {API_PORT: api.pid, INDEX_PORT: started[0].pid}
            if two_workers:
                pids |= {API_PORT_2: started[1].pid, INDEX_PORT_2: started[2].pid}
            paths = PATHS | (TWO_WORKERS if two_workers else {})
            meters = {
                path: CpuMeter([pids[port] for port in ports], neo4j_pid)
                for path, (ports, _) in paths.items()
            }
            runs = {
                n: asyncio.run(_interleaved(queries, n, rounds, paths, meters)) for n in clients
            }
            memory = {"cypher": _rss_mb(api.pid), "index": _rss_mb(started[0].pid)}
            driver = (
                asyncio.run(_bare_phase(queries, max(clients), settings, meters["cypher"]))
                if bare
                else None
            )
        finally:
            for process in started:
                process.terminate()
                process.wait(timeout=30)

    table = Table(
        "clients", "path", "requests", "p50 ms", "p95 ms", "p99 ms", "req/s",
        "CPU ms/req: API", "Neo4j", "client", "API+Neo4j",
    )  # fmt: skip
    errors = 0
    for n, (summary, failed) in runs.items():
        errors += failed
        for path, row in summary.items():
            table.add_row(
                str(n), path, f"{row['n']:.0f}", f"{row['p50']:.1f}", f"{row['p95']:.1f}",
                f"{row['p99']:.1f}", f"{row['rps']:.1f}", f"{row['cpu_api']:.1f}",
                f"{row['cpu_neo4j']:.1f}", f"{row['cpu_client']:.1f}",
                f"{row['cpu_api'] + row['cpu_neo4j']:.1f}",
            )  # fmt: skip
    if driver is not None:
        table.add_row(
            str(max(clients)), "driver: search_partners", f"{driver['n']:.0f}",
            f"{driver['p50']:.1f}", f"{driver['p95']:.1f}", f"{driver['p99']:.1f}",
            f"{driver['rps']:.0f}", "", f"{driver['cpu_neo4j']:.1f}",
            f"{driver['cpu_client']:.1f}", "",
        )  # fmt: skip
    console.print(table)
    pairs = [("index", "cypher")]
    if two_workers:
        pairs += [("index x2", "cypher"), ("index x2", "cypher x2")]
    for n, (summary, _) in runs.items():
        for mine, theirs in pairs:
            a, b = summary[mine], summary[theirs]
            cost = (a["cpu_api"] + a["cpu_neo4j"]) / (b["cpu_api"] + b["cpu_neo4j"])
            console.print(
                f"{n} client(s), {mine} / {theirs}: CPU (API + Neo4j) {cost:.3f}x, "
                f"req/s {a['rps'] / b['rps']:.2f}x, p95 {a['p95'] / b['p95']:.3f}x"
            )
    console.print(
        f"index of {built[0]} services; resident memory after the run: API with the index "
        f"{memory['index']:.0f} MB, without {memory['cypher']:.0f} MB"
    )
    console.print(f"identical response bodies: {same} of {compared}; errors {errors}")


async def _migrate(settings: Settings) -> None:
    """Migrations the loaded data set lacks (the change feed's clock, for the index)."""
    driver = create_driver(settings)
    try:
        await migrate(Graph(driver, settings.neo4j_database))
    finally:
        await driver.close()


if __name__ == "__main__":
    app()
