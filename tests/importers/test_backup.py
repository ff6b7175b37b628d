"""`homeward backup` / `homeward restore`: the seeded graph, demo users and a referral with
encrypted personal data round-trip byte for byte; broken files and non-empty databases are
refused before anything is written."""

from __future__ import annotations

import gzip
import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

import importers.backup as backup_module
from core.crypto import DataCipher
from graph.backup import create_relationships, wipe
from graph.driver import Graph
from graph.hsds_ids import find_by_hsds_id, hsds_id
from graph.referrals import Policy, ReferralInput, create_referral, get_referral
from graph.services import ReturnType
from graph.users import Actor, Membership, Role
from importers.backup import BackupError, backup, read_backup, restore
from seed.identities import create_demo_identities
from seed.loader import seed
from tests.cli import run_cli

CIPHER = DataCipher([Fernet.generate_key()])
COUNSELLOR = Actor(
    user_id="demo-counsellor",
    memberships=[Membership(organisation_id="de-muenchen-rueckkehrhilfe", role=Role.COUNSELLOR)],
)
CONTACT = "+383 44 000 111 (illustrative)"


async def _seeded_with_referral(graph: Graph) -> None:
    await seed(graph)
    await graph.write(create_demo_identities)
    data = ReferralInput(
        service_id="xk-krct-trauma-therapy",
        destination="XK-prizren",
        needs=["psychosocial.trauma-therapy"],
        return_type=ReturnType.VOLUNTARY,
        contact=CONTACT,
        health="Illustrative health note",
    )
    await graph.write(
        create_referral,
        id="ref-1",
        data=data,
        actor=COUNSELLOR,
        cipher=CIPHER,
        now=datetime(2026, 3, 2, 10, 0, tzinfo=UTC),
        policy=Policy(),
    )


async def _counts(graph: Graph) -> tuple[int, int]:
    async def count(tx: object) -> tuple[int, int]:
        nodes = await (await tx.run("MATCH (n) RETURN count(n) AS c")).single()  # type: ignore[attr-defined]
        rels = await (await tx.run("MATCH ()-[r]->() RETURN count(r) AS c")).single()  # type: ignore[attr-defined]
        return nodes["c"], rels["c"]

    return await graph.read(count)


async def test_backup_wipe_restore_backup_gives_the_same_file(graph: Graph, tmp_path: Path) -> None:
    await _seeded_with_referral(graph)
    counts = await _counts(graph)
    first = tmp_path / "first.jsonl.gz"
    report = await backup(graph, first)
    assert report.nodes > 500
    assert report.relationships > 1000

    lines = gzip.decompress(first.read_bytes()).decode().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "homeward-backup"
    assert header["nodes"] == report.nodes
    # The referral's personal fields are in the backup as stored: encrypted.
    assert CONTACT not in "\n".join(lines)
    referral = next(json.loads(x) for x in lines if '"Referral"' in x and '"ref-1"' in x)
    assert CIPHER.decrypt(referral["props"]["contact_enc"]) == CONTACT
    # Token hashes, never tokens.
    assert any('"ApiToken"' in x or '"Token"' in x for x in lines)
    assert "not-a-secret" not in "\n".join(lines)

    await wipe(graph)
    assert (await _counts(graph))[0] < counts[0]
    restored = await restore(graph, first)
    assert (restored.nodes, restored.relationships) == (report.nodes, report.relationships)
    assert await _counts(graph) == counts

    second = tmp_path / "second.jsonl.gz"
    await backup(graph, second)
    assert second.read_bytes() == first.read_bytes()
    # Restored data is usable as before: the referral decrypts with the same key.
    again = await graph.read(
        get_referral,
        id="ref-1",
        actor=COUNSELLOR,
        cipher=CIPHER,
        now=datetime(2026, 3, 2, tzinfo=UTC),
        policy=Policy(),
    )
    assert again.contact == CONTACT


async def test_restore_refuses_a_non_empty_database_unless_forced(
    graph: Graph, tmp_path: Path
) -> None:
    await _seeded_with_referral(graph)
    out = tmp_path / "b.jsonl.gz"
    await backup(graph, out)
    with pytest.raises(BackupError, match=r"the database holds \d+ nodes; restore only into"):
        await restore(graph, out)
    forced = await restore(graph, out, force=True)
    assert forced.wiped == forced.nodes
    again = tmp_path / "again.jsonl.gz"
    await backup(graph, again)
    assert again.read_bytes() == out.read_bytes()


async def test_a_restore_that_stopped_half_way_is_recognised(
    graph: Graph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _seeded_with_referral(graph)
    out = tmp_path / "b.jsonl.gz"
    await backup(graph, out)
    await wipe(graph)
    monkeypatch.setattr(backup_module, "BATCH", 500)
    calls = 0
    original = create_relationships

    async def failing(tx: object, *, rows: list[dict[str, object]]) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise RuntimeError("disk full")
        await original(tx, rows=rows)  # type: ignore[arg-type]

    monkeypatch.setattr(backup_module, "create_relationships", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        await restore(graph, out)
    monkeypatch.setattr(backup_module, "create_relationships", original)
    with pytest.raises(BackupError, match="a previous restore stopped half way"):
        await restore(graph, out)
    with pytest.raises(BackupError, match="a restore is running or stopped half way"):
        await backup(graph, tmp_path / "partial.jsonl.gz")
    await restore(graph, out, force=True)
    fixed = tmp_path / "fixed.jsonl.gz"
    await backup(graph, fixed)
    assert fixed.read_bytes() == out.read_bytes()


def _write(path: Path, lines: list[str]) -> Path:
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return path


HEADER = '{"format":"homeward-backup","version":1,"migrations":[1],"nodes":1,"relationships":1}'
NODE = '{"id":1,"labels":["Area"],"props":{"id":"XK"}}'


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["{}"], r"b.jsonl.gz:1: not a Homeward backup"),
        ([HEADER, "not json"], r"b.jsonl.gz:2: not JSON"),
        (
            [HEADER, NODE, '{"type":"X","start":1,"end":9,"props":{}}'],
            r":3: relationship from node 1 to 9: no such node",
        ),
        ([HEADER, NODE], r"announces 1 nodes and 1 relationships, the file holds 1 and 0"),
        ([HEADER.replace('"version":1', '"version":7'), NODE], r":1: backup format version 7"),
        (
            [HEADER.replace("[1]", "[1,999]"), NODE, '{"type":"X","start":1,"end":1,"props":{}}'],
            r"newer Homeward \(schema migrations \[999\]",
        ),
        ([HEADER, '{"id":1,"labels":["Area"],"props":{"at":{"$when":1}}}'], r":2: unknown value"),
    ],
)  # fmt: skip
async def test_a_broken_file_is_refused_before_anything_is_written(
    graph: Graph, tmp_path: Path, lines: list[str], message: str
) -> None:
    path = _write(tmp_path / "b.jsonl.gz", lines)
    with pytest.raises(BackupError, match=message):
        await restore(graph, path)
    nodes, _ = await _counts(graph)
    assert nodes == len(await graph.read(_migrations))


async def _migrations(tx: object) -> list[int]:
    result = await tx.run("MATCH (m:SchemaMigration) RETURN m.version AS v")  # type: ignore[attr-defined]
    return [r["v"] async for r in result]


def test_a_truncated_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(gzip.compress((HEADER + "\n" + NODE + "\n").encode() * 50)[:-30])
    with pytest.raises(BackupError, match=r"cut\.jsonl\.gz: not a complete gzip file"):
        read_backup(path)
    with pytest.raises(BackupError, match="cannot read"):
        read_backup(tmp_path / "missing.jsonl.gz")


async def test_values_of_every_type_round_trip(graph: Graph, tmp_path: Path) -> None:
    async def make(tx: object) -> None:
        await tx.run(  # type: ignore[attr-defined]
            "CREATE (:Probe {zoned: datetime('2026-01-02T03:04:05.123456789[Europe/Berlin]'), "
            "offset: datetime('2026-01-02T03:04:05+01:00'), "
            "local: localdatetime('2026-01-02T03:04'), "
            "day: date('2026-02-03'), lt: localtime('10:00:00.5'), "
            "span: duration('P1M2DT3.5S'), geo: point({latitude: 42.2, longitude: 20.7}), "
            "xyz: point({x: 1, y: 2, z: 3}), big: 9007199254740993, ratio: 0.1, "
            "inf: 1.0/0.0, flags: [true, false], words: ['a', 'ë'], empty: []})"
            "-[:SEES {since: date('2026-01-01')}]->(:Probe {name: 'other'})"
        )

    await graph.write(make)
    first = tmp_path / "a.jsonl.gz"
    await backup(graph, first)
    await wipe(graph)
    await restore(graph, first)
    second = tmp_path / "b.jsonl.gz"
    await backup(graph, second)
    assert second.read_bytes() == first.read_bytes()

    async def same(tx: object) -> bool:
        record = await (
            await tx.run(  # type: ignore[attr-defined]
                "MATCH (p:Probe)-[s:SEES]->() RETURN "
                "p.zoned = datetime('2026-01-02T03:04:05.123456789[Europe/Berlin]') "
                "AND toString(p.zoned) ENDS WITH '[Europe/Berlin]' "
                "AND p.span = duration('P1M2DT3.5S') "
                "AND p.geo = point({latitude: 42.2, longitude: 20.7}) AND p.big = 9007199254740993 "
                "AND s.since = date('2026-01-01') AND p.inf = 1.0/0.0 AS ok"
            )
        ).single()
        return bool(record["ok"])

    assert await graph.read(same)


async def test_the_command_line(cli_env: None, graph: Graph, tmp_path: Path) -> None:
    await seed(graph)
    out = tmp_path / "cli.jsonl.gz"
    made = await run_cli("backup", str(out))
    assert made.exit_code == 0, made.output
    assert f"relationships in {out}" in made.output
    refused = await run_cli("restore", str(out))
    assert refused.exit_code == 1
    assert "restore only into an empty database, or add --force" in refused.output
    forced = await run_cli("restore", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert "nodes deleted first (--force)" in forced.output
    assert "restored" in forced.output


async def test_a_backup_made_before_a_migration_gets_its_data_on_restore(
    graph: Graph, tmp_path: Path
) -> None:
    """A backup made before migration 11 has no HSDS keys; the restored records are found by
    their HSDS id all the same."""
    await seed(graph)
    current = tmp_path / "current.jsonl.gz"
    await backup(graph, current)
    lines = gzip.decompress(current.read_bytes()).decode().splitlines()
    header = json.loads(lines[0])
    header["migrations"] = [v for v in header["migrations"] if v != 11]
    records = [json.loads(line) for line in lines[1:]]
    for record in records:
        record["props"].pop("hsds_key", None)
    older = _write(
        tmp_path / "older.jsonl.gz", [json.dumps(header), *(json.dumps(r) for r in records)]
    )
    assert "hsds_key" not in gzip.decompress(older.read_bytes()).decode()

    await wipe(graph)
    await restore(graph, older)
    service = hsds_id("service", "xk-krct-trauma-therapy")
    assert await graph.read(find_by_hsds_id, kind="service", id=service) == [
        "xk-krct-trauma-therapy"
    ]
    again = tmp_path / "again.jsonl.gz"
    await backup(graph, again)
    assert again.read_bytes() == current.read_bytes()


async def test_a_backup_is_readable_by_its_owner_only(graph: Graph, tmp_path: Path) -> None:
    """Whatever the umask, and over an older backup that others could read."""
    out = tmp_path / "backup.jsonl.gz"
    out.write_bytes(b"an older backup")
    out.chmod(0o644)
    before = os.umask(0o022)
    try:
        await backup(graph, out)
    finally:
        os.umask(before)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert gzip.decompress(out.read_bytes()).startswith(b"{")
