"""The Neo4j side of `homeward backup` / `homeward restore`: one read of everything, the
batched creates, the marker of a running restore and the wipe. The file format and the order
of the steps are `importers.backup`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from graph.driver import Graph
from graph.migrations import applied_migrations
from graph.search_changes import restart_clock

MARKER = "HomewardRestore"


# The search index's clock (graph/search_changes.py) says which writes each API process has
# seen, not what the directory holds: it is not backed up, and a restore starts it anew.
READ_NODES: LiteralString = """
MATCH (n) WHERE NOT n:SchemaMigration AND NOT n:SearchClock
RETURN elementId(n) AS eid, labels(n) AS labels, properties(n) AS props
"""
READ_RELATIONSHIPS: LiteralString = """
MATCH (a)-[r]->(b) WHERE NOT a:SchemaMigration AND NOT b:SchemaMigration
RETURN elementId(a) AS a, type(r) AS type, elementId(b) AS b, properties(r) AS props
"""


@dataclass
class Snapshot:
    migrations: list[int]
    nodes: list[tuple[str, list[str], dict[str, Any]]]
    relationships: list[tuple[str, str, str, dict[str, Any]]]


async def read_snapshot(tx: AsyncManagedTransaction) -> Snapshot:
    """One read transaction, so the backup is one consistent moment of the graph."""
    migrations = [m.version for m in await applied_migrations(tx)]
    nodes = [(r["eid"], r["labels"], r["props"]) async for r in await tx.run(READ_NODES)]
    rels = [(r["a"], r["type"], r["b"], r["props"]) async for r in await tx.run(READ_RELATIONSHIPS)]
    return Snapshot(migrations, nodes, rels)


COUNT: LiteralString = """
MATCH (n) WHERE NOT n:SchemaMigration AND NOT n:SearchClock
  AND ($label IS NULL OR $label IN labels(n))
RETURN count(n) AS n
"""


async def count_nodes(tx: AsyncManagedTransaction, *, label: str | None = None) -> int:
    record = await (await tx.run(COUNT, label=label)).single()
    return int(record["n"]) if record else 0


async def mark_restore(tx: AsyncManagedTransaction, *, source: str) -> None:
    await tx.run(
        "CREATE (:HomewardRestore {source: $source, started_at: datetime()})", source=source
    )


async def unmark_restore(tx: AsyncManagedTransaction) -> None:
    await tx.run("MATCH (m:HomewardRestore) DELETE m")
    # Restored data is not what any search index holds, whatever clock the backup carried.
    await restart_clock(tx)


CREATE_NODES: LiteralString = """
UNWIND $rows AS row
CREATE (n:$(row.labels))
SET n = row.props
RETURN row.id AS id, elementId(n) AS eid
"""
CREATE_RELATIONSHIPS: LiteralString = """
UNWIND $rows AS row
MATCH (a) WHERE elementId(a) = row.start
MATCH (b) WHERE elementId(b) = row.end
CREATE (a)-[r:$(row.type)]->(b)
SET r = row.props
"""


async def create_nodes(
    tx: AsyncManagedTransaction, *, rows: list[dict[str, Any]]
) -> dict[int, str]:
    return {r["id"]: r["eid"] async for r in await tx.run(CREATE_NODES, rows=rows)}


async def create_relationships(tx: AsyncManagedTransaction, *, rows: list[dict[str, Any]]) -> None:
    await (await tx.run(CREATE_RELATIONSHIPS, rows=rows)).consume()


WIPE: LiteralString = (
    "MATCH (n) WHERE NOT n:SchemaMigration CALL (n) { DETACH DELETE n } "
    "IN TRANSACTIONS OF 5000 ROWS"
)


async def wipe(graph: Graph) -> None:
    """Delete everything but the schema migration records, in batches."""
    await graph.run_schema(WIPE)
