"""What every request pays before its own work: these shapes of the request path made every
search page slower, so they are kept out for good."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from strawberry.extensions import SchemaExtension

from api.graphql.access import RootAccess
from api.graphql.schema import schema_for
from core.settings import Settings
from homeward.app import create_app


def _dependencies(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _dependencies(sub)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every API route, those of included routers (nested in this FastAPI) too."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def test_no_dependency_is_handed_to_the_thread_pool() -> None:
    """FastAPI runs a plain `def` dependency in its thread pool: a hand-off on every request
    (measured: about half the cost of `{ __typename }`)."""
    app = create_app(Settings())
    sync = set()
    routes = list(_api_routes(app.routes))
    assert len(routes) > 20  # the walk reached the routers' routes
    for route in routes:
        for call in _dependencies(route.dependant):
            target = call if inspect.isfunction(call) else type(call).__call__
            if not inspect.iscoroutinefunction(target):
                sync.add(getattr(call, "__qualname__", repr(call)))
    assert not sync, f"make these dependencies `async def`: {sorted(sync)}"


def test_no_schema_extension_wraps_every_field() -> None:
    """A schema extension's `resolve` runs for every field of every result (some 180 on a
    search page); checks that belong to the root fields sit on them (`RootAccess`)."""
    for introspection in (True, False):
        schema = schema_for(introspection=introspection)
        for extension in schema.extensions:
            made: Any = extension if isinstance(extension, type) else extension()
            kind: Any = made if isinstance(made, type) else type(made)
            assert kind.resolve is SchemaExtension.resolve, kind.__name__


def test_every_root_field_is_guarded() -> None:
    schema = schema_for(introspection=True)
    roots: list[Any] = [schema.query, schema.mutation]
    for root in roots:
        for field in root.__strawberry_definition__.fields:
            guards = [e for e in field.extensions if isinstance(e, RootAccess)]
            assert len(guards) == 1, field.python_name
