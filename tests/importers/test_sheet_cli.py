"""`homeward import sheet` against the test Neo4j."""

from __future__ import annotations

from pathlib import Path

from graph.driver import Graph
from tests.cli import run_cli

SHEET = (
    "Organisation;Service name;Needs;Municipalities;Languages\n"
    "Return Aid (illustrative);Job placement;employment.job-placement;Prizren;sq\n"
    "Return Aid (illustrative);Legal help;legal-counselling;Pejë;sq\n"
)


async def test_import_report_strict_and_organisation(
    cli_env: None, reference: Graph, tmp_path: Path
) -> None:
    path = tmp_path / "list.csv"
    path.write_text(SHEET, encoding="utf-8")
    imported = await run_cli("import", "sheet", str(path))
    assert imported.exit_code == 0, imported.output
    assert "written: 1 organisations, 2 services" in imported.output
    again = await run_cli("import", "sheet", str(path))
    assert again.exit_code == 0, again.output
    assert "written: 2 services" in again.output

    path.write_text(SHEET + "Return Aid (illustrative);Housing;houseing;Prizren;sq\n")
    strict = await run_cli("import", "sheet", str(path), "--strict")
    assert strict.exit_code == 1
    assert "list.csv:4: Needs: unknown need 'houseing'; did you mean housing" in strict.output
    assert "nothing was imported (strict)" in strict.output

    unknown = await run_cli("import", "sheet", str(path), "--organisation", "no-such-org")
    assert unknown.exit_code == 1
    assert "organisation 'no-such-org' not found" in unknown.output

    (tmp_path / "list.xlsx").write_bytes(b"PK\x03\x04 truncated")
    for missing in ("list.xlsx", "nothing.csv"):
        malformed = await run_cli("import", "sheet", str(tmp_path / missing))
        assert malformed.exit_code == 1
        assert "Traceback" not in malformed.output
    assert "no such file" in malformed.output
