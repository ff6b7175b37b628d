"""HSDS by-id lookups on data set M as the first requests of a fresh API process: what a
client waits for when it asks `/hsds/services/{id}` (and the organisation and
service-at-location of the same record) right after the API started. The first request
reads the reference data every HSDS answer needs, so that the lookups are timed without it.

    python -m bench.hsds_lookup [--skip 50000]

The record is the service at position `--skip` in id order, its organisation and its first
site; their HSDS ids are the ones the export gives them (stored HSDS id, else the derived
UUID). Each request goes through the application in process (ASGI, no network); the time of
each and the Neo4j transactions it took are printed. Needs M loaded in the benchmark Neo4j;
starts that Neo4j if it is not running and stops it only if it started it.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any, LiteralString

import httpx
import typer
from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from bench.neo4j import bench_graph, bench_instance, running_bench
from core.settings import Settings
from graph.hsds_ids import hsds_id, site_id
from homeward.app import create_app

console = Console()
app = typer.Typer(add_completion=False)

PICK: LiteralString = """
MATCH (s:Service) WITH s ORDER BY s.id SKIP $skip LIMIT 1
MATCH (o:Organisation)-[:PROVIDES]->(s)
RETURN o.id AS org, o.hsds_id AS org_hsds, s.id AS service, s.hsds_id AS service_hsds,
       COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location) RETURN [l.id, l.hsds_id]
                 ORDER BY l.id }[0] AS site
"""


async def _ids(skip: int) -> dict[str, str]:
    """The HSDS ids of one service, its organisation and its first site."""
    async with bench_graph() as graph:

        async def pick(tx: Any) -> Any:
            return await (await tx.run(PICK, skip=skip)).single(strict=True)

        r = await graph.read(pick)
    service = r["service_hsds"] or hsds_id("service", r["service"])
    ids = {
        "service": service,
        "organization": r["org_hsds"] or hsds_id("organization", r["org"]),
    }
    if r["site"] is not None:
        lid, stored = r["site"]
        ids["service_at_location"] = site_id(service, stored or hsds_id("location", lid))
    return ids


async def _run(skip: int) -> Table:
    ids = await _ids(skip)
    settings = Settings(
        NEO4J_URI=bench_instance().uri,
        HOMEWARD_DATA_KEYS=Fernet.generate_key().decode("ascii"),
        HOMEWARD_WEBHOOK_INTERVAL_S=0,
        HOMEWARD_HOUSEKEEPING_INTERVAL_S=0,
    )
    api = create_app(settings)
    table = Table("request (in this order)", "ms", "transactions", "status")
    paths = [
        # The export's reference data (taxonomies, areas) is read once per process by the
        # first request that needs it: read here first, so that the lookups after it are
        # timed apart from it.
        ("taxonomies (reference data, first request)", "/hsds/taxonomies"),
        ("service by id (first lookup)", f"/hsds/services/{ids['service']}"),
        ("organization", f"/hsds/organizations/{ids['organization']}"),
        ("service again", f"/hsds/services/{ids['service']}"),
    ]
    if "service_at_location" in ids:
        paths.append(
            ("service_at_location", f"/hsds/service_at_locations/{ids['service_at_location']}")
        )
    async with api.router.lifespan_context(api):
        transport = httpx.ASGITransport(app=api)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for name, path in paths:
                before = api.state.graph.transactions
                started = time.perf_counter()
                response = await client.get(path)
                ms = (time.perf_counter() - started) * 1000
                table.add_row(
                    name,
                    f"{ms:.0f}",
                    str(api.state.graph.transactions - before),
                    str(response.status_code),
                )
    return table


@app.command()
def main(skip: Annotated[int, typer.Option(min=0)] = 50_000) -> None:
    with running_bench():
        console.print(asyncio.run(_run(skip)))


if __name__ == "__main__":
    app()
