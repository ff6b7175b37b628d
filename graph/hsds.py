"""Reads for HSDS import, export and the `/hsds/` API: the facts an import is checked
against, and pages of services and organisations with the filters of the HSDS API.

Writes go through the bulk writes of each concept (`upsert_organisations`,
`upsert_services`, ...), so an import follows the same rules as every other entry path.
"""

from __future__ import annotations

from typing import LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel


class AreaFact(BaseModel):
    id: str
    level: str
    parent: str | None
    keys: list[str]
    name: str | None


class DirectoryFacts(BaseModel):
    needs: list[str]
    target_groups: list[str]
    programmes: list[str]
    areas: list[AreaFact]


FACTS: LiteralString = """
CALL () { MATCH (n:Need) RETURN collect(n.code) AS needs }
CALL () { MATCH (t:TargetGroup) RETURN collect(t.code) AS groups }
CALL () { MATCH (p:Programme) RETURN collect(p.id) AS programmes }
CALL () {
  MATCH (a:Area)
  OPTIONAL MATCH (a)-[:PART_OF]->(p:Area)
  RETURN collect({id: a.id, level: a.level, parent: p.id, keys: coalesce(a.search_keys, []),
                  name: a.name}) AS areas
}
RETURN needs, groups, programmes, areas
"""


async def directory_facts(tx: AsyncManagedTransaction) -> DirectoryFacts:
    """Needs, target groups, programmes and areas: small sets, read once per import."""
    record = await (await tx.run(FACTS)).single(strict=True)
    return DirectoryFacts(
        needs=record["needs"],
        target_groups=record["groups"],
        programmes=record["programmes"],
        areas=[AreaFact.model_validate(a) for a in record["areas"]],
    )


class OrganisationRef(BaseModel):
    ref: str
    id: str
    country: str


ORGANISATIONS_BY_REFS: LiteralString = """
UNWIND $refs AS ref
CALL (ref) {
  MATCH (o:Organisation {id: ref}) RETURN o
  UNION
  MATCH (o:Organisation {hsds_id: ref}) RETURN o
}
RETURN ref, o.id AS id, o.country AS country
"""


async def organisations_by_refs(
    tx: AsyncManagedTransaction, *, refs: list[str]
) -> list[OrganisationRef]:
    """Existing organisations an import's services name by Homeward or HSDS id."""
    result = await tx.run(ORGANISATIONS_BY_REFS, refs=refs)
    return [OrganisationRef.model_validate(dict(r)) async for r in result]


class LocationRef(BaseModel):
    ref: str
    id: str
    area: str | None


LOCATIONS_BY_REFS: LiteralString = """
UNWIND $refs AS ref
CALL (ref) {
  MATCH (l:Location {id: ref}) RETURN l
  UNION
  MATCH (l:Location {hsds_id: ref}) RETURN l
}
RETURN ref, l.id AS id, COLLECT { MATCH (l)-[:IN]->(a:Area) RETURN a.id }[0] AS area
"""


async def locations_by_refs(tx: AsyncManagedTransaction, *, refs: list[str]) -> list[LocationRef]:
    """Existing sites an import names, with the area they are in."""
    result = await tx.run(LOCATIONS_BY_REFS, refs=refs)
    return [LocationRef.model_validate(dict(r)) async for r in result]
