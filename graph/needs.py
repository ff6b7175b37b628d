"""Needs: the taxonomy of what a returnee needs, with `BROADER` links between terms.

Target groups share the shape of a term (code, labels, descriptions) and live in
`graph/target_groups.py`; both use `Term` from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, Field, field_validator

from core.languages import from_properties, pick, to_properties, validate_labels
from core.text import search_keys

CODE_PATTERN = r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*$"


class Term(BaseModel):
    """A controlled-vocabulary term with labels and descriptions per language."""

    code: str = Field(pattern=CODE_PATTERN, max_length=80)
    labels: dict[str, str] = Field(min_length=1)
    descriptions: dict[str, str] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        return validate_labels(labels)

    @field_validator("descriptions")
    @classmethod
    def _descriptions(cls, descriptions: dict[str, str]) -> dict[str, str]:
        return validate_labels(descriptions, require_english=False)

    def label(self, lang: str | None = None) -> str:
        return pick(self.labels, lang)

    def description(self, lang: str | None = None) -> str | None:
        return pick(self.descriptions, lang) if self.descriptions else None


def term_properties(term: Term) -> dict[str, Any]:
    return {
        "code": term.code,
        "label": term.labels["en"],
        **to_properties("label", term.labels),
        **to_properties("description", term.descriptions),
        "search_keys": search_keys(list(term.labels.values())),
        "search_text": " ".join(search_keys(list(term.labels.values()))),
    }


def term_from_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "code": props["code"],
        "labels": from_properties("label", props),
        "descriptions": from_properties("description", props),
    }


class NeedRecord(Term):
    broader: str | None = Field(default=None, pattern=CODE_PATTERN)


class Need(Term):
    broader: str | None
    narrower: list[str]


UPSERT_NEEDS: LiteralString = """
UNWIND $rows AS row
MERGE (n:Need {code: row.props.code})
SET n += row.props
WITH n, row
OPTIONAL MATCH (n)-[old:BROADER]->(b:Need) WHERE b.code <> coalesce(row.broader, '')
DELETE old
WITH n, row
OPTIONAL MATCH (b:Need {code: row.broader})
FOREACH (_ IN CASE WHEN b IS NULL THEN [] ELSE [1] END | MERGE (n)-[:BROADER]->(b))
RETURN count(n) AS written
"""


async def upsert_needs(tx: AsyncManagedTransaction, *, records: list[NeedRecord]) -> int:
    """Broader terms must come before narrower ones in `records`."""
    rows = [{"props": term_properties(r), "broader": r.broader} for r in records]
    result = await tx.run(UPSERT_NEEDS, rows=rows)
    record = await result.single(strict=True)
    return int(record["written"])


ALL_NEEDS: LiteralString = """
MATCH (n:Need)
OPTIONAL MATCH (n)-[:BROADER]->(b:Need)
OPTIONAL MATCH (c:Need)-[:BROADER]->(n)
WITH n, b, c ORDER BY c.code
RETURN n, b.code AS broader, collect(c.code) AS narrower
ORDER BY n.code
"""


def _need(record: Any) -> Need:
    return Need(
        **term_from_properties(record["n"]),
        broader=record["broader"],
        narrower=[c for c in record["narrower"] if c is not None],
    )


async def all_needs(tx: AsyncManagedTransaction) -> list[Need]:
    result = await tx.run(ALL_NEEDS)
    return [_need(r) async for r in result]


NEEDS_BY_CODES: LiteralString = """
UNWIND $codes AS code
MATCH (n:Need {code: code})
OPTIONAL MATCH (n)-[:BROADER]->(b:Need)
OPTIONAL MATCH (c:Need)-[:BROADER]->(n)
WITH n, b, c ORDER BY c.code
RETURN n, b.code AS broader, collect(c.code) AS narrower
"""


async def needs_by_codes(tx: AsyncManagedTransaction, *, codes: list[str]) -> dict[str, Need]:
    result = await tx.run(NEEDS_BY_CODES, codes=codes)
    return {n.code: n for n in [_need(r) async for r in result]}
