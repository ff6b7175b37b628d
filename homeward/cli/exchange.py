"""`homeward import`, `export`, `backup` and `restore`: the directory in and out of files.

The importers are imported inside the commands that use them, so that a backup does not
load the spreadsheet readers and an import does not load the exporter."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import TaskID

from core.errors import HomewardError
from core.settings import get_settings
from graph.driver import Graph
from homeward.cli.common import console, fail, progress, working
from homeward.cli.runner import run_import, with_graph

if TYPE_CHECKING:
    from importers.backup import RestoreReport

import_app = typer.Typer(
    help="Import a directory from an exchange format.", no_args_is_help=True, add_completion=False
)
export_app = typer.Typer(
    help="Export the directory in an exchange format.", no_args_is_help=True, add_completion=False
)


def backup_command(
    out: Annotated[Path, typer.Argument(help="The file to write, e.g. homeward.jsonl.gz.")],
) -> None:
    """Write the whole graph (users, token hashes, referrals still encrypted) as gzipped
    JSON lines; see docs/operations.md. Equal graphs give equal files."""
    from importers.backup import backup

    with working(f"writing {out}"):
        report = with_graph(get_settings(), lambda g: backup(g, out))
    console.print(f"{report.nodes} nodes and {report.relationships} relationships in {out}")


def restore_command(
    source: Annotated[Path, typer.Argument(help="A file written by `homeward backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Delete what the database holds first.")
    ] = False,
) -> None:
    """Load a backup into an empty database (with --force, into any: its data is deleted
    first). The file is checked whole before anything is written."""
    from importers.backup import restore

    async def work(graph: Graph) -> RestoreReport:
        with progress() as bars:
            tasks: dict[str, TaskID] = {}

            def report(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bars.add_task(phase, total=total)
                bars.update(tasks[phase], completed=done)

            return await restore(graph, source, force=force, progress=report)

    result = with_graph(get_settings(), work)
    if result.wiped:
        console.print(f"{result.wiped} nodes deleted first (--force)")
    console.print(
        f"restored {result.nodes} nodes and {result.relationships} relationships from {source}"
    )


StrictOption = Annotated[
    bool, typer.Option(help="Any rejected row aborts the import; nothing is written.")
]


@import_app.command("hsds")
def import_hsds_command(
    path: Annotated[Path, typer.Argument(help="Folder or zip of HSDS CSV files, or HSDS JSON.")],
    strict: StrictOption = False,
    default_country: Annotated[
        str | None,
        typer.Option(help="ISO 3166-1 code for organisations the data gives no country for."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="Taxonomy mapping file (default: the shipped one).")
    ] = None,
) -> None:
    """Import Open Referral HSDS 3.0 data (idempotent: importing again changes nothing).
    Rejected rows are listed as `file:line: field: message`; the good rows are imported and
    the exit status is 1 when any row was rejected."""
    from importers.hsds.loader import prepare
    from importers.hsds.source import read_path
    from importers.hsds.taxonomy_map import load_map

    try:
        source = read_path(path)
        taxonomy_map = load_map(mapping) if mapping else load_map()
    except HomewardError as exc:
        raise fail(exc) from exc
    run_import(
        lambda graph: prepare(
            graph, source, mapping=taxonomy_map, default_country=default_country, strict=strict
        ),
        strict=strict,
        source=path.name,
    )


@import_app.command("sheet")
def import_sheet_command(
    path: Annotated[Path, typer.Argument(help="A CSV or XLSX file, one row per service.")],
    strict: StrictOption = False,
    organisation: Annotated[
        str | None,
        typer.Option(help="Id of the organisation every row belongs to (no column needed)."),
    ] = None,
) -> None:
    """Import a partner's list of services from a spreadsheet (README, "Spreadsheet
    import"). Rejected rows are listed as `file:line: column: message`; the good rows are
    imported; importing the same file again changes nothing."""
    from importers.rows import MalformedInput
    from importers.sheet.loader import prepare_sheet
    from importers.sheet.source import read_sheet

    try:
        if not path.is_file():
            raise MalformedInput(str(path), "no such file")
        sheet = read_sheet(path.name, path.read_bytes(), organisation_given=bool(organisation))
    except HomewardError as exc:
        raise fail(exc) from exc
    run_import(
        lambda graph: prepare_sheet(graph, sheet, organisation_id=organisation),
        strict=strict,
        source=path.name,
    )


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@export_app.command("hsds")
def export_hsds_command(
    out: Annotated[Path, typer.Argument(help="Folder (or .zip) for csv; a .json file for json.")],
    format: Annotated[ExportFormat, typer.Option(help="csv: tabular form; json: nested.")] = (
        ExportFormat.CSV
    ),
) -> None:
    """Export the directory as Open Referral HSDS 3.0 (Homeward profile: README, "HSDS import
    and export"); importing the export gives the same directory back."""
    from importers.hsds.export import export_tables, write_json, write_tabular

    with working("reading the directory") as step:
        tables = with_graph(get_settings(), export_tables)
        step(f"writing {out}")
        if format is ExportFormat.JSON:
            write_json(tables, out)
        else:
            write_tabular(tables, out)
    counts = ", ".join(f"{len(tables.get(t, []))} {t}" for t in ("organizations", "services"))
    console.print(f"exported {counts} to {out}")
