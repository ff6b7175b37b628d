"""Expected failures as typed members of each mutation's result union.

Translation from the domain's exceptions happens here and only here.
"""

from __future__ import annotations

from typing import TypeVar

import strawberry
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from pydantic.alias_generators import to_camel

from core.errors import (
    ConsentMissing,
    FieldProblem,
    Forbidden,
    HomewardError,
    IllegalTransition,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from graph.duplicates import PossibleDuplicates
from graph.referrals.models import DataCategory

M = TypeVar("M", bound=BaseModel)


@strawberry.type
class FieldError:
    field: str = strawberry.field(description="Path of the input field, e.g. `input.name`.")
    message: str
    suggestions: list[str] = strawberry.field(
        default_factory=list, description="Close matches when the value names nothing known."
    )


@strawberry.type
class ValidationError:
    message: str
    fields: list[FieldError]


@strawberry.type
class NotFoundError:
    message: str
    entity: str
    id: str


@strawberry.type
class ForbiddenError:
    message: str


@strawberry.type
class VersionConflictError:
    message: str
    current_version: int


@strawberry.type
class EvidenceType:
    """One field that speaks for (or, with a negative weight, against) a duplicate."""

    field: str
    value: str
    similarity: float | None = strawberry.field(
        default=None, description="0..1, for names compared by similarity."
    )
    weight: float = strawberry.field(default=0.0, description="What it adds to the score.")


@strawberry.type
class DuplicateCandidateType:
    entity: str
    id: strawberry.ID
    name: str
    evidence: list[EvidenceType]
    score: float = 0.0


@strawberry.type
class PossibleDuplicatesError:
    """Nothing was registered: the record probably exists. Repeat with
    `confirmNotDuplicate: true` if it is really a different one."""

    message: str
    candidates: list[DuplicateCandidateType]


@strawberry.type
class IllegalTransitionError:
    """The referral is not in a state that allows this step; nothing was written."""

    message: str
    current_status: str
    allowed_actions: list[str]


@strawberry.type
class ConsentMissingError:
    """Sending would share data no valid consent covers; nothing was sent."""

    message: str
    # The enum of the consent inputs, so that an error names a category as it is given.
    missing_categories: list[DataCategory]


MutationError = (
    ValidationError
    | NotFoundError
    | ForbiddenError
    | VersionConflictError
    | PossibleDuplicatesError
)
ReferralError = (
    ValidationError
    | NotFoundError
    | ForbiddenError
    | VersionConflictError
    | IllegalTransitionError
    | ConsentMissingError
)


def validate_input(model: type[M], data: dict[str, object], *, argument: str = "input") -> M:
    """Parse GraphQL input into the domain model; field paths use the GraphQL (camelCase)
    names so that a client can point at the field it sent."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        problems = [
            FieldProblem(
                field=".".join(
                    [argument, *(to_camel(p) if isinstance(p, str) else str(p) for p in e["loc"])]
                ),
                message=e["msg"],
            )
            for e in exc.errors()
        ]
        raise ValidationFailed(problems) from exc


def to_graphql_error(exc: HomewardError, *, argument: str = "input") -> MutationError:
    if isinstance(exc, ValidationFailed):
        return ValidationError(
            message=exc.message,
            fields=[
                FieldError(
                    field=_qualify(p.field, argument),
                    message=p.message,
                    suggestions=list(p.suggestions),
                )
                for p in exc.problems
            ],
        )
    if isinstance(exc, NotFound):
        return NotFoundError(message=exc.message, entity=exc.entity, id=exc.id)
    if isinstance(exc, Forbidden):
        return ForbiddenError(message=exc.message)
    if isinstance(exc, VersionConflict):
        return VersionConflictError(message=exc.message, current_version=exc.current)
    if isinstance(exc, PossibleDuplicates):
        return PossibleDuplicatesError(
            message=exc.message,
            candidates=[
                DuplicateCandidateType(
                    entity=c.entity,
                    id=strawberry.ID(c.id),
                    name=c.name,
                    evidence=[
                        EvidenceType(
                            field=e.field, value=e.value, similarity=e.similarity, weight=e.weight
                        )
                        for e in c.evidence
                    ],
                    score=c.score,
                )
                for c in exc.candidates
            ],
        )
    # DatabaseUnavailable and the like are not the caller's doing: they surface as errors.
    raise exc


def to_referral_error(exc: HomewardError, *, argument: str = "input") -> ReferralError:
    """The referral mutations' failures: the common ones and the lifecycle's own."""
    if isinstance(exc, IllegalTransition):
        return IllegalTransitionError(
            message=exc.message, current_status=exc.current, allowed_actions=exc.allowed
        )
    if isinstance(exc, ConsentMissing):
        return ConsentMissingError(
            message=exc.message, missing_categories=[DataCategory(c) for c in exc.missing]
        )
    error = to_graphql_error(exc, argument=argument)
    if isinstance(error, PossibleDuplicatesError):
        raise exc  # referrals have no duplicate check; this would be a bug
    return error


def _qualify(field: str, argument: str) -> str:
    """Problems raised in graph/ name model fields (`country`); prefix and camelCase them."""
    if argument and field.startswith(f"{argument}."):
        return field
    parts = [to_camel(part) for part in field.split(".")]
    return ".".join([argument, *parts] if argument else parts)


CaseError = ValidationError | NotFoundError | ForbiddenError | VersionConflictError


def to_case_error(exc: HomewardError, *, argument: str = "input") -> CaseError:
    """The return case mutations' failures: the common ones only."""
    error = to_graphql_error(exc, argument=argument)
    if isinstance(error, PossibleDuplicatesError):
        raise exc  # cases have no duplicate check; this would be a bug
    return error
