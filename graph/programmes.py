"""Programmes: return and reintegration programmes or funding lines that services belong to."""

from __future__ import annotations

from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, ConfigDict, Field

from graph.search_changes import programmes_changed


class ProgrammeRecord(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    name: str = Field(min_length=1, max_length=200)
    funder: str | None = Field(default=None, max_length=200)
    sending_countries: list[str] = Field(default_factory=list)
    illustrative: list[str] = Field(default_factory=list)
    source: str | None = None


class Programme(BaseModel):
    id: str
    name: str
    funder: str | None
    sending_countries: list[str]


UPSERT: LiteralString = """
UNWIND $rows AS row
MERGE (p:Programme {id: row.id})
SET p += row
RETURN count(p) AS written
"""


async def upsert_programmes(tx: AsyncManagedTransaction, *, records: list[ProgrammeRecord]) -> int:
    rows = [
        r.model_dump() | {"illustrative_fields": r.illustrative, "illustrative": None}
        for r in records
    ]
    result = await tx.run(UPSERT, rows=rows)
    record = await result.single(strict=True)
    await programmes_changed(tx, ids=[r.id for r in records])
    return int(record["written"])


BY_IDS: LiteralString = """
UNWIND $ids AS id
MATCH (p:Programme {id: id})
RETURN p
"""


def _programme(node: Any) -> Programme:
    props = dict(node)
    return Programme(
        id=props["id"],
        name=props["name"],
        funder=props.get("funder"),
        sending_countries=list(props.get("sending_countries") or []),
    )


async def programmes_by_ids(tx: AsyncManagedTransaction, *, ids: list[str]) -> dict[str, Programme]:
    result = await tx.run(BY_IDS, ids=ids)
    return {p.id: p for p in [_programme(r["p"]) async for r in result]}
