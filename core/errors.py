"""The one exception hierarchy of Homeward.

Domain code raises these; each edge (GraphQL, REST, CLI) translates them once. Anything that
is not a `HomewardError` is a bug and is allowed to surface as one.
"""

from __future__ import annotations

from dataclasses import dataclass


class HomewardError(Exception):
    """Root of every expected failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with one input field; `field` is a dotted path such as `input.name`."""

    field: str
    message: str
    # Close matches for a value that names nothing ("did you mean ...").
    suggestions: tuple[str, ...] = ()


class ValidationFailed(HomewardError):
    def __init__(self, problems: list[FieldProblem]) -> None:
        summary = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(f"invalid input: {summary}")
        self.problems = problems

    @classmethod
    def single(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldProblem(field=field, message=message)])


class NotFound(HomewardError):
    def __init__(self, entity: str, id: str) -> None:
        super().__init__(f"{entity} {id!r} not found")
        self.entity = entity
        self.id = id


class Forbidden(HomewardError):
    """The caller is known but may not do this."""


class Unauthenticated(HomewardError):
    """No valid credentials: a wrong, expired or revoked token, or none where one is needed."""


class VersionConflict(HomewardError):
    def __init__(self, entity: str, id: str, expected: int, current: int) -> None:
        super().__init__(
            f"{entity} {id!r} is at version {current}, not the expected {expected}; "
            "reload it and apply the change again"
        )
        self.entity = entity
        self.id = id
        self.expected = expected
        self.current = current


class DatabaseUnavailable(HomewardError):
    """Neo4j cannot be reached; requests fail with 503 until it is back."""


class LocalNeo4jError(HomewardError):
    """The local Neo4j could not be started or stopped."""


class IllegalTransition(HomewardError):
    """A referral cannot take this step from the state it is in."""

    def __init__(self, action: str, current: str, allowed: list[str]) -> None:
        allowed_text = ", ".join(allowed) if allowed else "none (the referral is closed)"
        super().__init__(
            f"cannot {action} a referral that is {current}; allowed now: {allowed_text}"
        )
        self.action = action
        self.current = current
        self.allowed = allowed


class ConsentMissing(HomewardError):
    """The returnee's consent does not cover the data a referral would share."""

    def __init__(self, recipient: str, missing: list[str]) -> None:
        super().__init__(
            f"no valid consent for sharing {', '.join(missing)} with organisation "
            f"{recipient!r}; record it with grantConsent first"
        )
        self.recipient = recipient
        self.missing = missing
