"""The whole graph as comparable data, for tests that compare two imports."""

from __future__ import annotations

from typing import Any

from graph.driver import Graph

# Moments of writing differ between two runs, and so do the stamps of the search index's
# change feed (graph/search_changes.py), which every import advances for the records it
# wrote so that no API process ranks on facts older than it; everything else must be the same.
VOLATILE = {"created_at", "updated_at", "search_stamp"}

# The directory only: each import adds its audit events (importers/hsds/loader.py
# `Provenance`) and moves the search index's clock, which say that it ran, not what the
# directory holds.
NODES = """
MATCH (n) WHERE NOT n:SchemaMigration AND NOT n:AuditEvent AND NOT n:SearchClock
RETURN labels(n) AS labels, properties(n) AS props
"""
RELATIONSHIPS = """
MATCH (a)-[r]->(b)
RETURN coalesce(a.id, a.code) AS start, type(r) AS type, coalesce(b.id, b.code) AS end,
       properties(r) AS props
"""


def _plain(props: dict[str, Any]) -> str:
    return repr(sorted((k, repr(v)) for k, v in props.items() if k not in VOLATILE))


async def snapshot(graph: Graph) -> tuple[list[str], list[str]]:
    async with graph.driver.session(database=graph.database) as session:
        nodes = await (await session.run(NODES)).data()
        rels = await (await session.run(RELATIONSHIPS)).data()
    return (
        sorted(f"{sorted(n['labels'])} {_plain(n['props'])}" for n in nodes),
        sorted(f"{r['start']} {r['type']} {r['end']} {_plain(r['props'])}" for r in rels),
    )
