"""Duplicate review: candidates kept in the graph, decided by people, remembered.

A candidate is a relationship `(x)-[:POSSIBLY_SAME_AS {id, kind, score, evidence, state,
...}]->(y)` between two organisations or two services, always from the smaller id to the
larger, so that a pair has one relationship. `state` is `open`, `same` or `different`.

- The batch scan (`scan`) writes what the scorer of `graph.duplicates.scoring` finds. Writing MERGEs
  on the pair, so scanning again adds nothing twice; an open candidate that a new scan no
  longer finds is removed; a decided one stays decided unless one of the two records changed
  since (the fingerprints of what the reviewer saw differ), and then it is opened again.
- `resolve_duplicate` records a decision with a note. "Same" links the other record to the
  canonical one with `(x)-[:SAME_AS {candidate_id}]->(canonical)`; "different" removes such
  a link; `undo_resolution` opens the candidate again and removes the link. Every step is a
  `DuplicateReviewEvent` (never deleted) and an audit event.
- Lists and the search show a canonical record once: `CANONICAL_SERVICE` and
  `CANONICAL_ORGANISATION` are the predicates that leave out records merged into another.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.batching import batches
from core.clock import utcnow
from core.errors import NotFound, ValidationFailed
from graph.audit import FieldChange, record_event
from graph.driver import Graph
from graph.duplicates.blocking import MAX_BLOCK, OrganisationGroups, ProgressFn, find_matches
from graph.duplicates.queries import (
    PRUNE_BATCH,
    area_parents,
    candidate_id,
    candidate_row,
    count_by_state,
    features_by_id,
    for_kind,
    kind_of,
    load_organisations,
    load_services,
    organisation_groups,
    prune_candidates,
    write_candidates,
)
from graph.duplicates.scoring import (
    THRESHOLD,
    Evidence,
    Kind,
    OrganisationFeatures,
    ServiceFeatures,
    score_organisations,
    score_services,
)
from graph.pagination import Page, decode_cursor, paginate
from graph.search_changes import services_changed
from graph.temporal import native
from graph.users import Actor

# A service (variable `s`) or organisation (`o`) that is not merged into another one. For
# search and lists that must show a canonical record once, e.g.
# `MATCH (s:Service) WHERE ... AND ` + CANONICAL_SERVICE.
CANONICAL_SERVICE: LiteralString = "NOT EXISTS { (s)-[:SAME_AS]->(:Service) }"
CANONICAL_ORGANISATION: LiteralString = "NOT EXISTS { (o)-[:SAME_AS]->(:Organisation) }"

WRITE_BATCH = 1_000


class State(StrEnum):
    OPEN = "open"
    SAME = "same"
    DIFFERENT = "different"


class Decision(StrEnum):
    SAME = "same"
    DIFFERENT = "different"


class ReviewEvent(BaseModel):
    at: datetime
    actor: str
    action: str  # same, different, undone, reopened
    note: str | None
    canonical_id: str | None


class DuplicatePair(BaseModel):
    id: str
    kind: Kind
    a_id: str
    a_name: str
    b_id: str
    b_name: str
    score: float
    evidence: list[Evidence]
    state: State
    canonical_id: str | None
    found_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    note: str | None
    history: list[ReviewEvent]


class ScanReport(BaseModel):
    kind: Kind
    records: int
    blocks: int
    skipped_blocks: int
    pairs_compared: int
    candidates: int
    new: int
    reopened: int
    pruned: int
    by_state: dict[str, int]
    seconds: dict[str, float]


async def scan(
    graph: Graph,
    *,
    kind: Kind,
    min_score: float = THRESHOLD,
    max_block: int = MAX_BLOCK,
    progress: ProgressFn | None = None,
) -> ScanReport:
    """Compare the whole directory for one kind of record and keep the candidates. Safe to
    run again at any time (see the module docstring)."""
    scan_id = str(uuid.uuid4())
    now = utcnow()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    if progress is not None:
        progress("read", 0, 1)
    parents = await graph.read(area_parents)
    groups: OrganisationGroups | None = None
    records: Sequence[OrganisationFeatures | ServiceFeatures]
    if kind is Kind.ORGANISATION:
        records = await graph.read(load_organisations)
    else:
        groups = await graph.read(organisation_groups)
        records = await graph.read(load_services)
    if progress is not None:
        progress("read", 1, 1)
    seconds["read"] = time.perf_counter() - started

    mark = time.perf_counter()
    # Pure Python and seconds long on a large directory: in a thread, so that the API's
    # periodic scan does not stop its event loop from serving requests meanwhile.
    matches, blocks, skipped, compared = await asyncio.to_thread(
        find_matches,
        kind,
        records,
        groups=groups,
        min_score=min_score,
        max_block=max_block,
        progress=progress,
    )
    seconds["compare"] = time.perf_counter() - mark

    mark = time.perf_counter()
    rows = [candidate_row(kind, records[i], records[j], m, parents) for i, j, m in matches]
    totals = {"written": 0, "new": 0, "reopened": 0}
    written = 0
    for batch in batches(rows, WRITE_BATCH):
        if progress is not None:
            progress("write", written, len(rows))
        counts = await graph.write(
            write_candidates, kind=kind, rows=list(batch), scan=scan_id, now=now
        )
        totals = {k: totals[k] + counts[k] for k in totals}
        written += len(batch)
    if progress is not None:
        progress("write", len(rows), len(rows))
    pruned = 0
    while True:  # in batches, so that a scan after a big change stays within memory
        removed = await graph.write(prune_candidates, kind=kind, scan=scan_id)
        pruned += removed
        if removed < PRUNE_BATCH:
            break
    by_state = await graph.read(count_by_state, kind=kind)
    seconds["write"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    return ScanReport(
        kind=kind,
        records=len(records),
        blocks=blocks,
        skipped_blocks=skipped,
        pairs_compared=compared,
        candidates=totals["written"],
        new=totals["new"],
        reopened=totals["reopened"],
        pruned=pruned,
        by_state=by_state,
        seconds={k: round(v, 2) for k, v in seconds.items()},
    )


# --- reading candidates --------------------------------------------------------------------

RETURN_PAIR: LiteralString = """
RETURN r, a.id AS a_id, a.name AS a_name, b.id AS b_id, b.name AS b_name,
       COLLECT { MATCH (e:DuplicateReviewEvent {candidate_id: r.id})
                 RETURN e ORDER BY e.at, e.id } AS history
"""

LIST: LiteralString = (
    """
MATCH (a)-[r:POSSIBLY_SAME_AS]->(b)
WHERE ($kind IS NULL OR r.kind = $kind)
  AND ($state IS NULL OR r.state = $state)
  AND r.score >= $min_score
  AND ($area IS NULL OR $area IN r.areas)
  AND ($after_id = '' OR r.score < $after_score
       OR (r.score = $after_score AND r.id > $after_id))
WITH a, r, b ORDER BY r.score DESC, r.id LIMIT $limit
"""
    + RETURN_PAIR
)

BY_ID: LiteralString = "MATCH (a)-[r:POSSIBLY_SAME_AS {id: $id}]->(b) " + RETURN_PAIR


def _pair(record: Any) -> DuplicatePair:
    r = dict(record["r"])
    return DuplicatePair(
        id=r["id"],
        kind=Kind(r["kind"]),
        a_id=record["a_id"],
        a_name=record["a_name"],
        b_id=record["b_id"],
        b_name=record["b_name"],
        score=r.get("score") or 0.0,
        evidence=[Evidence(**e) for e in json.loads(r.get("evidence") or "[]")],
        state=State(r["state"]),
        canonical_id=r.get("canonical_id"),
        found_at=native(r.get("found_at")),
        decided_at=native(r.get("decided_at")),
        decided_by=r.get("decided_by"),
        note=r.get("note"),
        history=[
            ReviewEvent(
                at=native(e["at"]),
                actor=e["actor"],
                action=e["action"],
                note=e.get("note"),
                canonical_id=e.get("canonical_id"),
            )
            for e in record["history"]
        ],
    )


async def list_candidates(
    tx: AsyncManagedTransaction,
    *,
    kind: Kind | None,
    area_id: str | None,
    min_score: float,
    state: State | None,
    first: int,
    after: str | None,
) -> Page[DuplicatePair]:
    """Best first; `area_id` matches candidates with a record in that area or below it."""
    score_text, after_id = decode_cursor(after)
    try:
        after_score = float(score_text) if after_id else 0.0
    except ValueError as exc:
        raise ValidationFailed.single("after", "not a cursor returned by this API") from exc
    result = await tx.run(
        LIST,
        kind=kind.value if kind else None,
        state=state.value if state else None,
        min_score=min_score,
        area=area_id,
        after_score=after_score,
        after_id=after_id,
        limit=first + 1,
    )
    pairs = [_pair(r) async for r in result]
    return paginate([(repr(p.score), p.id, p) for p in pairs], first)


async def get_candidate(tx: AsyncManagedTransaction, *, id: str) -> DuplicatePair:
    record = await (await tx.run(BY_ID, id=id)).single()
    if record is None:
        raise NotFound("duplicate candidate", id)
    return _pair(record)


# --- decisions -----------------------------------------------------------------------------

# A candidate a reviewer names that no scan proposed: created open, then decided.
CREATE_PAIR: LiteralString = """
MATCH (a:Record {id: $a})
MATCH (b:Record {id: $b})
MERGE (a)-[r:POSSIBLY_SAME_AS]->(b)
ON CREATE SET r.id = $id, r.kind = $kind, r.state = 'open', r.found_at = $now,
              r.score = $score, r.evidence = $evidence, r.areas = $areas, r.scan = 'reviewer'
"""

# Taking the write lock first serialises two reviewers deciding the same pair.
LOCK: LiteralString = """
MATCH ()-[r:POSSIBLY_SAME_AS {id: $id}]->()
SET r.decisions = coalesce(r.decisions, 0) + 1
RETURN r.state AS state, r.kind AS kind, startNode(r).id AS a, endNode(r).id AS b,
       r.score AS score
"""

# The record the other one is merged into, following earlier merges to their end.
ROOT: LiteralString = """
MATCH (x:Record {id: $id})
OPTIONAL MATCH (x)-[:SAME_AS*1..10]->(root) WHERE NOT (root)-[:SAME_AS]->()
RETURN coalesce(root.id, x.id) AS root
"""

MERGED_ELSEWHERE: LiteralString = """
MATCH (x:Record {id: $id})-[l:SAME_AS]->(other) WHERE l.candidate_id <> $candidate
RETURN other.id AS other LIMIT 1
"""

UNLINK: LiteralString = "MATCH ()-[l:SAME_AS {candidate_id: $candidate}]->() DELETE l"

LINK: LiteralString = """
MATCH (x:Record {id: $other})
MATCH (c:Record {id: $canonical})
MERGE (x)-[l:SAME_AS {candidate_id: $candidate}]->(c)
SET l.at = $now, l.by = $by
"""

DECIDE: LiteralString = """
MATCH ()-[r:POSSIBLY_SAME_AS {id: $id}]->()
SET r.state = $state, r.canonical_id = $canonical, r.decided_at = $now, r.decided_by = $by,
    r.note = $note, r.a_fingerprint = $a_fingerprint, r.b_fingerprint = $b_fingerprint
CREATE (:DuplicateReviewEvent {id: randomUUID(), candidate_id: $id, at: $now, actor: $by,
        action: $action, note: $note, canonical_id: $canonical, previous_state: $previous})
"""


async def _pair_for(tx: AsyncManagedTransaction, *, a: str, b: str, now: datetime) -> str:
    """The candidate of two records named by a reviewer, created if no scan proposed it."""
    if a == b:
        raise ValidationFailed.single("b", "a record is always the same as itself")
    kinds = [await kind_of(tx, id=a), await kind_of(tx, id=b)]
    for id, kind in zip((a, b), kinds, strict=True):
        if kind is None:
            raise NotFound("organisation or service", id)
    if kinds[0] is not kinds[1]:
        raise ValidationFailed.single("b", "an organisation and a service are never the same")
    kind = kinds[0]
    assert kind is not None
    id = candidate_id(kind, a, b)
    features = await features_by_id(tx, kind=kind, ids=[a, b])
    fa, fb = features[a], features[b]
    if isinstance(fa, OrganisationFeatures) and isinstance(fb, OrganisationFeatures):
        match = score_organisations(fa, fb)
    elif isinstance(fa, ServiceFeatures) and isinstance(fb, ServiceFeatures):
        groups = await organisation_groups(tx)
        match = score_services(
            fa, fb, related=groups.related(fa.organisation_id, fb.organisation_id)
        )
    else:  # pragma: no cover - kinds were checked above
        raise ValidationFailed.single("b", "records of different kinds")
    parents = await area_parents(tx)
    row = candidate_row(kind, fa, fb, match, parents)
    await tx.run(
        for_kind(kind, CREATE_PAIR),
        a=row["a"],
        b=row["b"],
        id=id,
        kind=kind.value,
        now=now,
        score=row["score"],
        evidence=row["evidence"],
        areas=row["areas"],
    )
    return id


async def resolve_duplicate(
    tx: AsyncManagedTransaction,
    *,
    candidate: str | None,
    a: str | None,
    b: str | None,
    decision: Decision,
    note: str | None,
    canonical_id: str | None,
    actor: Actor,
    now: datetime,
    override_low_score: bool = False,
) -> DuplicatePair:
    """Decide a candidate (by its id, or by the two records it is about). Deciding again
    replaces the decision; the history keeps both. SAME for a pair scored below the
    candidate threshold needs `override_low_score` and a note."""
    if candidate is None:
        if a is None or b is None:
            raise ValidationFailed.single(
                "candidate", "name the candidate, or both records a and b"
            )
        candidate = await _pair_for(tx, a=a, b=b, now=now)
    locked = await (await tx.run(LOCK, id=candidate)).single()
    if locked is None:
        raise NotFound("duplicate candidate", candidate)
    kind, first, second = Kind(locked["kind"]), locked["a"], locked["b"]
    score = locked["score"]
    if decision is Decision.SAME and score is not None and score < THRESHOLD:
        # A merge hides one record from search: for two records the scorer does not even
        # find alike, it is a deliberate act with its reason on record, not a slip.
        if not override_low_score:
            raise ValidationFailed.single(
                "override_low_score",
                f"the records score {score:.2f}, below the candidate threshold "
                f"{THRESHOLD:.2f}; to merge them anyway, confirm the override and say why "
                "in the note",
            )
        if not note:
            raise ValidationFailed.single(
                "note", "merging records below the candidate threshold needs a note saying why"
            )
    features = await features_by_id(tx, kind=kind, ids=[first, second])
    canonical: str | None = None
    await tx.run(UNLINK, candidate=candidate)
    # A merge hides a service from search, undoing it shows it again.
    await services_changed(tx, ids=[first, second])
    if decision is Decision.SAME:
        chosen = canonical_id or await _default_canonical(tx, kind, first, second)
        if chosen not in (first, second):
            raise ValidationFailed.single(
                "canonical_id", f"must be one of the pair, {first} or {second}"
            )
        other = second if chosen == first else first
        elsewhere = await (
            await tx.run(for_kind(kind, MERGED_ELSEWHERE), id=other, candidate=candidate)
        ).single()
        if elsewhere is not None:
            raise ValidationFailed.single(
                "canonical_id",
                f"{other} is merged into {elsewhere['other']} already; undo that first or "
                "choose it as the canonical record",
            )
        root = await (await tx.run(for_kind(kind, ROOT), id=chosen)).single(strict=True)
        canonical = str(root["root"])
        if canonical == other:
            raise ValidationFailed.single("canonical_id", f"{chosen} is merged into {other}")
        await tx.run(
            for_kind(kind, LINK),
            other=other,
            canonical=canonical,
            candidate=candidate,
            now=now,
            by=actor.label,
        )
    await tx.run(
        DECIDE,
        id=candidate,
        state=decision.value,
        action=decision.value,
        canonical=canonical,
        now=now,
        by=actor.label,
        note=note,
        previous=locked["state"],
        a_fingerprint=features[first].fingerprint() if first in features else None,
        b_fingerprint=features[second].fingerprint() if second in features else None,
    )
    await _audit(tx, actor=actor, action=f"duplicate {decision.value}", candidate=candidate,
                 before=locked["state"], after=decision.value, canonical=canonical)  # fmt: skip
    return await get_candidate(tx, id=candidate)


# The record created first stays; on a tie, the one other records are already merged into,
# then the smaller id.
DEFAULT_CANONICAL: LiteralString = """
UNWIND $ids AS id
MATCH (x:Record {id: id})
RETURN x.id AS id ORDER BY x.created_at, COUNT { (x)<-[:SAME_AS]-() } DESC, x.id LIMIT 1
"""


async def _default_canonical(tx: AsyncManagedTransaction, kind: Kind, a: str, b: str) -> str:
    result = await tx.run(for_kind(kind, DEFAULT_CANONICAL), ids=[a, b])
    r = await result.single(strict=True)
    return str(r["id"])


REOPEN: LiteralString = """
MATCH ()-[r:POSSIBLY_SAME_AS {id: $id}]->()
WITH r, r.state AS previous
SET r.state = 'open', r.canonical_id = null, r.decided_at = null, r.decided_by = null,
    r.note = null, r.a_fingerprint = null, r.b_fingerprint = null
CREATE (:DuplicateReviewEvent {id: randomUUID(), candidate_id: $id, at: $now, actor: $by,
        action: 'undone', note: $note, previous_state: previous})
"""


async def undo_resolution(
    tx: AsyncManagedTransaction, *, candidate: str, note: str | None, actor: Actor, now: datetime
) -> DuplicatePair:
    """Open a decided candidate again; a merge it made is undone."""
    locked = await (await tx.run(LOCK, id=candidate)).single()
    if locked is None:
        raise NotFound("duplicate candidate", candidate)
    if locked["state"] == State.OPEN.value:
        raise ValidationFailed.single("candidate", "this candidate is not decided; nothing to undo")
    await tx.run(UNLINK, candidate=candidate)
    await services_changed(tx, ids=[locked["a"], locked["b"]])
    await tx.run(REOPEN, id=candidate, now=now, by=actor.label, note=note)
    await _audit(tx, actor=actor, action="duplicate undone", candidate=candidate,
                 before=locked["state"], after=State.OPEN.value, canonical=None)  # fmt: skip
    return await get_candidate(tx, id=candidate)


async def _audit(
    tx: AsyncManagedTransaction, *, actor: Actor, action: str, candidate: str, before: str,
    after: str, canonical: str | None,
) -> None:  # fmt: skip
    changes = [FieldChange(field="state", previous=before, replacement=after)]
    if canonical is not None:
        changes.append(FieldChange(field="canonical_id", previous=None, replacement=canonical))
    await record_event(
        tx,
        actor=actor,
        action=action,
        entity="duplicate candidate",
        entity_id=candidate,
        organisation_id=None,
        changes=changes,
    )


CANONICAL_OF: LiteralString = """
UNWIND $ids AS id
OPTIONAL MATCH (o:Organisation {id: id})
OPTIONAL MATCH (s:Service {id: id})
WITH id, coalesce(o, s) AS x WHERE x IS NOT NULL
OPTIONAL MATCH (x)-[:SAME_AS*1..10]->(root) WHERE NOT (root)-[:SAME_AS]->()
RETURN id, coalesce(root.id, id) AS canonical
"""


async def canonical_ids(tx: AsyncManagedTransaction, *, ids: list[str]) -> dict[str, str]:
    """Each id with the id of the record it is merged into (itself if none)."""
    return {r["id"]: r["canonical"] async for r in await tx.run(CANONICAL_OF, ids=ids)}
