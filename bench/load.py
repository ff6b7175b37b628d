"""Load test: a realistic mix of requests over HTTP on loopback against data set M, for a
bounded time per level of concurrency.

    python -m bench.load --clients 8 --clients 32 --seconds 60

Mix: 70 % `searchPartners` (anonymous, as bench/search.py sends them), 20 % reads
(`organisation(id)` with its services, `service(id)` with needs and coverage), 10 % writes
(`registerService` by a partner of an organisation of M, with the duplicate check it runs).
Each client sends its next request when the last one answered (a closed loop), so the
throughput is what the API sustains at that concurrency. An error is any answer other than
a 200 with the expected result type.

Needs data set M in the benchmark Neo4j (`python -m bench.dataset load`); starts that Neo4j
if it is not running and the API on a free port of 127.0.0.1, and stops what it started.
The benchmark's partner account and the services it registered are removed afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import typer
from neo4j import AsyncManagedTransaction
from rich.console import Console
from rich.table import Table

from bench.neo4j import serving_api, wait_for_search_index
from bench.search import DESTINATIONS, NEEDS, QUERY, CpuMeter, _summary, workload
from core.settings import Settings
from graph.driver import Graph, create_driver
from graph.users import Role, UserInput, create_user, issue_token, new_token
from homeward import neo4j_server

console = Console(width=200)
app = typer.Typer(add_completion=False)

USER_ID = "bench-load-partner"
NAME_PREFIX = "Load test service"
WARM_UP = 20

READ_ORGANISATION = """
query O($id: ID!) { organisation(id: $id) {
  id name country { name } services(first: 5) { nodes { id name freshness } }
} }
"""
READ_SERVICE = """
query S($id: ID!) { service(id: $id) {
  id name status capacity needs { code label } coverage { id name } organisation { name }
} }
"""
REGISTER = """
mutation R($input: ServiceInput!) { registerService(input: $input, confirmNotDuplicate: true) {
  __typename ... on ServicePayload { service { id } }
} }
"""


@dataclass
class Sample:
    organisations: list[str]
    services: list[str]
    writer_organisation: str


@dataclass
class Outcome:
    latencies: dict[str, list[float]] = field(
        default_factory=lambda: {"search": [], "read": [], "write": []}
    )
    errors: dict[str, int] = field(default_factory=lambda: {"search": 0, "read": 0, "write": 0})
    # What went wrong, by kind of request and cause: a status code, "timeout" or "answer"
    # (a 200 whose result was not the expected one).
    causes: Counter[str] = field(default_factory=Counter)
    registered: list[str] = field(default_factory=list)


async def _sample(tx: AsyncManagedTransaction) -> Sample:
    organisations = await (
        await tx.run("MATCH (o:Organisation) RETURN o.id AS id ORDER BY o.id LIMIT 2000")
    ).value("id")
    services = await (
        await tx.run("MATCH (s:Service) RETURN s.id AS id ORDER BY s.id LIMIT 5000")
    ).value("id")
    writer = await (
        await tx.run(
            "MATCH (o:Organisation {country: 'XK'}) RETURN o.id AS id ORDER BY o.id LIMIT 1"
        )
    ).single(strict=True)
    return Sample(organisations, services, writer["id"])


async def _remove(tx: AsyncManagedTransaction, *, ids: list[str]) -> None:
    await tx.run(
        "UNWIND $ids AS id MATCH (s:Service {id: id}) "
        "OPTIONAL MATCH (s)-[:DELIVERED_AT]->(l:Location) DETACH DELETE s, l",
        ids=ids,
    )
    await tx.run(
        "MATCH (u:User {id: $user}) OPTIONAL MATCH (u)-[:HAS_TOKEN]->(t:ApiToken) "
        "DETACH DELETE u, t",
        user=USER_ID,
    )


async def _prepare(graph: Graph) -> tuple[Sample, str]:
    sample = await graph.read(_sample)
    user = UserInput(
        email="bench-load@example.org",
        display_name="Load test partner (illustrative)",
        organisation_id=sample.writer_organisation,
        role=Role.PARTNER,
    )
    await graph.write(create_user, id=USER_ID, data=user)
    token, token_id, secret_hash = new_token()
    await graph.write(
        issue_token,
        user_id=USER_ID,
        token_id=token_id,
        secret_hash=secret_hash,
        label="bench.load",
        expires_at=None,
    )
    return sample, token


def _pick(rng: random.Random) -> str:
    roll = rng.random()
    return "search" if roll < 0.7 else "read" if roll < 0.9 else "write"


async def _phase(
    base_url: str, clients: int, seconds: float, sample: Sample, token: str, seed: int
) -> tuple[Outcome, float]:
    outcome = Outcome()
    searches = workload(5000, seed)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    deadline = 0.0

    async def request(
        http: httpx.AsyncClient, kind: str, rng: random.Random, n: int, patience_s: float = 30
    ) -> bool:
        if kind == "search":
            body = {"query": QUERY, "variables": {"q": rng.choice(searches)}}
            expected = "PartnerSearchResults"
            headers: dict[str, str] = {}
        elif kind == "read":
            if rng.random() < 0.5:
                body = {
                    "query": READ_ORGANISATION,
                    "variables": {"id": rng.choice(sample.organisations)},
                }
            else:
                body = {"query": READ_SERVICE, "variables": {"id": rng.choice(sample.services)}}
            expected = ""
            headers = {}
        else:
            service = {
                "organisationId": sample.writer_organisation,
                "name": f"{NAME_PREFIX} {seed}-{n}",
                "delivery": ["IN_PERSON"],
                "needs": rng.sample(NEEDS, 2),
                "covers": [rng.choice(DESTINATIONS)],
                "languages": ["sq"],
            }
            body = {"query": REGISTER, "variables": {"input": service}}
            expected = "ServicePayload"
            headers = {"Authorization": f"Bearer {token}"}
        response = await http.post("/graphql", json=body, headers=headers, timeout=patience_s)
        if response.status_code != 200:
            outcome.causes[f"{kind}: {response.status_code}"] += 1
            return False
        payload = response.json()
        data = next(iter((payload.get("data") or {}).values()), None)
        if (
            payload.get("errors")
            or data is None
            or (expected and data.get("__typename") != expected)
        ):
            outcome.causes[f"{kind}: answer"] += 1
            return False
        if kind == "write":
            outcome.registered.append(data["service"]["id"])
        return True

    async def client(number: int, http: httpx.AsyncClient) -> None:
        rng = random.Random(seed * 1000 + number)
        n = 0
        while time.monotonic() < deadline:
            kind = _pick(rng)
            n += 1
            started = time.perf_counter()
            try:
                ok = await request(http, kind, rng, number * 100000 + n)
            except httpx.TimeoutException:
                ok = False
                outcome.causes[f"{kind}: timeout"] += 1
            except httpx.HTTPError as exc:
                ok = False
                outcome.causes[f"{kind}: {type(exc).__name__}"] += 1
            outcome.latencies[kind].append((time.perf_counter() - started) * 1000)
            if not ok:
                outcome.errors[kind] += 1

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as http:
        # Untimed warm-up, with patience: the first requests plan the search's Cypher and
        # read M from disk into the page cache, which on a busy machine takes a while.
        warm = random.Random(seed)
        for n in range(WARM_UP):
            with contextlib.suppress(httpx.HTTPError):
                await request(http, ("search", "read")[n % 2], warm, -n, patience_s=180)
        deadline = time.monotonic() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(client(c, http) for c in range(clients)))
        return outcome, time.perf_counter() - started


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@app.command()
def main(
    clients: list[int] = typer.Option([8, 32], min=1, max=64),  # noqa: B008
    seconds: float = typer.Option(60.0, min=5, max=600),
    seed: int = typer.Option(11),
) -> None:
    port = _free_port()
    results: list[tuple[int, Outcome, float, dict[str, float]]] = []
    registered: list[str] = []

    async def run(instance: neo4j_server.LocalNeo4j, api_pid: int) -> None:
        settings = Settings(NEO4J_URI=instance.uri)
        driver = create_driver(settings)
        graph = Graph(driver, settings.neo4j_database)
        try:
            services = await wait_for_search_index(port)
            console.print(f"search index of {services:,} services built")
            await graph.write(_remove, ids=[])  # a previous run stopped before its cleanup
            sample, token = await _prepare(graph)
            for level in clients:
                cpu = CpuMeter([api_pid], neo4j_server.running_pid(instance))
                cpu.start()
                outcome, elapsed = await _phase(
                    f"http://127.0.0.1:{port}", level, seconds, sample, token, seed + level
                )
                total = sum(len(v) for v in outcome.latencies.values())
                results.append((level, outcome, elapsed, cpu.per_request(max(total, 1))))
                registered.extend(outcome.registered)
        finally:
            await graph.write(_remove, ids=registered)
            await driver.close()

    with serving_api(port) as (instance, api):
        asyncio.run(run(instance, api.pid))

    table = Table(
        "clients", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
        "search p95", "read p95", "write p95", "CPU ms/req API", "Neo4j",
    )  # fmt: skip
    for level, outcome, elapsed, cpu in results:
        every = [x for v in outcome.latencies.values() for x in v]
        overall = _summary(every, elapsed)
        errors = sum(outcome.errors.values())
        by_kind = {
            k: _summary(v, elapsed)["p95"] if v else 0.0 for k, v in outcome.latencies.items()
        }
        table.add_row(
            str(level), f"{overall['n']:.0f}", f"{overall['rps']:.1f}",
            f"{overall['p50']:.0f}", f"{overall['p95']:.0f}", f"{overall['p99']:.0f}",
            f"{errors} ({100 * errors / max(overall['n'], 1):.2f} %)",
            f"{by_kind['search']:.0f}", f"{by_kind['read']:.0f}", f"{by_kind['write']:.0f}",
            f"{cpu['cpu_api']:.1f}", f"{cpu['cpu_neo4j']:.1f}",
        )  # fmt: skip
        mix = {k: len(v) for k, v in outcome.latencies.items()}
        console.print(
            f"{level} clients: {mix} requests by kind, errors {outcome.errors}, "
            f"causes {dict(outcome.causes)}"
        )
    console.print(table)


if __name__ == "__main__":
    app()
