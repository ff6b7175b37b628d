"""`homeward import hsds` and `homeward export hsds` against the test Neo4j."""

from __future__ import annotations

from pathlib import Path

from graph.driver import Graph
from tests.cli import run_cli as _run


async def test_import_report_strict_and_export(
    cli_env: None, reference: Graph, examples: Path, tmp_path: Path
) -> None:
    folder = examples / "csv"
    imported = await _run("import", "hsds", str(folder))
    assert imported.exit_code == 0, imported.output
    assert "written: 1 countries, 1 programmes, 1 organisations, 1 services" in imported.output

    services = folder / "services.csv"
    services.write_text(services.read_text() + "not-a-uuid,,,,,,,,active\n")
    strict = await _run("import", "hsds", str(folder), "--strict")
    assert strict.exit_code == 1
    assert "services.csv:3: id: 'not-a-uuid' is not a UUID" in strict.output
    assert "nothing was imported (strict)" in strict.output

    lenient = await _run("import", "hsds", str(folder))
    assert lenient.exit_code == 1
    assert "services.csv:3: organization_id: required, but empty or missing" in lenient.output
    assert "written:" in lenient.output

    malformed = await _run("import", "hsds", str(tmp_path / "nothing.zip"))
    assert malformed.exit_code == 1
    assert "no such file or folder" in malformed.output
    assert "Traceback" not in malformed.output

    out = tmp_path / "export.json"
    exported = await _run("export", "hsds", str(out), "--format", "json")
    assert exported.exit_code == 0, exported.output
    assert "exported 1 organizations, 1 services" in exported.output
    zipped = await _run("export", "hsds", str(tmp_path / "export.zip"))
    assert zipped.exit_code == 0, zipped.output
    assert (tmp_path / "export.zip").stat().st_size > 0
