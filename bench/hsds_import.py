"""HSDS import speed on data set M: the project's importer beside a bare UNWIND load.

1. M (loaded in `.neo4j/bench` by `python -m bench.dataset load`) is exported once with the
   project's exporter (`importers.hsds.export`) into `.bench/hsds-m/`: CSV files and
   `datapackage.json`, what `homeward export hsds` writes. The export is kept and made again
   only when M was loaded again since, or with `--refresh`.
2. The imports go into a second database of the same size, `.neo4j/bench-hsds` on the bench
   port, made fresh for each run: migrations applied and M's reference data loaded (areas,
   needs, target groups, programmes: what the HSDS files refer to and do not carry).
3. Each repeat times, on an empty directory (every organisation, service and site deleted
   before, untimed):
   (a) the importer as `homeward import hsds` runs it: read the files, check every row,
       write (`importers.hsds.loader`), from opening the files to the last commit;
   (b) a bare load of the same organisation, site and service rows: plain Cypher, `UNWIND`
       batches of 5,000, each node MERGEd on its id with its properties, each relationship
       CREATEd, one statement per node label and relationship type, from the first to the
       last commit. Its rows come from the importer's own plan, so both write the same
       nodes, properties and relationships; what (b) leaves out is what the importer does
       beyond that (parsing and checking, replacing a record's relationships so that a
       second import converges, the services' search facts).
   Which of (a) and (b) runs first alternates between repeats. The medians of the repeats
   and their ratio are reported.

    python -m bench.hsds_import [--repeats 3] [--max-minutes 30] [--refresh] [--profile]

`--profile` runs the importer once more under cProfile and writes the profile to
`.bench/hsds-import.prof` (and its top functions to the console).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import os
import pstats
import shutil
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, LiteralString

import typer
from neo4j import AsyncManagedTransaction
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.dataset import MANIFEST, count_graph, load_reference, reference
from bench.neo4j import (
    BENCH_HOME,
    bench_graph,
    bench_instance,
    running_bench,
    start_bench,
    stop_bench,
    wipe_bench,
)
from core.batching import batches
from core.errors import HomewardError
from core.settings import PROJECT_ROOT
from graph.driver import Graph
from graph.migrations import migrate
from graph.organisations import organisation_properties
from homeward import neo4j_server
from importers.hsds.export import export_tables, write_tabular
from importers.hsds.loader import import_hsds, prepare
from importers.hsds.source import read_path
from importers.plan import Plan

CACHE = PROJECT_ROOT / ".bench"
EXPORT = CACHE / "hsds-m"
EXPORT_MANIFEST = EXPORT / "export.json"
TARGET_HOME = PROJECT_ROOT / ".neo4j" / "bench-hsds"
RESULTS = CACHE / "hsds-import.json"
PROFILE = CACHE / "hsds-import.prof"
BARE_BATCH = 5_000

console = Console()


class BenchAborted(HomewardError):
    """The run went past its time limit (`--max-minutes`)."""


# --- the export of M, made once ----------------------------------------------------------------


def _m_manifest() -> dict[str, Any]:
    if not MANIFEST.exists():
        raise HomewardError(
            f"no data set loaded in {BENCH_HOME}: run `python -m bench.dataset load` first"
        )
    manifest: dict[str, Any] = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return manifest


def _m_identity(manifest: dict[str, Any]) -> dict[str, Any]:
    return {k: manifest[k] for k in ("scale", "seed", "as_of", "loaded_at")}


def export_is_current(manifest: dict[str, Any]) -> bool:
    if not EXPORT_MANIFEST.exists():
        return False
    kept = json.loads(EXPORT_MANIFEST.read_text(encoding="utf-8"))
    return bool(kept.get("m") == _m_identity(manifest))


async def _export(out: Path) -> dict[str, int]:
    async with bench_graph() as graph:
        tables = await export_tables(graph)
    write_tabular(tables, out)
    return {table: len(rows) for table, rows in tables.items()}


def ensure_export(*, refresh: bool) -> dict[str, Any]:
    """The HSDS export of M, made now if missing or older than M's load."""
    manifest = _m_manifest()
    if not refresh and export_is_current(manifest):
        kept: dict[str, Any] = json.loads(EXPORT_MANIFEST.read_text(encoding="utf-8"))
        return kept
    instance = bench_instance()
    if neo4j_server.running_pid(instance) is None and neo4j_server.port_in_use(instance.port):
        raise HomewardError(f"port {instance.port} is in use; stop what listens there first")
    partial = CACHE / "hsds-m.partial"
    shutil.rmtree(partial, ignore_errors=True)
    with console.status(f"exporting M from {instance.home} as HSDS ..."), running_bench():
        t0 = time.perf_counter()
        rows = asyncio.run(_export(partial))
        seconds = time.perf_counter() - t0
    kept = {
        "m": _m_identity(manifest),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(seconds, 1),
        "rows": rows,
    }
    (partial / EXPORT_MANIFEST.name).write_text(json.dumps(kept, indent=2) + "\n", "utf-8")
    # Only a complete export replaces the kept one.
    shutil.rmtree(EXPORT, ignore_errors=True)
    partial.rename(EXPORT)
    console.print(f"exported M to {EXPORT} in {seconds:.0f} s")
    return kept


# --- the bare load ---------------------------------------------------------------------------

BARE_ORGANISATIONS: LiteralString = """
UNWIND $rows AS row
MATCH (home:Area {id: row.home})
MERGE (o:Organisation {id: row.id})
SET o += row.props
CREATE (o)-[:BASED_IN]->(home)
"""
BARE_SITES: LiteralString = """
UNWIND $rows AS row
MATCH (a:Area {id: row.area})
MERGE (l:Location {id: row.id})
SET l += row.props,
    l.point = CASE WHEN row.lat IS NULL THEN a.centroid
                   ELSE point({latitude: row.lat, longitude: row.lon}) END
CREATE (l)-[:IN]->(a)
"""
BARE_SERVICES: LiteralString = """
UNWIND $rows AS row
MATCH (o:Organisation {id: row.organisation})
MERGE (s:Service {id: row.id})
SET s += row.props
CREATE (o)-[:PROVIDES]->(s)
"""
# Relationship rows are [service id, other id] pairs.
BARE_LINKS: dict[str, LiteralString] = {
    "needs": "UNWIND $rows AS row MATCH (s:Service {id: row[0]}) MATCH (n:Need {code: row[1]}) "
    "CREATE (s)-[:ADDRESSES]->(n)",
    "groups": "UNWIND $rows AS row MATCH (s:Service {id: row[0]}) "
    "MATCH (t:TargetGroup {code: row[1]}) CREATE (s)-[:SERVES]->(t)",
    "covers": "UNWIND $rows AS row MATCH (s:Service {id: row[0]}) MATCH (a:Area {id: row[1]}) "
    "CREATE (s)-[:COVERS]->(a)",
    "programmes": "UNWIND $rows AS row MATCH (s:Service {id: row[0]}) "
    "MATCH (p:Programme {id: row[1]}) CREATE (s)-[:FUNDED_BY]->(p)",
    "locations": "UNWIND $rows AS row MATCH (s:Service {id: row[0]}) "
    "MATCH (l:Location {id: row[1]}) CREATE (s)-[:DELIVERED_AT]->(l)",
}


@dataclass(slots=True)
class BareRows:
    organisations: list[dict[str, Any]]
    sites: list[dict[str, Any]]
    services: list[dict[str, Any]]
    links: dict[str, list[list[str]]]


def bare_rows(plan: Plan) -> BareRows:
    """The importer's plan as flat rows for plain Cypher (same nodes, same properties)."""
    organisations = []
    for id, data, extra in plan.organisations:
        organisations.append(
            {
                "id": id,
                "home": data.based_in or data.country,
                "props": organisation_properties(data) | extra,
            }
        )
    sites: dict[str, dict[str, Any]] = {}
    services = []
    links: dict[str, list[list[str]]] = {key: [] for key in BARE_LINKS}
    for row in plan.services:
        services.append(
            {"id": row["id"], "organisation": row["organisation"], "props": row["props"]}
        )
        for key in ("needs", "groups", "covers", "programmes"):
            links[key] += [[row["id"], code] for code in row[key]]
        for site in row["locations"]:
            links["locations"].append([row["id"], site["id"]])
            sites[site["id"]] = {
                "id": site["id"],
                "area": site["area"],
                "lat": site["lat"],
                "lon": site["lon"],
                "props": {"name": site["name"], "address": site["address"]} | site.get("extra", {}),
            }
    return BareRows(organisations, list(sites.values()), services, links)


async def _run(tx: AsyncManagedTransaction, *, query: LiteralString, rows: list[Any]) -> None:
    await (await tx.run(query, rows=rows)).consume()


async def bare_load(graph: Graph, rows: BareRows, *, deadline: float) -> None:
    steps: list[tuple[LiteralString, Sequence[Any]]] = [
        (BARE_ORGANISATIONS, rows.organisations),
        (BARE_SITES, rows.sites),
        (BARE_SERVICES, rows.services),
        *((BARE_LINKS[key], rows.links[key]) for key in BARE_LINKS),
    ]
    for query, items in steps:
        for batch in batches(items, BARE_BATCH):
            _check(deadline)
            await graph.write(_run, query=query, rows=list(batch))


# --- the empty database ------------------------------------------------------------------------

CLEAR: LiteralString = """
MATCH (n) WHERE n:Organisation OR n:Service OR n:Location
CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 5000 ROWS
"""
DIRECTORY_COUNTS: LiteralString = """
RETURN COUNT { (:Organisation) } AS organisations, COUNT { (:Service) } AS services,
       COUNT { (:Location) } AS sites,
       COUNT { (:Service)-[:ADDRESSES|SERVES|COVERS|FUNDED_BY|DELIVERED_AT]->() } AS links
"""


async def directory_counts(tx: AsyncManagedTransaction) -> dict[str, int]:
    record = await (await tx.run(DIRECTORY_COUNTS)).single(strict=True)
    return {key: int(value) for key, value in dict(record).items()}


def _process_cpu(pid: int) -> float:
    """User and system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _check(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise BenchAborted("time limit reached (--max-minutes)")


# --- one run -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Repeat:
    order: str
    importer_s: float
    bare_s: float
    # CPU seconds of this process and of the Neo4j process during each load: on a shared
    # machine these say what a load costs when the wall clock says mostly how busy it was.
    importer_cpu: float = 0.0
    importer_neo4j_cpu: float = 0.0
    bare_cpu: float = 0.0
    bare_neo4j_cpu: float = 0.0

    @property
    def ratio(self) -> float:
        return self.importer_s / self.bare_s


async def _import(graph: Graph, deadline: float) -> tuple[float, Any]:
    def stop_when_late(kind: str, done: int) -> None:
        _check(deadline)

    t0 = time.perf_counter()
    report = await import_hsds(graph, read_path(EXPORT), after_batch=stop_when_late)
    seconds = time.perf_counter() - t0
    if report.errors:
        raise HomewardError(
            f"the import of M rejected rows, e.g. {report.errors[0]}; the figures would be wrong"
        )
    return seconds, report


async def measure(*, repeats: int, deadline: float, profile: bool) -> dict[str, Any]:
    ref = reference(seed=int(_m_manifest()["seed"]))
    async with bench_graph(TARGET_HOME) as graph:
        await migrate(graph)
        await load_reference(graph, ref)
        # The bare load's rows: the importer's own plan, made once, untimed.
        console.print("preparing the bare load's rows (untimed) ...")
        plan, _ = await prepare(graph, read_path(EXPORT))
        rows = bare_rows(plan)
        expected: dict[str, int] | None = None
        neo4j_pid = neo4j_server.running_pid(bench_instance(TARGET_HOME))
        if neo4j_pid is None:
            raise HomewardError(f"the Neo4j of {TARGET_HOME} is not running")
        results: list[Repeat] = []
        for index in range(repeats):
            order = "importer first" if index % 2 == 0 else "bare first"
            timings: dict[str, float] = {}
            for which in ("importer", "bare") if index % 2 == 0 else ("bare", "importer"):
                _check(deadline)
                await graph.run_schema(CLEAR)
                cpu, neo4j_cpu = time.process_time(), _process_cpu(neo4j_pid)
                if which == "importer":
                    timings[f"{which}_s"], _ = await _import(graph, deadline)
                else:
                    t0 = time.perf_counter()
                    await bare_load(graph, rows, deadline=deadline)
                    timings[f"{which}_s"] = time.perf_counter() - t0
                timings[f"{which}_cpu"] = time.process_time() - cpu
                timings[f"{which}_neo4j_cpu"] = _process_cpu(neo4j_pid) - neo4j_cpu
                console.print(
                    f"repeat {index + 1}: {which} {timings[f'{which}_s']:.1f} s "
                    f"(CPU: Python {timings[f'{which}_cpu']:.1f} s, "
                    f"Neo4j {timings[f'{which}_neo4j_cpu']:.1f} s; "
                    f"load average {os.getloadavg()[0]:.1f})"
                )
                counts = await graph.read(directory_counts)
                expected = expected or counts
                if counts != expected:
                    raise HomewardError(f"{which} wrote {counts}, the other load {expected}")
            results.append(Repeat(order, **timings))
        prof = None
        if profile:
            _check(deadline)
            await graph.run_schema(CLEAR)
            profiler = cProfile.Profile()
            profiler.enable()
            seconds, _ = await _import(graph, deadline)
            profiler.disable()
            profiler.dump_stats(PROFILE)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
            prof = {"seconds": seconds, "top": out.getvalue()}
        graph_counts = await graph.read(count_graph)
    return {
        "services": len(plan.services),
        "organisations": len(plan.organisations),
        "sites": len(rows.sites),
        "directory": expected,
        "repeats": [asdict(r) | {"ratio": r.ratio} for r in results],
        "nodes": graph_counts.nodes,
        "relationships": graph_counts.relationships,
        "profile": prof,
    }


def _summary(data: dict[str, Any]) -> None:
    services = data["services"]
    table = Table(title=f"Importing M as HSDS ({services:,} services), seconds")
    table.add_column("repeat")
    table.add_column("importer s", justify="right")
    table.add_column("importer services/s", justify="right")
    table.add_column("bare s", justify="right")
    table.add_column("bare services/s", justify="right")
    table.add_column("ratio", justify="right")
    for i, r in enumerate(data["repeats"], 1):
        table.add_row(
            f"{i} ({r['order']})",
            f"{r['importer_s']:.1f}",
            f"{services / r['importer_s']:,.0f}",
            f"{r['bare_s']:.1f}",
            f"{services / r['bare_s']:,.0f}",
            f"{r['ratio']:.2f}x",
        )
    m = data["medians"]
    table.add_row(
        "median",
        f"{m['importer_s']:.1f}",
        f"{m['importer_services_per_s']:,.0f}",
        f"{m['bare_s']:.1f}",
        f"{m['bare_services_per_s']:,.0f}",
        f"{m['ratio']:.2f}x",
    )
    console.print(table)


app = typer.Typer(help=__doc__.split("\n\n")[0] if __doc__ else None)


@app.command()
def main(
    repeats: Annotated[int, typer.Option(min=1, max=20, help="Repeats of (a) and (b).")] = 3,
    max_minutes: Annotated[
        float, typer.Option(min=1.0, help="Abort after this many minutes (export not counted).")
    ] = 30.0,
    refresh: Annotated[bool, typer.Option(help="Export M again even if kept.")] = False,
    profile: Annotated[bool, typer.Option(help="Profile one more import (cProfile).")] = False,
    keep_running: Annotated[
        bool, typer.Option(help="Leave the import database running afterwards.")
    ] = False,
) -> None:
    """Time the HSDS importer on data set M against a bare UNWIND load of the same rows."""
    try:
        exported = ensure_export(refresh=refresh)
        deadline = time.monotonic() + max_minutes * 60
        target = bench_instance(TARGET_HOME)
        if neo4j_server.running_pid(bench_instance()) is not None:
            raise HomewardError(
                f"the Neo4j of M runs on {target.uri}; the import database needs the port: "
                "stop it first (python -m bench.dataset stop)"
            )
        with console.status(f"making an empty database in {TARGET_HOME} ..."):
            wipe_bench(TARGET_HOME)
            start_bench(TARGET_HOME)
        try:
            data = asyncio.run(measure(repeats=repeats, deadline=deadline, profile=profile))
        finally:
            if not keep_running:
                stop_bench(TARGET_HOME)
    except HomewardError as exc:
        console.print(f"[red]error[/red] {escape(exc.message)}")
        raise typer.Exit(code=1) from exc
    importer = statistics.median(r["importer_s"] for r in data["repeats"])
    bare = statistics.median(r["bare_s"] for r in data["repeats"])
    data["medians"] = {
        "importer_s": importer,
        "bare_s": bare,
        "importer_services_per_s": data["services"] / importer,
        "bare_services_per_s": data["services"] / bare,
        "ratio": statistics.median(r["ratio"] for r in data["repeats"]),
    }
    data["export"] = exported
    data["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    _summary(data)
    if data["profile"]:
        console.print(data["profile"]["top"], markup=False, highlight=False)
        console.print(f"profile written to {PROFILE}")
    RESULTS.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    console.print(f"results written to {RESULTS}")


if __name__ == "__main__":
    app()
