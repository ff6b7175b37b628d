"""The CSV export passes `frictionless validate` against the HSDS 3.0 data package
descriptor (built from Open Referral's table schemas, CC BY-SA 4.0): the demo directory and
foreign HSDS data imported and exported again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from frictionless import validate

from graph.driver import Graph
from importers.hsds.export import export_tables, write_tabular
from importers.hsds.loader import import_hsds
from importers.hsds.source import read_path
from seed.loader import seed


def _errors(folder: Path) -> dict[str, int]:
    """Errors by table, field and kind, with how often each occurs."""
    report = validate(folder / "datapackage.json")
    found = Counter(
        f"{task.name}.{getattr(error, 'field_name', '')}: {error.type}: {error.note}"
        for task in report.tasks
        for error in task.errors
    )
    found.update(error.message for error in report.errors)
    return dict(found)


async def test_the_export_of_the_demo_directory_is_valid_hsds(graph: Graph, tmp_path: Path) -> None:
    await seed(graph)
    write_tabular(await export_tables(graph), tmp_path / "hsds")
    errors = _errors(tmp_path / "hsds")
    assert errors == {}


async def test_foreign_hsds_exported_again_is_valid_hsds(
    reference: Graph, examples: Path, tmp_path: Path
) -> None:
    await import_hsds(reference, read_path(examples / "csv"))
    write_tabular(await export_tables(reference), tmp_path / "hsds")
    errors = _errors(tmp_path / "hsds")
    assert errors == {}
