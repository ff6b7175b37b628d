"""Target groups: who a service is for (Roma, Ashkali and Egyptian communities; elderly; ...)."""

from __future__ import annotations

from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from graph.needs import Term, term_from_properties, term_properties


class TargetGroup(Term):
    pass


UPSERT: LiteralString = """
UNWIND $rows AS props
MERGE (t:TargetGroup {code: props.code})
SET t += props
RETURN count(t) AS written
"""


async def upsert_target_groups(tx: AsyncManagedTransaction, *, records: list[Term]) -> int:
    result = await tx.run(UPSERT, rows=[term_properties(r) for r in records])
    record = await result.single(strict=True)
    return int(record["written"])


ALL: LiteralString = "MATCH (t:TargetGroup) RETURN t ORDER BY t.code"


def _group(node: Any) -> TargetGroup:
    return TargetGroup(**term_from_properties(dict(node)))


async def all_target_groups(tx: AsyncManagedTransaction) -> list[TargetGroup]:
    result = await tx.run(ALL)
    return [_group(r["t"]) async for r in result]


BY_CODES: LiteralString = """
UNWIND $codes AS code
MATCH (t:TargetGroup {code: code})
RETURN t
"""


async def target_groups_by_codes(
    tx: AsyncManagedTransaction, *, codes: list[str]
) -> dict[str, TargetGroup]:
    result = await tx.run(BY_CODES, codes=codes)
    return {g.code: g for g in [_group(r["t"]) async for r in result]}
