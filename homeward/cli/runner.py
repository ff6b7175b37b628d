"""Running a command's work: against the graph (one driver per command), against the local
Neo4j it may have to start first, and the one run of an import that `import hsds` and
`import sheet` share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

import typer
from rich.table import Table

from core.errors import HomewardError
from core.settings import Settings, get_settings
from graph.driver import Graph, create_driver
from graph.users import SYSTEM
from homeward import neo4j_server
from homeward.cli.common import console, err, fail, progress

if TYPE_CHECKING:
    from importers.plan import Plan
    from importers.report import ImportReport

T = TypeVar("T")


def with_graph(settings: Settings, work: Callable[[Graph], Awaitable[T]]) -> T:
    async def main() -> T:
        driver = create_driver(settings)
        try:
            return await work(Graph(driver, settings.neo4j_database))
        finally:
            await driver.close()

    try:
        return asyncio.run(main())
    except HomewardError as exc:
        raise fail(exc) from exc


def local(settings: Settings) -> neo4j_server.LocalNeo4j:
    return neo4j_server.LocalNeo4j(
        home=settings.local_neo4j_home,
        port=settings.local_neo4j_port,
        heap=settings.local_neo4j_heap,
        pagecache=settings.local_neo4j_pagecache,
    )


def ensure_local_neo4j(settings: Settings) -> None:
    if not settings.uses_local_neo4j:
        return
    instance = local(settings)
    with err.status(f"starting Neo4j on {instance.uri} ..."):
        try:
            pid = neo4j_server.start(
                instance,
                timeout_s=settings.local_neo4j_start_timeout_s,
                progress=lambda line: err.print(line, highlight=False),
            )
        except HomewardError as exc:
            raise fail(exc) from exc
    console.print(f"Neo4j up on {instance.uri} (pid {pid}, data in {instance.home})")


def _print_report(report: ImportReport) -> None:
    """Rejected rows as `file:line: field: message`, then warnings, then counts."""
    if report.errors:
        err.print(f"{len(report.errors)} problems; these rows were not imported:", style="red")
        for problem in report.errors:
            err.print(str(problem), highlight=False, soft_wrap=True)
    if report.warnings:
        err.print(f"{len(report.warnings)} warnings (imported):", style="yellow")
        for problem in report.warnings:
            err.print(str(problem), highlight=False, soft_wrap=True)


def _print_counts(report: ImportReport) -> None:
    table = Table("table", "rows read", "rejected", "skipped", "merged", "repeated")
    for name, count in report.read.items():
        table.add_row(
            name,
            str(count),
            str(report.rejected.get(name, 0)),
            str(report.skipped.get(name, 0)),
            str(report.merged.get(name, 0)),
            str(report.repeated.get(name, 0)),
        )
    console.print(table)
    written = [f"{count} {kind}" for kind, count in report.written.items() if count]
    console.print("written: " + (", ".join(written) or "nothing"))
    if report.import_id:
        console.print(f"audit events of this import: entity id {report.import_id}")


def run_import(
    prepare: Callable[[Graph], Awaitable[tuple[Plan, ImportReport]]],
    *,
    strict: bool,
    source: str,
) -> None:
    """Check everything, print the report, then (unless strict and anything was wrong)
    write with a progress bar; exit status 1 when any row was rejected. The audit events of
    the import name the system as actor: the command line runs with the database's own
    access, not as a user of the API."""
    from importers.plan import Provenance, plan_size, write_plan
    from importers.report import ImportRejected

    async def work(graph: Graph) -> ImportReport:
        plan, report = await prepare(graph)
        _print_report(report)
        if strict and report.errors:
            raise ImportRejected(report)
        with progress() as bar:
            task = bar.add_task("writing", total=plan_size(plan))
            await write_plan(
                graph,
                plan,
                report,
                provenance=Provenance(SYSTEM, source),
                progress=lambda kind, n: bar.update(task, advance=n, description=kind),
            )
        return report

    report = with_graph(get_settings(), work)
    _print_counts(report)
    if report.errors:
        raise typer.Exit(code=1)
