"""Duplicate candidates in the graph: what the scorer and the review read and write.

- the features of records as the scorer sees them (`load_organisations`, `load_services`),
  the whole directory for the batch scan or a few records by id;
- the front door: the existing records a registration is checked against
  (`organisation_candidates`, `service_candidates`), and `PossibleDuplicates`, what the
  registration raises when there are any;
- the candidate rows the batch scan writes and prunes, and the area filter they carry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from core.errors import HomewardError
from core.text import fold
from graph.duplicates.blocking import OrganisationGroups
from graph.duplicates.scoring import (
    THRESHOLD,
    DuplicateCandidate,
    Kind,
    Match,
    OrganisationFeatures,
    ServiceFeatures,
    name_words,
    organisation_features,
    score_organisations,
    score_services,
    service_features,
)

# --- reading features from the graph -------------------------------------------------------

ORGANISATION_FEATURES: LiteralString = """
RETURN o.id AS id, o.name AS name, coalesce(o.alternate_names, []) AS alternate_names,
       o.acronym AS acronym, o.website_domain AS domain, o.phone_digits AS phone,
       o.email AS email, o.country AS country,
       COLLECT { MATCH (o)-[:BASED_IN]->(a:Area) RETURN a.id }[0] AS area,
       COLLECT { MATCH (o)-[:PROVIDES]->(:Service)-[:DELIVERED_AT]->(l:Location)
                 WHERE coalesce(l.point_source, 'given') = 'given' AND l.point IS NOT NULL
                 RETURN DISTINCT [l.point.y, l.point.x] LIMIT 10 } AS points
"""

ORGANISATIONS_BY_IDS: LiteralString = (
    "UNWIND $ids AS id MATCH (o:Organisation {id: id}) " + ORGANISATION_FEATURES
)

SERVICE_FEATURES: LiteralString = """
RETURN s.id AS id, s.name AS name, o.id AS organisation_id,
       COLLECT { MATCH (s)-[:ADDRESSES]->(n:Need) RETURN n.code } AS needs,
       COLLECT { MATCH (s)-[:SERVES]->(t:TargetGroup) RETURN t.code } AS groups,
       COLLECT { MATCH (s)-[:COVERS]->(a:Area) RETURN a.id }
       + COLLECT { MATCH (s)-[:DELIVERED_AT]->(:Location)-[:IN]->(a:Area) RETURN a.id }
         AS areas,
       COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location)
                 WHERE coalesce(l.point_source, 'given') = 'given' AND l.point IS NOT NULL
                 RETURN [l.point.y, l.point.x] } AS points
"""

SERVICES_BY_IDS: LiteralString = (
    "UNWIND $ids AS id MATCH (o:Organisation)-[:PROVIDES]->(s:Service {id: id}) " + SERVICE_FEATURES
)


# The whole directory comes as a few big lists of rows rather than one record per row:
# for 100,000 services that is about 4 s instead of about 50 s in the driver.
CHUNK = 5_000
ORGANISATION_FIELDS = (
    "id", "name", "alternate_names", "acronym", "domain", "phone", "email", "country", "area",
    "points",
)  # fmt: skip
ALL_ORGANISATIONS: LiteralString = """
MATCH (o:Organisation)
WITH collect([o.id, o.name, coalesce(o.alternate_names, []), o.acronym, o.website_domain,
  o.phone_digits, o.email, o.country,
  COLLECT { MATCH (o)-[:BASED_IN]->(a:Area) RETURN a.id }[0],
  COLLECT { MATCH (o)-[:PROVIDES]->(:Service)-[:DELIVERED_AT]->(l:Location)
            WHERE coalesce(l.point_source, 'given') = 'given' AND l.point IS NOT NULL
            RETURN DISTINCT [l.point.y, l.point.x] LIMIT 10 }]) AS rows
UNWIND range(0, size(rows) - 1, $chunk) AS i
RETURN rows[i..i + $chunk] AS chunk
"""
SERVICE_FIELDS = ("id", "name", "organisation_id", "needs", "groups", "areas", "points")
ALL_SERVICES: LiteralString = """
MATCH (o:Organisation)-[:PROVIDES]->(s:Service)
WITH collect([s.id, s.name, o.id,
  COLLECT { MATCH (s)-[:ADDRESSES]->(n:Need) RETURN n.code },
  COLLECT { MATCH (s)-[:SERVES]->(t:TargetGroup) RETURN t.code },
  COLLECT { MATCH (s)-[:COVERS]->(a:Area) RETURN a.id }
  + COLLECT { MATCH (s)-[:DELIVERED_AT]->(:Location)-[:IN]->(a:Area) RETURN a.id },
  COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location)
            WHERE coalesce(l.point_source, 'given') = 'given' AND l.point IS NOT NULL
            RETURN [l.point.y, l.point.x] }]) AS rows
UNWIND range(0, size(rows) - 1, $chunk) AS i
RETURN rows[i..i + $chunk] AS chunk
"""


async def _rows(
    tx: AsyncManagedTransaction, statement: LiteralString, fields: tuple[str, ...]
) -> list[dict[str, Any]]:
    result = await tx.run(statement, chunk=CHUNK)
    return [dict(zip(fields, row, strict=True)) async for r in result for row in r["chunk"]]


async def load_organisations(
    tx: AsyncManagedTransaction, *, ids: list[str] | None = None
) -> list[OrganisationFeatures]:
    """All organisations (`ids` None) or those named, as the scorer sees them."""
    if ids is None:
        rows = await _rows(tx, ALL_ORGANISATIONS, ORGANISATION_FIELDS)
    else:
        rows = [r.data() async for r in await tx.run(ORGANISATIONS_BY_IDS, ids=ids)]
    return [organisation_features(**row) for row in rows]


async def load_services(
    tx: AsyncManagedTransaction, *, ids: list[str] | None = None
) -> list[ServiceFeatures]:
    if ids is None:
        rows = await _rows(tx, ALL_SERVICES, SERVICE_FIELDS)
    else:
        rows = [r.data() async for r in await tx.run(SERVICES_BY_IDS, ids=ids)]
    return [service_features(**row) for row in rows]


# Organisations linked as confirmed duplicates, or as candidates nobody dismissed.
RELATED_ORGANISATIONS: LiteralString = """
MATCH (a:Organisation)-[r:SAME_AS|POSSIBLY_SAME_AS]->(b:Organisation)
WHERE r:SAME_AS OR r.state <> 'different'
RETURN a.id AS a, b.id AS b
"""


async def organisation_groups(tx: AsyncManagedTransaction) -> OrganisationGroups:
    result = await tx.run(RELATED_ORGANISATIONS)
    return OrganisationGroups([(r["a"], r["b"]) async for r in result])


# --- the front door ------------------------------------------------------------------------

_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')


def fuzzy_terms(names: Iterable[str]) -> str | None:
    """A Lucene query matching any word of the names, each within one edit."""
    words = sorted({w for name in names for w in name_words(fold(name)) if len(w) > 2})
    if not words:
        return None
    return " ".join(_LUCENE_SPECIAL.sub(r"\\\1", w) + "~1" for w in words[:12])


# Records found by an exact key (indexed), and by the folded words of their names within
# one edit (the full-text index over `search_text`); the scorer decides among them.
_BY_WORDS: LiteralString = """
  WITH $terms AS terms WHERE terms <> ''
  CALL db.index.fulltext.queryNodes('directory_text', terms, {limit: 60}) YIELD node
"""
ORGANISATION_LOOKUP: LiteralString = (
    """
CALL () {
  MATCH (o:Organisation) WHERE $domain IS NOT NULL AND o.website_domain = $domain RETURN o
  UNION
  MATCH (o:Organisation) WHERE $phone IS NOT NULL AND o.phone_digits = $phone RETURN o
  UNION
  MATCH (o:Organisation) WHERE $email IS NOT NULL AND o.email = $email RETURN o
  UNION
"""
    + _BY_WORDS
    + """
  WITH node WHERE node:Organisation RETURN node AS o
}
RETURN DISTINCT o.id AS id LIMIT 60
"""
)
SERVICE_LOOKUP: LiteralString = (
    """
CALL () {
  MATCH (o:Organisation)-[:PROVIDES]->(s:Service) WHERE o.id IN $organisations RETURN s
  UNION
  MATCH (s:Service) WHERE s.name_key = $name_key RETURN s
  UNION
"""
    + _BY_WORDS
    + """
  WITH node WHERE node:Service RETURN node AS s
}
RETURN DISTINCT s.id AS id LIMIT 200
"""
)

RELATED_ORGANISATION_IDS: LiteralString = """
MATCH (:Organisation {id: $id})-[r:SAME_AS|POSSIBLY_SAME_AS]-(other:Organisation)
WHERE r:SAME_AS OR r.state <> 'different'
RETURN collect(DISTINCT other.id) AS ids
"""


def _ranked(
    matches: Iterable[tuple[str, str, Match]], entity: Kind, limit: int = 10
) -> list[DuplicateCandidate]:
    kept = sorted(
        (m for m in matches if m[2].score >= THRESHOLD), key=lambda m: (-m[2].score, m[1], m[0])
    )
    return [
        DuplicateCandidate(
            entity=entity.value, id=id, name=name, evidence=match.evidence, score=match.score
        )
        for id, name, match in kept[:limit]
    ]


async def organisation_candidates(
    tx: AsyncManagedTransaction, *, record: OrganisationFeatures
) -> list[DuplicateCandidate]:
    """Existing organisations that `record` (not yet written) probably repeats."""
    terms = fuzzy_terms([n for n, _ in record.names] + [record.acronym or ""])
    result = await tx.run(
        ORGANISATION_LOOKUP,
        domain=record.domain,
        phone=record.phone,
        email=record.email,
        terms=terms or "",
    )
    ids = [r["id"] async for r in result if r["id"] != record.id]
    existing = await load_organisations(tx, ids=ids) if ids else []
    return _ranked(
        ((o.id, o.name, score_organisations(record, o)) for o in existing), Kind.ORGANISATION
    )


async def service_candidates(
    tx: AsyncManagedTransaction, *, record: ServiceFeatures
) -> list[DuplicateCandidate]:
    """Existing services that `record` (not yet written) probably repeats: those of its own
    organisation and of organisations that duplicate it, and those with similar words."""
    related = await (await tx.run(RELATED_ORGANISATION_IDS, id=record.organisation_id)).single(
        strict=True
    )
    related_ids = set(related["ids"])
    result = await tx.run(
        SERVICE_LOOKUP,
        organisations=[record.organisation_id, *related_ids],
        name_key=record.folded,
        terms=fuzzy_terms([record.name]) or "",
    )
    ids = [r["id"] async for r in result if r["id"] != record.id]
    existing = await load_services(tx, ids=ids) if ids else []
    return _ranked(
        (
            (s.id, s.name, score_services(record, s, related=s.organisation_id in related_ids))
            for s in existing
        ),
        Kind.SERVICE,
    )


class PossibleDuplicates(HomewardError):
    """A registration that probably repeats an existing record; nothing was written."""

    def __init__(self, entity: str, candidates: list[DuplicateCandidate]) -> None:
        names = ", ".join(f"{c.name} ({c.id})" for c in candidates)
        super().__init__(
            f"this {entity} probably exists already: {names}; register it anyway with "
            "confirmNotDuplicate: true if it is a different one"
        )
        self.candidates = candidates


# --- records named by id -------------------------------------------------------------------

KIND_OF: LiteralString = """
OPTIONAL MATCH (o:Organisation {id: $id})
OPTIONAL MATCH (s:Service {id: $id})
RETURN o IS NOT NULL AS organisation, s IS NOT NULL AS service
"""


async def kind_of(tx: AsyncManagedTransaction, *, id: str) -> Kind | None:
    r = await (await tx.run(KIND_OF, id=id)).single(strict=True)
    if r["organisation"]:
        return Kind.ORGANISATION
    if r["service"]:
        return Kind.SERVICE
    return None


async def features_by_id(
    tx: AsyncManagedTransaction, *, kind: Kind, ids: list[str]
) -> dict[str, OrganisationFeatures | ServiceFeatures]:
    found: Sequence[OrganisationFeatures | ServiceFeatures]
    if kind is Kind.ORGANISATION:
        found = await load_organisations(tx, ids=ids)
    else:
        found = await load_services(tx, ids=ids)
    return {f.id: f for f in found}


_LABELS: dict[Kind, LiteralString] = {Kind.ORGANISATION: "Organisation", Kind.SERVICE: "Service"}


def for_kind(kind: Kind, statement: LiteralString) -> LiteralString:
    """The statement with its `:Record` label made the kind's own, so that the id lookups
    use the label's unique index."""
    return statement.replace(":Record", ":" + _LABELS[kind])


def candidate_id(kind: Kind, a: str, b: str) -> str:
    first, second = sorted((a, b))
    return f"{kind.value}:{first}:{second}"


# --- area filter ---------------------------------------------------------------------------

AREA_PARENTS: LiteralString = """
MATCH (a:Area) RETURN a.id AS id, COLLECT { MATCH (a)-[:PART_OF]->(p:Area) RETURN p.id } AS up
"""


async def area_parents(tx: AsyncManagedTransaction) -> dict[str, list[str]]:
    return {r["id"]: r["up"] async for r in await tx.run(AREA_PARENTS)}


def with_ancestors(areas: Sequence[str], parents: dict[str, list[str]]) -> list[str]:
    """The areas and every area they are PART_OF, so that a filter on a country finds a
    candidate in one of its towns."""
    seen: dict[str, None] = {}
    todo = list(areas)
    while todo:
        area = todo.pop()
        if area in seen:
            continue
        seen[area] = None
        todo += parents.get(area, [])
    return sorted(seen)


def _areas_of(record: OrganisationFeatures | ServiceFeatures) -> list[str]:
    if isinstance(record, OrganisationFeatures):
        return [a for a in (record.area, record.country) if a]
    return list(record.areas)


# --- writing candidates --------------------------------------------------------------------

# `changed`: a decided pair whose records are no longer what the reviewer saw.
WRITE_CANDIDATES: LiteralString = """
UNWIND $rows AS row
MATCH (a:Record {id: row.a})
MATCH (b:Record {id: row.b})
MERGE (a)-[r:POSSIBLY_SAME_AS]->(b)
ON CREATE SET r.id = row.id, r.kind = $kind, r.state = 'open', r.found_at = $now,
              r.found_by_scan = $scan
WITH r, row,
     r.state <> 'open' AND (r.a_fingerprint <> row.a_fingerprint
                            OR r.b_fingerprint <> row.b_fingerprint) AS changed
SET r.score = row.score, r.evidence = row.evidence, r.areas = row.areas, r.scan = $scan,
    r.seen_at = $now
FOREACH (_ IN CASE WHEN changed THEN [1] ELSE [] END |
  CREATE (:DuplicateReviewEvent {id: randomUUID(), candidate_id: r.id, at: $now,
          actor: 'scan', action: 'reopened', note: 'a record changed since the decision',
          previous_state: r.state})
  SET r.state = 'open', r.reopened_at = $now)
RETURN count(r) AS written,
       sum(CASE WHEN r.found_by_scan = $scan THEN 1 ELSE 0 END) AS new,
       sum(CASE WHEN changed THEN 1 ELSE 0 END) AS reopened
"""

# Open candidates the latest scan of this kind did not find again.
PRUNE: LiteralString = """
MATCH ()-[r:POSSIBLY_SAME_AS]->()
WHERE r.kind = $kind AND r.state = 'open' AND r.scan <> $scan
WITH r LIMIT $limit
DELETE r
RETURN count(*) AS pruned
"""
PRUNE_BATCH = 10_000

COUNT_DECIDED: LiteralString = """
MATCH ()-[r:POSSIBLY_SAME_AS]->() WHERE r.kind = $kind
RETURN r.state AS state, count(*) AS n
"""


def candidate_row(
    kind: Kind, a: Any, b: Any, match: Match, parents: dict[str, list[str]]
) -> dict[str, Any]:
    first, second = (a, b) if a.id < b.id else (b, a)
    return {
        "id": candidate_id(kind, a.id, b.id),
        "a": first.id,
        "b": second.id,
        "score": match.score,
        "evidence": json.dumps([e.model_dump() for e in match.evidence], ensure_ascii=False),
        "areas": with_ancestors([*_areas_of(a), *_areas_of(b)], parents),
        "a_fingerprint": first.fingerprint(),
        "b_fingerprint": second.fingerprint(),
    }


async def write_candidates(
    tx: AsyncManagedTransaction, *, kind: Kind, rows: list[dict[str, Any]], scan: str, now: datetime
) -> dict[str, int]:
    result = await tx.run(
        for_kind(kind, WRITE_CANDIDATES), rows=rows, kind=kind.value, scan=scan, now=now
    )
    r = await result.single(strict=True)
    return {"written": r["written"], "new": r["new"], "reopened": r["reopened"]}


async def prune_candidates(tx: AsyncManagedTransaction, *, kind: Kind, scan: str) -> int:
    result = await tx.run(PRUNE, kind=kind.value, scan=scan, limit=PRUNE_BATCH)
    return int((await result.single(strict=True))["pruned"])


async def count_by_state(tx: AsyncManagedTransaction, *, kind: Kind) -> dict[str, int]:
    return {r["state"]: r["n"] async for r in await tx.run(COUNT_DECIDED, kind=kind.value)}
