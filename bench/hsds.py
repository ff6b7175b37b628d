"""HSDS read API benchmark: sequential requests to `/hsds/` endpoints on data set M, through
the application in process (ASGI, no network), reporting the median and p95 per request and
the Neo4j transactions each took.

    python -m bench.hsds --requests 20

Needs data set M loaded in the benchmark Neo4j (`python -m bench.dataset load`); starts that
Neo4j if it is not running and stops it only if it started it. The number of requests is
bounded.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Annotated, Any

import httpx
import typer
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from bench.neo4j import bench_instance, running_bench
from core.settings import Settings
from homeward.app import create_app

console = Console()
app = typer.Typer(add_completion=False)

# name, path, query parameters (page numbers spread over the list)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("services, page 1", "/hsds/services", {"per_page": 50}),
    ("services, page 1000", "/hsds/services", {"per_page": 50, "page": 1000}),
    ("services, full", "/hsds/services", {"per_page": 50, "full": "true"}),
    ("services, search", "/hsds/services", {"search": "counselling", "per_page": 50}),
    (
        "services, 10 km of Prizren",
        "/hsds/services",
        {"lat": 42.2139, "lng": 20.7397, "radius_km": 10, "per_page": 50},
    ),
    ("organizations, page 100", "/hsds/organizations", {"per_page": 50, "page": 100}),
    ("service_at_locations, page 1", "/hsds/service_at_locations", {"per_page": 50}),
    ("taxonomy_terms", "/hsds/taxonomy_terms", {"per_page": 50}),
]


async def _run(requests: int) -> Table:
    instance = bench_instance()
    settings = Settings(
        NEO4J_URI=instance.uri,
        HOMEWARD_DATA_KEYS=Fernet.generate_key().decode("ascii"),
        HOMEWARD_WEBHOOK_INTERVAL_S=0,
        HOMEWARD_HOUSEKEEPING_INTERVAL_S=0,
    )
    api = create_app(settings)
    table = Table("request", "median ms", "p95 ms", "transactions", "items")
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            started = time.perf_counter()
            first = (await client.get("/hsds/services", params={"per_page": 1})).json()
            warm = (await client.get(f"/hsds/services/{first['contents'][0]['id']}")).status_code
            table.add_row(
                "first request + id index (once per process)",
                f"{(time.perf_counter() - started) * 1000:.0f}",
                "",
                "",
                str(warm),
            )
            for name, path, params in CASES:
                times, items, transactions = [], 0, 0
                for _ in range(requests):
                    before = api.state.graph.transactions
                    started = time.perf_counter()
                    response = await client.get(path, params=params)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text
                    transactions = api.state.graph.transactions - before
                    items = len(response.json()["contents"])
                times.sort()
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                table.add_row(
                    name,
                    f"{statistics.median(times):.0f}",
                    f"{p95:.0f}",
                    str(transactions),
                    str(items),
                )
    return table


@app.command()
def main(requests: Annotated[int, typer.Option(min=1, max=200)] = 20) -> None:
    with running_bench():
        console.print(asyncio.run(_run(requests)))


if __name__ == "__main__":
    app()
