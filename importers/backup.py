"""`homeward backup` / `homeward restore`: the whole graph as gzipped JSON lines.

Everything but the schema migration records goes out: every label, property and
relationship, users and token hashes, referrals with their personal fields still encrypted
as stored (a backup is no more readable than the database; restoring needs the same
HOMEWARD_DATA_KEYS). The file is deterministic, so backup, restore and backup again give the
same bytes:

    {"format": "homeward-backup", "version": 1, "migrations": [1, ...], "nodes": N, ...}
    {"id": 1, "labels": ["Area"], "props": {"id": "XK", ...}}          N node lines
    {"type": "PART_OF", "start": 7, "end": 1, "props": {}}             M relationship lines

Nodes are ordered by their own content and numbered in that order; relationships by their
endpoints' numbers, type and properties. Values JSON cannot hold are tagged objects:
`{"$datetime": "...+01:00", "zone": "Europe/Berlin"}`, `{"$date": ...}`, `{"$time": ...}`,
`{"$duration": [months, days, seconds, nanoseconds]}` (a `$time` is a local time: zoned
times are refused),, `{"$point": [srid, x, y(, z)]}`,
`{"$bytes": base64}`, `{"$float": "inf"}`.

Restore reads and checks the whole file before it writes anything, refuses a database that
holds data unless forced, and writes in batches; a `(:HomewardRestore)` marker node is
there while it runs, so a restore that stopped half way is recognised (and refused) until
it is repeated with `force`, which wipes the partial graph first.

This module is the file and the order of the steps; the transactions that read and write the
graph are `graph.backup`'s.
"""

from __future__ import annotations

import base64
import gzip
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import neo4j.time as ntime
import pytz
from neo4j.spatial import CartesianPoint, Point, WGS84Point

from core.batching import batches
from core.errors import HomewardError
from graph.backup import (
    MARKER,
    Snapshot,
    count_nodes,
    create_nodes,
    create_relationships,
    mark_restore,
    read_snapshot,
    unmark_restore,
    wipe,
)
from graph.driver import Graph
from graph.migrations import MIGRATIONS, apply_again, migrate

FORMAT = "homeward-backup"
VERSION = 1
BATCH = 2000
Progress = Callable[[str, int, int], None]


class BackupError(HomewardError):
    """A backup file that cannot be restored, or a database that must not be restored into."""


# Values


def encode(value: Any) -> Any:
    """A property value as JSON; the tags are the module docstring's."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, ntime.DateTime):
        tagged: dict[str, Any] = {"$datetime": value.iso_format()}
        # A named zone (Europe/Berlin) stays named; the driver gives pytz or zoneinfo zones.
        zone = getattr(value.tzinfo, "zone", None) or getattr(value.tzinfo, "key", None)
        if zone:
            tagged["zone"] = zone
        return tagged
    if isinstance(value, ntime.Date):
        return {"$date": value.iso_format()}
    if isinstance(value, ntime.Time):
        if value.tzinfo is not None:
            # The driver cannot send a zoned time back; Homeward stores none.
            raise BackupError("cannot back up a time with a time zone (a Cypher ZONED TIME)")
        return {"$time": value.iso_format()}
    if isinstance(value, ntime.Duration):
        return {"$duration": [value.months, value.days, value.seconds, value.nanoseconds]}
    if isinstance(value, Point):
        return {"$point": [value.srid, *value]}
    # After Point, which is a tuple too.
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, bytes | bytearray):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise BackupError(f"cannot back up a value of type {type(value).__name__}")


_POINTS: dict[int, type[Point]] = {
    4326: WGS84Point,
    4979: WGS84Point,
    7203: CartesianPoint,
    9157: CartesianPoint,
}


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "$datetime" in value:
        moment = ntime.DateTime.from_iso_format(value["$datetime"])
        zone = value.get("zone")
        # pytz, as the driver's own zones: with a zoneinfo zone the driver crashes hashing
        # the value it is about to send.
        return moment.astimezone(pytz.timezone(zone)) if zone else moment
    if "$date" in value:
        return ntime.Date.from_iso_format(value["$date"])
    if "$time" in value:
        return ntime.Time.from_iso_format(value["$time"])
    if "$duration" in value:
        months, days, seconds, nanoseconds = value["$duration"]
        return ntime.Duration(months=months, days=days, seconds=seconds, nanoseconds=nanoseconds)
    if "$point" in value:
        srid, *coordinates = value["$point"]
        return _POINTS[srid](coordinates)
    if "$bytes" in value:
        return base64.b64decode(value["$bytes"])
    if "$float" in value:
        return float(value["$float"])
    raise ValueError(f"unknown value {json.dumps(value)[:80]}")


def _props(props: dict[str, Any]) -> dict[str, Any]:
    return {key: encode(props[key]) for key in sorted(props)}


def _line(entry: dict[str, Any]) -> str:
    return json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# Backup


@dataclass(frozen=True)
class BackupReport:
    nodes: int
    relationships: int


def backup_lines(snapshot: Snapshot) -> Iterator[str]:
    encoded = [
        (eid, _line({"labels": sorted(labels), "props": _props(props)}))
        for eid, labels, props in snapshot.nodes
    ]
    encoded.sort(key=lambda item: item[1])
    number = {eid: i for i, (eid, _) in enumerate(encoded, start=1)}
    yield _line(
        {
            "format": FORMAT,
            "version": VERSION,
            "migrations": snapshot.migrations,
            "nodes": len(encoded),
            "relationships": len(snapshot.relationships),
        }
    )
    for eid, content in encoded:
        # The id goes in front of the content it was sorted by.
        yield '{"id":' + str(number[eid]) + "," + content[1:]
    rels = sorted(
        (number[a], type_, number[b], _line(_props(props)))
        for a, type_, b, props in snapshot.relationships
    )
    for start, type_, end, props in rels:
        yield _line({"type": type_, "start": start, "end": end, "props": json.loads(props)})


async def backup(graph: Graph, out: Path) -> BackupReport:
    if await graph.read(count_nodes, label=MARKER):
        raise BackupError(
            "a restore is running or stopped half way (a HomewardRestore marker is in the "
            "graph); repeat the restore with --force before backing up"
        )
    snapshot = await graph.read(read_snapshot)
    partial = out.with_name(out.name + ".partial")
    # Written aside and renamed: a backup cut short never stands where a good one was. No
    # name or time in the gzip header, so equal graphs give equal files. Readable by its
    # owner only (0600), whatever the umask: it holds accounts and encrypted personal data.
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    with (
        os.fdopen(fd, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
    ):
        for line in backup_lines(snapshot):
            gz.write(line.encode("utf-8") + b"\n")
    os.replace(partial, out)
    return BackupReport(nodes=len(snapshot.nodes), relationships=len(snapshot.relationships))


# Restore


@dataclass
class BackupFile:
    migrations: list[int]
    nodes: list[dict[str, Any]] = field(default_factory=list)
    relationships: list[dict[str, Any]] = field(default_factory=list)


def _fail(path: Path, line: int, message: str) -> BackupError:
    return BackupError(f"{path.name}:{line}: {message}")


def _open(path: Path) -> gzip.GzipFile:
    try:
        return gzip.GzipFile(path, "rb")
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from exc


def read_backup(path: Path) -> BackupFile:
    """The whole file, checked: nothing is written from a file that is broken anywhere."""
    try:
        with _open(path) as stream:
            lines = stream.read().decode("utf-8").splitlines()
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise BackupError(f"{path.name}: not a complete gzip file ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise BackupError(f"{path.name}: not UTF-8 text inside the gzip") from exc
    if not lines:
        raise BackupError(f"{path.name}: empty")
    entries = []
    for number, text in enumerate(lines, start=1):
        try:
            entry = json.loads(text)
        except json.JSONDecodeError as exc:
            raise _fail(path, number, f"not JSON ({exc.msg})") from exc
        if not isinstance(entry, dict):
            raise _fail(path, number, "not a JSON object")
        entries.append(entry)
    header = entries[0]
    if header.get("format") != FORMAT:
        raise _fail(path, 1, "not a Homeward backup (no format header)")
    if header.get("version") != VERSION:
        raise _fail(path, 1, f"backup format version {header.get('version')}; expected {VERSION}")
    result = BackupFile(migrations=list(header.get("migrations", [])))
    node_ids: set[int] = set()
    for number, entry in enumerate(entries[1:], start=2):
        try:
            if "labels" in entry:
                labels, props = entry["labels"], _decoded_props(entry["props"])
                if not (isinstance(entry["id"], int) and labels and isinstance(labels, list)):
                    raise ValueError("a node needs an id and at least one label")
                if entry["id"] in node_ids:
                    raise ValueError(f"node id {entry['id']} appears twice")
                if result.relationships:
                    raise ValueError("nodes must come before relationships")
                node_ids.add(entry["id"])
                result.nodes.append({"id": entry["id"], "labels": labels, "props": props})
            elif "type" in entry:
                start, end = entry["start"], entry["end"]
                if start not in node_ids or end not in node_ids:
                    raise ValueError(f"relationship from node {start} to {end}: no such node")
                result.relationships.append(
                    {
                        "type": str(entry["type"]),
                        "start": start,
                        "end": end,
                        "props": _decoded_props(entry["props"]),
                    }
                )
            else:
                raise ValueError("neither a node nor a relationship")
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise _fail(path, number, detail) from exc
    expected = (header.get("nodes"), header.get("relationships"))
    found = (len(result.nodes), len(result.relationships))
    if expected != found:
        raise BackupError(
            f"{path.name}: the header announces {expected[0]} nodes and {expected[1]} "
            f"relationships, the file holds {found[0]} and {found[1]}; it is incomplete"
        )
    return result


def _decoded_props(props: Any) -> dict[str, Any]:
    if not isinstance(props, dict):
        raise ValueError("props must be an object")
    return {str(key): decode(value) for key, value in props.items()}


@dataclass(frozen=True)
class RestoreReport:
    nodes: int
    relationships: int
    wiped: int


async def restore(
    graph: Graph, path: Path, *, force: bool = False, progress: Progress | None = None
) -> RestoreReport:
    data = read_backup(path)
    known = {m.version for m in MIGRATIONS}
    if unknown := sorted(set(data.migrations) - known):
        raise BackupError(
            f"{path.name} was made by a newer Homeward (schema migrations {unknown} are "
            "unknown here); restore it with that version"
        )
    # The schema (constraints, indexes) first, as the running application would have it.
    await migrate(graph)
    present = await graph.read(count_nodes)
    if present and not force:
        if await graph.read(count_nodes, label=MARKER):
            raise BackupError(
                "a previous restore stopped half way; run the restore again with --force, "
                "which wipes the partial graph first"
            )
        raise BackupError(
            f"the database holds {present} nodes; restore only into an empty database, or "
            "add --force to delete them first"
        )
    if present:
        await wipe(graph)
    await graph.write(mark_restore, source=path.name)
    element_ids: dict[int, str] = {}
    for rows in batches(data.nodes, BATCH):
        element_ids |= await graph.write(create_nodes, rows=list(rows))
        if progress:
            progress("nodes", len(element_ids), len(data.nodes))
    done = 0
    for rows in batches(data.relationships, BATCH):
        resolved = [
            {**row, "start": element_ids[row["start"]], "end": element_ids[row["end"]]}
            for row in rows
        ]
        await graph.write(create_relationships, rows=resolved)
        done += len(rows)
        if progress:
            progress("relationships", done, len(data.relationships))
    # A backup made before a migration holds data it never changed: apply it now.
    await apply_again(graph, made_under=data.migrations)
    await graph.write(unmark_restore)
    return RestoreReport(
        nodes=len(data.nodes), relationships=len(data.relationships), wiped=present
    )
