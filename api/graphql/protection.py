"""GraphQL protections beyond the depth, token and alias limits (api/graphql/schema.py).

- `PageSizeLimit`: `first` on any connection field is checked before anything runs, literal
  or variable, at any depth, so that no list can be asked for in pages larger than
  `MAX_PAGE_SIZE` even where a resolver forgot to check.
- `MaskUnexpectedErrors`: an error that is neither a GraphQL error of the request itself
  (syntax, validation, access) nor one of Homeward's typed domain errors is a bug; the
  caller sees a generic message and the request id, the log gets the traceback.
- `HomewardSchema.process_errors`: counts errors by kind and logs them without their
  messages (which may echo what the caller sent), except the unexpected ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import strawberry
from graphql import (
    ExecutionResult,
    FieldNode,
    GraphQLError,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    value_from_ast,
    visit,
)
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from core.errors import HomewardError
from core.logs import CURRENT_REQUEST, current_request_id
from core.metrics import count_error
from graph.pagination import MAX_PAGE_SIZE

log = logging.getLogger("homeward.graphql")

INTERNAL_ERROR = "internal error; quote the request id when reporting it"


class _FirstArguments(Visitor):
    def __init__(self, type_info: TypeInfo, variables: dict[str, Any]) -> None:
        super().__init__()
        self.type_info = type_info
        self.variables = variables
        self.errors: list[GraphQLError] = []

    def enter_field(self, node: FieldNode, *_: object) -> None:
        field = self.type_info.get_field_def()
        parent = self.type_info.get_parent_type()
        if field is None or parent is None or "first" not in field.args:
            return
        if not get_named_type(field.type).name.endswith("Connection"):
            return
        for argument in node.arguments or ():
            if argument.name.value != "first":
                continue
            value = value_from_ast(argument.value, field.args["first"].type, self.variables)
            if isinstance(value, int) and not 1 <= value <= MAX_PAGE_SIZE:
                name = f"{parent.name}.{node.name.value}"
                self.errors.append(
                    GraphQLError(
                        f"{name}: first must be between 1 and {MAX_PAGE_SIZE}, not {value}",
                        [argument],
                        extensions={"code": "BAD_USER_INPUT", "field": name, "argument": "first"},
                    )
                )


def page_size_errors(
    schema: Any, document: Any, variables: dict[str, Any] | None
) -> list[GraphQLError]:
    type_info = TypeInfo(schema)
    checker = _FirstArguments(type_info, variables or {})
    visit(document, TypeInfoVisitor(type_info, checker))
    return checker.errors


class PageSizeLimit(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        info = CURRENT_REQUEST.get()
        if info is not None:
            info.operation = context.operation_name
        if context.graphql_document is not None:
            errors = page_size_errors(
                context.schema._schema, context.graphql_document, context.variables
            )
            if errors:
                # A result set before execution stops it: no resolver runs.
                context.result = ExecutionResult(data=None, errors=errors)
        yield


def is_expected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is None or isinstance(original, HomewardError | GraphQLError)


class MaskUnexpectedErrors(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is not None and errors:
            result.errors = [e if is_expected(e) else _masked(e) for e in errors]


def _masked(error: GraphQLError) -> GraphQLError:
    request_id = current_request_id()
    return GraphQLError(
        INTERNAL_ERROR,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class HomewardSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            original = error.original_error
            path = ".".join(str(p) for p in error.path or ())
            if original is None or isinstance(original, GraphQLError):
                # Syntax, validation, limits and access refusals; access refusals and the
                # page size limit name themselves by their code.
                kind = str((error.extensions or {}).get("code", "graphql_validation")).lower()
            elif isinstance(original, HomewardError):
                kind = type(original).__name__
            else:
                kind = "unexpected"
                log.error(
                    "unexpected error at %s",
                    path or "(operation)",
                    exc_info=(type(original), original, original.__traceback__),
                    extra={"kind": kind},
                )
            count_error(kind)
            if kind != "unexpected":
                log.debug("graphql error at %s", path or "(operation)", extra={"kind": kind})
