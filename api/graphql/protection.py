"""GraphQL protections beyond the depth, token and alias limits (api/graphql/schema.py).

- `PageSizeLimit`: `first` on any connection field is checked before anything runs, literal
  or variable, at any depth, so that no list can be asked for in pages larger than
  `MAX_PAGE_SIZE` even where a resolver forgot to check.
- `QueryCostLimit`: the reads a query may cause, estimated before anything runs: each
  connection costs one read per parent it is asked under, and its `first` (or the default
  page) multiplies what is nested in it, as does a plain list (counted as `LIST_ESTIMATE`
  items). A query above the caller's budget (smaller for anonymous callers) is refused whole,
  so that one request cannot hold the Neo4j pool for seconds however it nests its aliases.
- `MaskUnexpectedErrors`: an error that is neither a GraphQL error of the request itself
  (syntax, validation, access) nor one of Homeward's typed domain errors is a bug; the
  caller sees a generic message and the request id, the log gets the traceback.
- `BoundedGraphQLRouter`: a request body (variables included) nested deeper than
  `MAX_JSON_DEPTH` is refused with 422 before it is parsed; a JSON parser would recurse as
  deep as the body and end in a 500.
- `HomewardSchema.process_errors`: counts errors by kind and logs them without their
  messages (which may echo what the caller sent), except the unexpected ones; without
  introspection (production) it also drops graphql-core's "Did you mean ...?" guesses.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import strawberry
from cross_web import HTTPException
from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    InlineFragmentNode,
    NamedTypeNode,
    OperationDefinitionNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    VariableNode,
    Visitor,
    get_named_type,
    value_from_ast,
    visit,
)
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import GraphQLRouter
from strawberry.types import ExecutionContext

from core.errors import HomewardError
from core.json_depth import too_deep_at
from core.logs import CURRENT_REQUEST, current_request_id
from core.metrics import count_error
from graph.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

log = logging.getLogger("homeward.graphql")

INTERNAL_ERROR = "internal error; quote the request id when reporting it"
# The deepest input of the schema (a service's site's point, in a list) is six levels down.
MAX_JSON_DEPTH = 32


class _FirstArguments(Visitor):
    """The `first` arguments of the connection fields of a document, with the field each
    belongs to and the names of the variables anywhere in a `first`."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.found: list[tuple[str, ArgumentNode, GraphQLInputType]] = []
        self.variables: set[str] = set()

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        if node.name.value == "first" and isinstance(node.value, VariableNode):
            self.variables.add(node.value.name.value)

    def enter_field(self, node: FieldNode, *_: object) -> None:
        field = self.type_info.get_field_def()
        parent = self.type_info.get_parent_type()
        if field is None or parent is None or "first" not in field.args:
            return
        if not get_named_type(field.type).name.endswith("Connection"):
            return
        for argument in node.arguments or ():
            if argument.name.value == "first":
                name = f"{parent.name}.{node.name.value}"
                self.found.append((name, argument, field.args["first"].type))


class _Plan:
    """What the limits need of one parsed document, found once: its connections' `first`
    arguments, and the costs already estimated for the values of the variables in them (a
    cost depends on nothing else the request sends)."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.document = document  # held, so that its id is not reused while it is a key
        type_info = TypeInfo(schema)
        finder = _FirstArguments(type_info)
        visit(document, TypeInfoVisitor(type_info, finder))
        self.firsts = finder.found
        self.variables = tuple(sorted(finder.variables))
        self.costs: dict[tuple[Any, ...], int] = {}

    def page_size_errors(self, variables: dict[str, Any]) -> list[GraphQLError]:
        errors = []
        for name, argument, type_ in self.firsts:
            value = value_from_ast(argument.value, type_, variables)
            if isinstance(value, int) and not 1 <= value <= MAX_PAGE_SIZE:
                errors.append(
                    GraphQLError(
                        f"{name}: first must be between 1 and {MAX_PAGE_SIZE}, not {value}",
                        [argument],
                        extensions={"code": "BAD_USER_INPUT", "field": name, "argument": "first"},
                    )
                )
        return errors

    def cost(self, schema: GraphQLSchema, variables: dict[str, Any]) -> int:
        key = tuple(repr(variables.get(name)) for name in self.variables)
        cost = self.costs.get(key)
        if cost is None:
            cost = query_cost(schema, self.document, variables)
            if len(self.costs) < PLAN_COSTS:
                self.costs[key] = cost
        return cost


# Documents come parsed from the ParserCache (the same text gives the same object), so the
# plans are keyed by the document's identity; walking the document with type information on
# every request cost a search page about as much as ranking it.
PLANS = 256
PLAN_COSTS = 64
_plans: OrderedDict[tuple[int, int], _Plan] = OrderedDict()


def plan_of(schema: GraphQLSchema, document: DocumentNode) -> _Plan:
    key = (id(schema), id(document))
    plan = _plans.get(key)
    if plan is None or plan.document is not document:
        plan = _Plan(schema, document)
        _plans[key] = plan
        while len(_plans) > PLANS:
            _plans.popitem(last=False)
    else:
        _plans.move_to_end(key)
    return plan


def page_size_errors(
    schema: Any, document: Any, variables: dict[str, Any] | None
) -> list[GraphQLError]:
    return plan_of(schema, document).page_size_errors(variables or {})


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


# Items a plain list (a service's sites, an area's coverage) is counted as holding.
LIST_ESTIMATE = 10
# Budgets in estimated reads: a directory page costs tens, a page of areas with their
# services a few hundred; thousands are a crawl that should page instead.
MAX_COST_ANONYMOUS = 2_000
MAX_COST_SIGNED_IN = 10_000


def _is_list(type_: GraphQLOutputType) -> bool:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


class _Cost:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def of(self, selections: SelectionSetNode | None, parent: Any, multiplier: int) -> int:
        if selections is None or not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
            # A union's members are reached through fragments with a type condition.
            return self._fragments_only(selections, multiplier)
        total = 0
        for node in selections.selections:
            if isinstance(node, FieldNode):
                total += self._field(node, parent, multiplier)
            else:
                total += self._fragment(node, parent, multiplier)
        return total

    def _fragments_only(self, selections: SelectionSetNode | None, multiplier: int) -> int:
        if selections is None:
            return 0
        return sum(
            self._fragment(node, None, multiplier)
            for node in selections.selections
            if not isinstance(node, FieldNode)
        )

    def _fragment(self, node: Any, parent: Any, multiplier: int) -> int:
        condition: NamedTypeNode | None
        if isinstance(node, FragmentSpreadNode):
            fragment = self.fragments.get(node.name.value)
            if fragment is None:
                return 0
            condition, selections = fragment.type_condition, fragment.selection_set
        elif isinstance(node, InlineFragmentNode):
            condition, selections = node.type_condition, node.selection_set
        else:
            return 0
        target = self.schema.get_type(condition.name.value) if condition else parent
        return self.of(selections, target, multiplier)

    def _field(self, node: FieldNode, parent: Any, multiplier: int) -> int:
        field = parent.fields.get(node.name.value)
        if field is None:  # __typename and introspection
            return 0
        named = get_named_type(field.type)
        if named.name.endswith("Connection"):
            first = DEFAULT_PAGE_SIZE
            for argument in node.arguments or ():
                if argument.name.value == "first" and "first" in field.args:
                    value = value_from_ast(argument.value, field.args["first"].type, self.variables)
                    if isinstance(value, int):
                        first = min(max(value, 1), MAX_PAGE_SIZE)
            return multiplier + self.of(node.selection_set, named, multiplier * first)
        # The page of a connection is already counted by its `first`.
        if _is_list(field.type) and not parent.name.endswith("Connection"):
            multiplier *= LIST_ESTIMATE
        return self.of(node.selection_set, named, multiplier)


def query_cost(schema: GraphQLSchema, document: Any, variables: dict[str, Any] | None) -> int:
    """Estimated reads of the operations in `document` (all of them: the dearest counts)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    counter = _Cost(schema, fragments, variables or {})
    costs = [0]
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            costs.append(counter.of(definition.selection_set, root, 1))
    return max(costs)


class QueryCostLimit(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.result is None:
            actor = getattr(context.context, "actor", None)
            signed_in = actor is not None and actor.authenticated
            limit = MAX_COST_SIGNED_IN if signed_in else MAX_COST_ANONYMOUS
            schema = context.schema._schema
            plan = plan_of(schema, context.graphql_document)
            cost = plan.cost(schema, context.variables or {})
            if cost > limit:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"query too costly: about {cost} reads, the limit is {limit}; "
                            "ask for smaller pages or nest fewer lists",
                            extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit},
                        )
                    ],
                )
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


# graphql-core's validation ends a message with its guesses: "... Did you mean 'x'?".
SUGGESTION = re.compile(r"\s*Did you mean .*$", re.DOTALL)


class HomewardSchema(strawberry.Schema):
    def __init__(self, *args: Any, suggestions: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suggestions = suggestions

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        if not self.suggestions:
            # Every kind (fields, arguments, types, enum values, input fields), not only the
            # unknown fields strawberry's own option covers.
            for error in errors:
                error.message = SUGGESTION.sub("", error.message)
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


class BoundedGraphQLRouter(GraphQLRouter[Any, None]):
    def decode_json(self, data: str | bytes) -> object:
        text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
        if too_deep_at(text, MAX_JSON_DEPTH) is not None:
            raise HTTPException(422, f"the request nests JSON more than {MAX_JSON_DEPTH} deep")
        return super().decode_json(data)
