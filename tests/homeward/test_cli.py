"""The operator's command line against the test Neo4j."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import get_settings
from graph.driver import Graph
from graph.users import token_with_user
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
