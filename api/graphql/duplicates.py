"""GraphQL for duplicate review: `duplicateCandidates`, `resolveDuplicate` and
`undoDuplicateResolution` (coordinators and admins)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.graphql.context import Info
from api.graphql.enums import Decision, Kind, State
from api.graphql.errors import (
    EvidenceType,
    ForbiddenError,
    NotFoundError,
    ValidationError,
    to_graphql_error,
)
from api.graphql.organisations import OrganisationType
from api.graphql.pagination import Connection, to_connection
from api.graphql.services import ServiceType
from core.errors import HomewardError, ValidationFailed
from graph.duplicates import (
    THRESHOLD,
    DuplicatePair,
    list_candidates,
    resolve_duplicate,
    undo_resolution,
)
from graph.pagination import page_size


@strawberry.type
class DuplicateRecord:
    """One side of a candidate: an organisation or a service."""

    id: strawberry.ID
    name: str
    _kind: strawberry.Private[Kind]

    @strawberry.field
    async def organisation(self, info: Info) -> OrganisationType | None:
        if self._kind is not Kind.ORGANISATION:
            return None
        found = await info.context.loaders.organisation.load(str(self.id))
        return OrganisationType.from_model(found) if found else None

    @strawberry.field
    async def service(self, info: Info) -> ServiceType | None:
        if self._kind is not Kind.SERVICE:
            return None
        found = await info.context.loaders.service.load(str(self.id))
        return ServiceType.from_model(found) if found else None


@strawberry.type
class DuplicateReviewEventType:
    at: datetime
    actor: str
    action: str = strawberry.field(description="same, different, undone or reopened.")
    note: str | None
    canonical_id: strawberry.ID | None


@strawberry.type(name="DuplicatePair")
class DuplicatePairType:
    """Two records that probably describe the same organisation or service."""

    id: strawberry.ID
    kind: Kind
    score: float = strawberry.field(
        description=f"0..1; candidates start at {THRESHOLD}, the evidence adds up to it."
    )
    evidence: list[EvidenceType]
    state: State
    a: DuplicateRecord
    b: DuplicateRecord
    canonical_id: strawberry.ID | None = strawberry.field(
        description="After a SAME decision: the record the other one is merged into."
    )
    found_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    note: str | None
    history: list[DuplicateReviewEventType]

    @classmethod
    def from_model(cls, p: DuplicatePair) -> DuplicatePairType:
        return cls(
            id=strawberry.ID(p.id),
            kind=p.kind,
            score=p.score,
            evidence=[
                EvidenceType(field=e.field, value=e.value, similarity=e.similarity, weight=e.weight)
                for e in p.evidence
            ],
            state=p.state,
            a=DuplicateRecord(id=strawberry.ID(p.a_id), name=p.a_name, _kind=p.kind),
            b=DuplicateRecord(id=strawberry.ID(p.b_id), name=p.b_name, _kind=p.kind),
            canonical_id=strawberry.ID(p.canonical_id) if p.canonical_id else None,
            found_at=p.found_at,
            decided_at=p.decided_at,
            decided_by=p.decided_by,
            note=p.note,
            history=[
                DuplicateReviewEventType(
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    note=e.note,
                    canonical_id=strawberry.ID(e.canonical_id) if e.canonical_id else None,
                )
                for e in p.history
            ],
        )


@strawberry.input
class ResolveDuplicateInput:
    decision: Decision
    candidate: strawberry.ID | None = strawberry.field(
        default=None, description="The candidate's id; or name both records as a and b."
    )
    a: strawberry.ID | None = None
    b: strawberry.ID | None = None
    note: str | None = None
    canonical_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="For SAME: the record to keep; by default the one created first.",
    )
    override_low_score: bool = strawberry.field(
        default=False,
        description="For SAME of two records scored below the candidate threshold: merge them "
        "anyway (a note saying why is required).",
    )


@strawberry.type
class DuplicatePairPayload:
    candidate: DuplicatePairType


DuplicateReviewResult = Annotated[
    DuplicatePairPayload | ValidationError | NotFoundError | ForbiddenError,
    strawberry.union("DuplicateReviewResult"),
]

MAX_NOTE = 2000


def _note(note: str | None) -> str | None:
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise ValidationFailed.single("note", f"at most {MAX_NOTE} characters")
    return note


def _review_error(exc: HomewardError) -> DuplicateReviewResult:
    error = to_graphql_error(exc)
    if isinstance(error, ValidationError | NotFoundError | ForbiddenError):
        return error
    raise exc  # a version conflict or duplicate warning cannot come from a review


@strawberry.type
class DuplicateQuery:
    @strawberry.field(description="Probable duplicate records, best first.")
    async def duplicate_candidates(
        self,
        info: Info,
        kind: Kind | None = None,
        area_id: strawberry.ID | None = None,
        min_score: float = THRESHOLD,
        state: State | None = State.OPEN,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[DuplicatePairType]:
        page = await info.context.graph.read(
            list_candidates,
            kind=kind,
            area_id=str(area_id) if area_id is not None else None,
            min_score=min_score,
            state=state,
            first=page_size(first),
            after=after,
        )
        return to_connection(page, DuplicatePairType.from_model)


@strawberry.type
class DuplicateMutation:
    @strawberry.mutation(
        description="Decide whether two records are the same; SAME merges one into the "
        "other (undo with undoDuplicateResolution or by deciding DIFFERENT)."
    )
    async def resolve_duplicate(
        self, info: Info, input: ResolveDuplicateInput
    ) -> DuplicateReviewResult:
        try:
            data = strawberry.asdict(input)
            pair = await info.context.graph.write(
                resolve_duplicate,
                candidate=_str(data["candidate"]),
                a=_str(data["a"]),
                b=_str(data["b"]),
                decision=Decision(input.decision),
                note=_note(input.note),
                canonical_id=_str(data["canonical_id"]),
                actor=info.context.actor,
                now=info.context.now,
                override_low_score=input.override_low_score,
            )
        except HomewardError as exc:
            return _review_error(exc)
        return DuplicatePairPayload(candidate=DuplicatePairType.from_model(pair))

    @strawberry.mutation(description="Open a decided candidate again; a merge is undone.")
    async def undo_duplicate_resolution(
        self, info: Info, candidate: strawberry.ID, note: str | None = None
    ) -> DuplicateReviewResult:
        try:
            pair = await info.context.graph.write(
                undo_resolution,
                candidate=str(candidate),
                note=_note(note),
                actor=info.context.actor,
                now=info.context.now,
            )
        except HomewardError as exc:
            return _review_error(exc)
        return DuplicatePairPayload(candidate=DuplicatePairType.from_model(pair))


def _str(value: object) -> str | None:
    return None if value is None else str(value)
