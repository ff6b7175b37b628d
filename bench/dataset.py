"""Reference data set "M" of the performance budgets, generated reproducibly and loaded into
the benchmark Neo4j (`bench.neo4j`).

M is 20,000 organisations, 100,000 services, about 2,000 areas, the 40 needs and 13 target
groups of the seed, and 200,000 referrals. It starts from the real gazetteer and taxonomy
(`seed.loader.read_seed`) and adds synthetic settlements, organisations, services and
referrals whose shape follows the field: organisations concentrate in capitals and big towns,
services mostly cover their own municipality, a few offices exist only on paper, some entries
were never verified, a few organisations were entered twice. Everything synthetic is marked
(`synthetic: true`, "Bench ..." names, "(synthetic)" settlements, `.bench.example` addresses).

The same seed, scale and `--as-of` date give the same data, byte for byte: every phase draws
from its own `random.Random` seeded from the seed and the phase's name, so that the gazetteer
is the same at every scale. Directory nodes are written with the application's own bulk
writes (`upsert_areas`, `upsert_organisations`, `upsert_services`, ...) in UNWIND batches of
5,000 rows, so the benchmark measures the graph the application builds. Referrals are written
by the application's bulk write of referral history (`graph.referrals.history.HISTORY`, with the
stamps of their lifecycle), and each service they went to then gets the responsiveness the
search ranks with from the application's own query
(`graph.referrals.responsiveness.update_responsiveness`).

Where things are: `bench.shape` (sizes and every distribution), `bench.sampling` (seeded
choices), `bench.gazetteer` (towns and synthetic settlements), `bench.directory`
(organisations and services), `bench.referrals`, `bench.neo4j` (the benchmark's Neo4j) and
this module (the whole data set, the load and the command line).

    python -m bench.dataset load [--scale 0.01] [--seed N] [--keep-running] [--reuse]
    python -m bench.dataset start | stop | status
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, LiteralString, TypeVar

import typer
from neo4j import AsyncManagedTransaction
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bench.directory import (
    OrganisationPlan,
    generate_organisations,
    generate_services,
    service_tables,
)
from bench.gazetteer import build_gazetteer
from bench.neo4j import BENCH_HOME, bench_graph, bench_instance, start_bench, stop_bench, wipe_bench
from bench.referrals import generate_referrals, referred_services, write_referrals
from bench.shape import M_ORGANISATIONS, M_REFERRALS
from core.batching import batches
from core.errors import HomewardError
from graph.areas import AreaRecord, area_rows, upsert_areas
from graph.driver import Graph
from graph.migrations import migrate
from graph.needs import NeedRecord, Term, upsert_needs
from graph.organisations import OrganisationInput, upsert_organisations
from graph.programmes import ProgrammeRecord, upsert_programmes
from graph.referrals.responsiveness import update_responsiveness
from graph.services import upsert_services
from graph.target_groups import upsert_target_groups
from homeward import neo4j_server
from seed.loader import read_seed

R = TypeVar("R")

DEFAULT_SEED = 20261124
# "Now" of the data set: verification dates, capacities and referrals are spread backwards
# from it. Fixed, so that the data does not change with the day it is generated.
DEFAULT_AS_OF = date(2026, 11, 24)
BATCH_SIZE = 5_000


class LoadAborted(HomewardError):
    """The load went past its time limit (`--max-minutes`)."""


# --- the whole data set --------------------------------------------------------------------


@dataclass(slots=True)
class DataSet:
    seed: int
    scale: float
    as_of: datetime
    areas: list[AreaRecord]
    needs: list[NeedRecord]
    target_groups: list[Term]
    programmes: list[ProgrammeRecord]
    organisations: list[OrganisationPlan]
    services: list[dict[str, Any]]
    referrals: list[dict[str, Any]]


def generate(*, scale: float, seed: int, as_of: date) -> DataSet:
    """Data set M at `scale` (organisations, services and referrals scale; the gazetteer and
    the taxonomy do not). Pure: touches no database."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    moment = datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)
    seed_data = read_seed()
    gaz = build_gazetteer(seed_data.areas, seed=seed)
    labels = {n.code: n.labels["en"] for n in seed_data.needs}
    orgs = generate_organisations(
        gaz, count=max(2, round(M_ORGANISATIONS * scale)), seed=seed, need_labels=labels
    )
    tables = service_tables(
        {n.code for n in seed_data.needs},
        {t.code for t in seed_data.target_groups},
        [p.id for p in seed_data.programmes],
        labels,
    )
    services, refs = generate_services(orgs, gaz, tables, seed=seed, as_of=moment)
    referrals = generate_referrals(
        refs, orgs, gaz, count=round(M_REFERRALS * scale), seed=seed, as_of=moment
    )
    return DataSet(
        seed=seed,
        scale=scale,
        as_of=moment,
        areas=gaz.records,
        needs=seed_data.needs,
        target_groups=seed_data.target_groups,
        programmes=seed_data.programmes,
        organisations=orgs,
        services=services,
        referrals=referrals,
    )


# --- loading -------------------------------------------------------------------------------


@dataclass(slots=True)
class Phase:
    name: str
    seconds: float
    rows: int | None = None
    # Rows per second of each batch: the first ones include query planning and a cold JVM.
    batch_rates: list[float] = field(default_factory=list)

    @property
    def rows_per_second(self) -> float | None:
        if self.rows is None or self.seconds <= 0:
            return None
        return self.rows / self.seconds

    @property
    def median_batch_rate(self) -> float | None:
        return statistics.median(self.batch_rates) if self.batch_rates else None


def _batches(rows: Sequence[R]) -> list[list[R]]:
    return [list(batch) for batch in batches(rows, BATCH_SIZE)]


async def _write(
    name: str,
    rows: Sequence[R],
    write: Callable[[list[R]], Awaitable[int]],
    *,
    progress: Progress,
    deadline: float | None,
) -> Phase:
    """Write `rows` in UNWIND batches of `BATCH_SIZE`, one transaction each."""
    task = progress.add_task(name, total=len(rows), rate="")
    phase = Phase(name, 0.0, len(rows))
    started = time.perf_counter()
    done = 0
    for batch in _batches(rows):
        if deadline is not None and time.monotonic() > deadline:
            raise LoadAborted(f"time limit reached while writing {name} ({done} rows written)")
        batch_started = time.perf_counter()
        written = await write(batch)
        if written != len(batch):
            raise HomewardError(f"{name}: wrote {written} of a batch of {len(batch)} rows")
        phase.batch_rates.append(len(batch) / (time.perf_counter() - batch_started))
        done += len(batch)
        elapsed = time.perf_counter() - started
        progress.update(task, advance=len(batch), rate=f"{done / elapsed:,.0f} rows/s")
    phase.seconds = time.perf_counter() - started
    return phase


COUNT_NODES: LiteralString = """
MATCH (n) UNWIND labels(n) AS label
RETURN label, count(*) AS count ORDER BY label
"""
COUNT_RELATIONSHIPS: LiteralString = """
MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS count ORDER BY type
"""


@dataclass(slots=True)
class GraphCounts:
    nodes: dict[str, int]
    relationships: dict[str, int]


async def count_graph(tx: AsyncManagedTransaction) -> GraphCounts:
    nodes = {r["label"]: r["count"] async for r in await tx.run(COUNT_NODES)}
    rels = {r["type"]: r["count"] async for r in await tx.run(COUNT_RELATIONSHIPS)}
    return GraphCounts(nodes=nodes, relationships=rels)


@dataclass(slots=True)
class Reference:
    """What M's directory refers to: the gazetteer and the taxonomy."""

    areas: list[AreaRecord]
    needs: list[NeedRecord]
    target_groups: list[Term]
    programmes: list[ProgrammeRecord]


def reference(*, seed: int) -> Reference:
    """M's reference data alone (the gazetteer does not depend on the scale)."""
    seed_data = read_seed()
    gaz = build_gazetteer(seed_data.areas, seed=seed)
    return Reference(gaz.records, seed_data.needs, seed_data.target_groups, seed_data.programmes)


async def load_reference(
    graph: Graph, ref: Reference, *, advance: Callable[[int], object] = lambda n: None
) -> None:
    for batch in _batches(area_rows(ref.areas)):
        await graph.write(upsert_areas, rows=batch)
        advance(len(batch))
    await graph.write(upsert_needs, records=ref.needs)
    await graph.write(upsert_target_groups, records=ref.target_groups)
    await graph.write(upsert_programmes, records=ref.programmes)
    advance(len(ref.needs) + len(ref.target_groups))


async def load(
    data: DataSet, graph: Graph, *, progress: Progress, deadline: float | None
) -> list[Phase]:
    phases: list[Phase] = []

    started = time.perf_counter()
    applied = await migrate(graph)
    phases.append(Phase(f"migrate (applied {applied or 'none'})", time.perf_counter() - started))

    started = time.perf_counter()
    reference_rows = len(data.areas) + len(data.needs) + len(data.target_groups)
    task = progress.add_task("reference data", total=reference_rows, rate="")
    await load_reference(
        graph,
        Reference(data.areas, data.needs, data.target_groups, data.programmes),
        advance=lambda n: progress.update(task, advance=n),
    )
    phases.append(
        Phase(
            "areas, needs, target groups, programmes",
            time.perf_counter() - started,
            reference_rows + len(data.programmes),
        )
    )

    org_rows = [(o.id, o.data, o.extra) for o in data.organisations]

    async def write_orgs(batch: list[tuple[str, OrganisationInput, dict[str, Any]]]) -> int:
        return await graph.write(upsert_organisations, rows=batch)

    async def write_services(batch: list[dict[str, Any]]) -> int:
        return await graph.write(upsert_services, rows=batch)

    async def write_refs(batch: list[dict[str, Any]]) -> int:
        return await graph.write(write_referrals, rows=batch)

    async def write_responsiveness(batch: list[str]) -> int:
        return await graph.write(update_responsiveness, service_ids=batch)

    phases.append(
        await _write("organisations", org_rows, write_orgs, progress=progress, deadline=deadline)
    )
    phases.append(
        await _write(
            "services", data.services, write_services, progress=progress, deadline=deadline
        )
    )
    phases.append(
        await _write("referrals", data.referrals, write_refs, progress=progress, deadline=deadline)
    )
    phases.append(
        await _write(
            "responsiveness",
            referred_services(data.referrals),
            write_responsiveness,
            progress=progress,
            deadline=deadline,
        )
    )
    return phases


# --- command line --------------------------------------------------------------------------

app = typer.Typer(
    help=(
        "Data set M of the benchmarks, on its own Neo4j (.neo4j/bench, port 7698 or "
        "HOMEWARD_BENCH_NEO4J_PORT)."
    ),
    no_args_is_help=True,
)
console = Console()
MANIFEST = BENCH_HOME / "dataset.json"


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description:<14}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=console,
    )


def _report(phases: list[Phase], counts: GraphCounts) -> None:
    table = Table(title="Loading data set M")
    table.add_column("phase")
    table.add_column("rows", justify="right")
    table.add_column("seconds", justify="right")
    table.add_column("rows/s", justify="right")
    table.add_column("median batch rows/s", justify="right")
    for phase in phases:
        rate, median = phase.rows_per_second, phase.median_batch_rate
        table.add_row(
            phase.name,
            f"{phase.rows:,}" if phase.rows is not None else "",
            f"{phase.seconds:.1f}",
            f"{rate:,.0f}" if rate is not None else "",
            f"{median:,.0f}" if median is not None else "",
        )
    console.print(table)
    for title, values in (("nodes", counts.nodes), ("relationships", counts.relationships)):
        summary = Table(title=title)
        summary.add_column("label" if title == "nodes" else "type")
        summary.add_column("count", justify="right")
        for key, value in values.items():
            summary.add_row(key, f"{value:,}")
        summary.add_row("total", f"{sum(values.values()):,}")
        console.print(summary)


@app.command("load")
def load_command(
    scale: Annotated[
        float, typer.Option(min=0.0001, max=10.0, help="1.0 is M; 0.01 is 1% of it.")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = DEFAULT_SEED,
    as_of: Annotated[
        str, typer.Option(help="The data set's 'today' (YYYY-MM-DD).")
    ] = DEFAULT_AS_OF.isoformat(),
    reuse: Annotated[
        bool, typer.Option(help="Load into the existing bench database instead of wiping it.")
    ] = False,
    keep_running: Annotated[
        bool, typer.Option(help="Leave the bench Neo4j running after the load.")
    ] = False,
    max_minutes: Annotated[
        float | None, typer.Option(help="Abort the writes after this many minutes.")
    ] = None,
) -> None:
    """Generate data set M and load it into the bench Neo4j (wiped first unless --reuse)."""
    started = time.monotonic()
    deadline = started + max_minutes * 60 if max_minutes is not None else None
    instance = bench_instance()
    phases: list[Phase] = []

    t0 = time.perf_counter()
    with console.status(f"generating data set M at scale {scale} (seed {seed}) ..."):
        data = generate(scale=scale, seed=seed, as_of=date.fromisoformat(as_of))
    phases.append(Phase("generate (Python, no database)", time.perf_counter() - t0))
    console.print(
        f"generated {len(data.areas):,} areas, {len(data.organisations):,} organisations, "
        f"{len(data.services):,} services, {len(data.referrals):,} referrals "
        f"in {phases[-1].seconds:.1f} s"
    )

    try:
        t0 = time.perf_counter()
        with console.status(f"starting the bench Neo4j on {instance.uri} ..."):
            if not reuse:
                wipe_bench()
            # Until this load completes, the folder holds no data set anyone should measure.
            MANIFEST.unlink(missing_ok=True)
            pid = start_bench()
        phases.append(
            Phase("start Neo4j" + (" (wiped)" if not reuse else ""), time.perf_counter() - t0)
        )
        console.print(f"bench Neo4j up on {instance.uri} (pid {pid}, data in {instance.home})")

        async def main() -> tuple[list[Phase], GraphCounts]:
            async with bench_graph() as graph:
                with _progress() as progress:
                    written = await load(data, graph, progress=progress, deadline=deadline)
                t1 = time.perf_counter()
                counts = await graph.read(count_graph)
                written.append(Phase("count nodes and relationships", time.perf_counter() - t1))
                return written, counts

        written, counts = asyncio.run(main())
        phases += written
        total = time.monotonic() - started
        phases.append(Phase("total (wall clock)", total))
        _report(phases, counts)
        MANIFEST.write_text(
            json.dumps(
                {
                    "data_set": "M",
                    "scale": scale,
                    "seed": seed,
                    "as_of": as_of,
                    "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "reused": reuse,
                    "uri": instance.uri,
                    "phases": [
                        asdict(p)
                        | {
                            "rows_per_second": p.rows_per_second,
                            "median_batch_rate": p.median_batch_rate,
                        }
                        for p in phases
                    ],
                    "nodes": counts.nodes,
                    "relationships": counts.relationships,
                },
                indent=2,
            )
            + "\n",
            encoding="utf-8",
        )
        console.print(f"manifest written to {MANIFEST}")
    except LoadAborted as exc:
        console.print(f"[red]aborted[/red] {escape(exc.message)}")
        raise typer.Exit(code=1) from exc
    except HomewardError as exc:
        console.print(f"[red]error[/red] {escape(exc.message)}")
        raise typer.Exit(code=1) from exc
    finally:
        if not keep_running and stop_bench():
            console.print(f"bench Neo4j on {instance.uri} stopped")
    if keep_running:
        console.print(f"bench Neo4j left running on {instance.uri}")
        console.print("stop it with: python -m bench.dataset stop")


@app.command("start")
def start_command() -> None:
    """Start the bench Neo4j on the data loaded before, without reloading."""
    instance = bench_instance()
    if not MANIFEST.exists():
        home = escape(str(instance.home))
        console.print(f"[yellow]warning[/yellow] no data set loaded in {home} yet")
    try:
        pid = start_bench()
    except HomewardError as exc:
        console.print(f"[red]error[/red] {escape(exc.message)}")
        raise typer.Exit(code=1) from exc
    console.print(f"bench Neo4j up on {instance.uri} (pid {pid}, data in {instance.home})")


@app.command("stop")
def stop_command() -> None:
    """Stop the bench Neo4j (only the process this project started, by its pid file)."""
    instance = bench_instance()
    if stop_bench():
        console.print(f"bench Neo4j on {instance.uri} stopped")
    else:
        console.print("bench Neo4j was not running")


@app.command("status")
def status_command() -> None:
    """Say whether the bench Neo4j runs and what data set it holds."""
    instance = bench_instance()
    pid = neo4j_server.running_pid(instance)
    state = f"running, pid {pid}" if pid is not None else "not running"
    console.print(f"bench Neo4j {state}; {instance.uri}, data in {instance.home}")
    if MANIFEST.exists():
        manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
        console.print(
            f"holds data set M at scale {manifest['scale']} (seed {manifest['seed']}, "
            f"as of {manifest['as_of']}), loaded {manifest['loaded_at']}"
        )


if __name__ == "__main__":
    app()
