"""Applies `api.policy` to every root field before its resolver runs.

A refused mutation returns the typed `ForbiddenError` member of its result union; a refused
query field is a GraphQL error with a stable `extensions.code` (FORBIDDEN or
UNAUTHENTICATED) and no data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from api import policy
from api.graphql.errors import ForbiddenError
from core.errors import Forbidden, Unauthenticated

ROOT_TYPES = frozenset({"Query", "Mutation"})


class AccessControl(SchemaExtension):
    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        parent = info.parent_type.name
        if parent in ROOT_TYPES and info.field_name not in policy.INTROSPECTION:
            operation = f"{parent}.{info.field_name}"
            try:
                policy.check(operation, info.context.actor, info.context.settings)
            except Unauthenticated as exc:
                return _refuse(parent, exc.message, "UNAUTHENTICATED")
            except Forbidden as exc:
                return _refuse(parent, exc.message, "FORBIDDEN")
        return _next(root, info, *args, **kwargs)


def _refuse(parent: str, message: str, code: str) -> Any:
    if parent == "Mutation":
        return ForbiddenError(message=message)
    raise GraphQLError(message, extensions={"code": code})


def refused(exc: Forbidden) -> GraphQLError:
    """A query refused by its resolver (a record outside the caller's scope), in the same
    shape as a refusal by the policy."""
    return GraphQLError(exc.message, extensions={"code": "FORBIDDEN"})
