"""The operator's command line against the test Neo4j."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.settings import get_settings
from graph.driver import Graph
from graph.users import token_with_user
from homeward import cli, neo4j_server
from tests.cli import run_cli as _run


async def test_users_and_tokens_lifecycle(
    cli_env: None, people: dict[str, str], graph: Graph
) -> None:
    created = await _run(
        "users", "create", "new.partner@example.org",
        "--organisation", "org-b", "--role", "partner", "--name", "New partner",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    listed = await _run("users", "list")
    assert "new.partner@example.org" in listed.output
    assert "partner@org-b" in listed.output
    as_json = await _run("users", "list", "--json")
    assert as_json.exit_code == 0, as_json.output
    users = {u["email"]: u for u in json.loads(as_json.stdout)}
    assert users["new.partner@example.org"]["memberships"] == [
        {"organisation_id": "org-b", "role": "partner"}
    ]
    assert users["new.partner@example.org"]["disabled"] is False

    user_id = created.output.strip().rsplit("(", 1)[1].rstrip(")")
    issued = await _run("tokens", "issue", user_id, "--days", "30", "--label", "ci")
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip().splitlines()[-1]
    token_id = token.split("_")[1]
    found = await graph.read(token_with_user, token_id=token_id)
    assert found is not None
    assert found[2].email == "new.partner@example.org"
    assert found[0].expires_at is not None

    assert (await _run("tokens", "revoke", token_id)).exit_code == 0
    revoked = await graph.read(token_with_user, token_id=token_id)
    assert revoked is not None
    assert revoked[0].revoked_at is not None

    assert (await _run("users", "disable", user_id)).exit_code == 0
    assert "disabled" in (await _run("users", "list")).output


async def test_bad_input_is_named_and_exits_1(cli_env: None, people: dict[str, str]) -> None:
    bad = await _run(
        "users", "create", "not-an-email", "--organisation", "org-a",
        "--role", "partner", "--name", "X",
    )  # fmt: skip
    assert bad.exit_code == 1
    assert "email:" in bad.output
    unknown = await _run(
        "users", "create", "x@example.org", "--organisation", "org-zz",
        "--role", "partner", "--name", "X",
    )  # fmt: skip
    assert unknown.exit_code == 1
    assert "unknown organisation 'org-zz'" in unknown.output
    missing = await _run("tokens", "revoke", "nosuchtoken")
    assert missing.exit_code == 1
    assert "token 'nosuchtoken' not found" in missing.output


async def test_referral_purge_and_key_rotation_commands(
    cli_env: None, graph: Graph, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.fernet import Fernet

    purged = await _run("referrals", "purge")
    assert purged.exit_code == 0, purged.output
    assert "0 referrals purged" in purged.output
    assert "0 return cases purged" in purged.output

    monkeypatch.setenv("HOMEWARD_DATA_KEYS", "not-a-key")
    get_settings.cache_clear()
    refused = await _run("referrals", "rotate-key")
    assert refused.exit_code == 1
    assert "Fernet keys" in refused.output

    monkeypatch.setenv("HOMEWARD_DATA_KEYS", Fernet.generate_key().decode())
    get_settings.cache_clear()
    rotated = await _run("referrals", "rotate-key")
    assert rotated.exit_code == 0, rotated.output
    assert "0 records re-encrypted" in rotated.output


async def test_report_gaps_draws_the_map(cli_env: None, graph: Graph, tmp_path: Path) -> None:
    from seed.loader import seed

    await seed(graph)
    out = tmp_path / "gaps.png"
    result = await _run(
        "report", "gaps", "--need", "psychosocial.trauma-therapy", "--country", "XK",
        "--out", str(out), "--days", "3650",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")
    assert "Ferizaj" in result.output
    wrong = await _run("report", "gaps", "--need", "health", "--out", str(tmp_path / "x.gif"))
    assert wrong.exit_code == 1
    assert "must end in .png or .svg" in wrong.output


def test_importing_the_command_line_loads_no_heavy_module() -> None:
    # Every command pays for what `import homeward.cli` loads, `homeward --help` included.
    shown = subprocess.run(
        [sys.executable, "-c", "import homeward.cli, sys; print(' '.join(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(shown.stdout.split())
    assert "homeward.cli" in loaded
    heavy = ("matplotlib", "fastapi", "strawberry", "reports.maps", "importers", "neo4j")
    assert sorted(m for m in loaded if m.split(".")[0] in heavy or m in heavy) == []


def test_every_command_loads_and_its_summary_is_its_help() -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    listing = runner.invoke(cli.app, ["--help"])
    assert listing.exit_code == 0, listing.output
    for name, entry in cli.Homeward.entries.items():
        assert f" {name} " in listing.output
        shown = runner.invoke(cli.app, [name, "--help"])
        assert shown.exit_code == 0, (name, shown.output)
        command = entry.load(name)
        first_paragraph = (command.help or "").split("\n\n")[0]
        assert " ".join(entry.summary.split()) == " ".join(first_paragraph.split()), name


def test_failure_text_with_brackets_is_printed_verbatim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Paths and Neo4j log tails are full of `[...]`; read as rich markup, `[/tmp/x]` crashed.
    runner = CliRunner(env={"COLUMNS": "200"})
    odd = tmp_path / "a[/tmp/x][bold]b.csv"
    result = runner.invoke(cli.app, ["import", "sheet", str(odd)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert f"error {odd}: no such file" in result.stderr

    monkeypatch.setattr(neo4j_server, "LIB_DIR", tmp_path / "[/tmp/x]" / "[bold]lib")
    monkeypatch.delenv("NEO4J_URI", raising=False)
    monkeypatch.setenv("HOMEWARD_NEO4J_HOME", str(tmp_path / "neo4j"))
    get_settings.cache_clear()
    try:
        started = runner.invoke(cli.app, ["db", "start"])
    finally:
        get_settings.cache_clear()
    assert started.exit_code == 1
    assert isinstance(started.exception, SystemExit)
    assert re.search(r"Neo4j jars not found in \S*/\[/tmp/x\]/\[bold\]lib;", started.stderr)
