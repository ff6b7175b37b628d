"""Applies `api.policy` to every root field before its resolver runs.

A refused mutation returns the typed `ForbiddenError` member of its result union; a refused
query field is a GraphQL error with a stable `extensions.code` (FORBIDDEN or
UNAUTHENTICATED) and no data.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import FieldExtension

from api import policy
from api.graphql.errors import ForbiddenError
from core.errors import Forbidden, Unauthenticated


class RootAccess(FieldExtension):
    """On each root field (`guard_root_fields`), not as a schema extension's `resolve`: that
    hook runs for every field of every result, and on a search page of 20 matches (some 180
    fields) it cost more than the check itself ever does."""

    def __init__(self, parent: str) -> None:
        self.parent = parent

    def _refusal(self, info: Any) -> ForbiddenError | None:
        """The typed refusal of a mutation, None when allowed; a query's refusal raises."""
        operation = f"{self.parent}.{info.field_name}"
        try:
            policy.check(operation, info.context.actor, info.context.settings)
        except Unauthenticated as exc:
            return _refuse(self.parent, exc.message, "UNAUTHENTICATED")
        except Forbidden as exc:
            return _refuse(self.parent, exc.message, "FORBIDDEN")
        return None

    def resolve(self, next_: Callable[..., Any], source: Any, info: Any, **kwargs: Any) -> Any:
        refused = self._refusal(info)
        return refused if refused is not None else next_(source, info, **kwargs)

    async def resolve_async(
        self, next_: Callable[..., Awaitable[Any]], source: Any, info: Any, **kwargs: Any
    ) -> Any:
        refused = self._refusal(info)
        return refused if refused is not None else await next_(source, info, **kwargs)


def guard_root_fields(*roots: type) -> None:
    """Put `RootAccess` on every field of the root types, once, before a schema is built:
    a root field added later is checked like the others without anyone remembering to."""
    for root in roots:
        definition = root.__strawberry_definition__  # type: ignore[attr-defined]
        for field in definition.fields:
            if not any(isinstance(e, RootAccess) for e in field.extensions):
                field.extensions.append(RootAccess(definition.name))


def _refuse(parent: str, message: str, code: str) -> ForbiddenError:
    if parent == "Mutation":
        return ForbiddenError(message=message)
    raise GraphQLError(message, extensions={"code": code})


def refused(exc: Forbidden) -> GraphQLError:
    """A query refused by its resolver (a record outside the caller's scope), in the same
    shape as a refusal by the policy."""
    return GraphQLError(exc.message, extensions={"code": "FORBIDDEN"})
