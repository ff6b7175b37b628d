"""`homeward duplicates`: probable duplicate records, kept for review."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import TaskID
from rich.table import Table

from core.settings import get_settings
from graph.driver import Graph
from graph.duplicates import THRESHOLD, Kind, ProgressFn, ScanReport, State, scan
from homeward.cli.common import JsonOption, console, print_json, progress
from homeward.cli.runner import with_graph

app = typer.Typer(help="Duplicate records.", no_args_is_help=True, add_completion=False)


@app.command("scan")
def duplicates_scan(
    kind: Annotated[
        Kind | None, typer.Option(help="organisation or service; both when not given.")
    ] = None,
    min_score: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Keep pairs scoring at least this.")
    ] = THRESHOLD,
    as_json: JsonOption = False,
) -> None:
    """Compare the whole directory and keep probable duplicates for review. Safe to run
    again: nothing is added twice, decided pairs stay decided unless a record changed."""
    reports = with_graph(
        get_settings(),
        lambda g: run_scan(g, kinds=[kind] if kind else list(Kind), min_score=min_score),
    )
    if as_json:
        print_json([r.model_dump(mode="json") for r in reports])
        return
    table = Table("kind", "records", "pairs compared", "candidates", "new", "reopened",
                  "removed", "open", "same", "different", "seconds")  # fmt: skip
    for r in reports:
        table.add_row(
            r.kind.value,
            f"{r.records:,}",
            f"{r.pairs_compared:,}",
            f"{r.candidates:,}",
            f"{r.new:,}",
            f"{r.reopened:,}",
            f"{r.pruned:,}",
            *(f"{r.by_state.get(s.value, 0):,}" for s in State),
            f"{r.seconds['total']:.1f}",
        )
    console.print(table)
    console.print("review them with the duplicateCandidates query and resolveDuplicate")


def _reporter(report: ProgressFn, kind: Kind) -> ProgressFn:
    def for_kind(phase: str, done: int, total: int) -> None:
        report(f"{kind.value}s: {phase}", done, total)

    return for_kind


async def run_scan(graph: Graph, *, kinds: list[Kind], min_score: float) -> list[ScanReport]:
    """The scans with a progress bar per phase (read, compare, write) and kind."""
    reports = []
    with progress() as bars:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bars.add_task(phase, total=total)
            bars.update(tasks[phase], completed=done, total=max(total, 1))

        for kind in kinds:
            reports.append(
                await scan(graph, kind=kind, min_score=min_score, progress=_reporter(report, kind))
            )
    return reports
