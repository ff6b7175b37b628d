"""How failures that are not the caller's doing reach the caller, the same way on every edge.

- Neo4j out of reach: 503 with a machine-readable error. REST routes and the GraphQL context
  (authentication reads the graph) get a JSON body from the app's exception handler; errors
  raised while a GraphQL operation executes keep the GraphQL shape with `extensions.code`
  DATABASE_UNAVAILABLE, and the response becomes a 503 too, so clients and load balancers
  see an outage alike on every route.
- A resolver that raised something other than a domain error is a bug: its GraphQL error
  says INTERNAL_SERVER_ERROR and the response is a 500, so that it is counted as one (the
  fuzz tests hold the API to zero) instead of hiding in a 200.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request
from fastapi.responses import JSONResponse
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from core.errors import (
    DatabaseUnavailable,
    Forbidden,
    HomewardError,
    NotFound,
    Unauthenticated,
    ValidationFailed,
)

UNAVAILABLE = "DATABASE_UNAVAILABLE"
INTERNAL = "INTERNAL_SERVER_ERROR"
# Seconds a client should wait before trying again; Neo4j restarts in about that time.
RETRY_AFTER = "5"

# Codes of domain errors that a query (not a mutation, whose unions carry them) raised.
DOMAIN_CODES: list[tuple[type[HomewardError], str]] = [
    (ValidationFailed, "BAD_USER_INPUT"),
    (NotFound, "NOT_FOUND"),
    (Forbidden, "FORBIDDEN"),
    (Unauthenticated, "UNAUTHENTICATED"),
    (DatabaseUnavailable, UNAVAILABLE),
]


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    message = exc.message if isinstance(exc, DatabaseUnavailable) else str(exc)
    return JSONResponse(
        {"error": {"code": UNAVAILABLE, "message": message}},
        status_code=503,
        headers={"Retry-After": RETRY_AFTER},
    )


def error_code(error: GraphQLError) -> str | None:
    """The code an execution error gets, or None to leave it as it is (parse, validation and
    variable errors, refusals that already carry theirs)."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        return None
    for kind, code in DOMAIN_CODES:
        if isinstance(original, kind):
            return code
    if isinstance(original, HomewardError) or error.path is None:
        return None
    return INTERNAL


class ErrorCodes(SchemaExtension):
    """Gives execution errors their `extensions.code` and the response its status."""

    def on_execute(self) -> Iterator[None]:
        yield
        errors = getattr(self.execution_context.result, "errors", None) or []
        codes = set()
        for error in errors:
            code = error_code(error)
            if code is not None:
                error.extensions = {**(error.extensions or {}), "code": code}
                codes.add(code)
        context = self.execution_context.context
        # Homeward's Context carries the response; Strawberry's default context is a dict.
        response = (
            context.get("response")
            if isinstance(context, dict)
            else getattr(context, "response", None)
        )
        if response is None:
            return
        if INTERNAL in codes:
            response.status_code = 500
        elif UNAVAILABLE in codes:
            response.status_code = 503
            response.headers["Retry-After"] = RETRY_AFTER
