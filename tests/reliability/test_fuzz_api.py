"""Schemathesis fuzzes every GraphQL root field and every REST route (from /openapi.json)
over HTTP on 127.0.0.1, once anonymously and once as an admin. The bar is zero server
errors: no 5xx, and no GraphQL error that says INTERNAL_SERVER_ERROR (api/failures.py turns
a resolver's unexpected exception into both).

The number of examples per operation is FUZZ_EXAMPLES (default 8, with the fixed-seed `ci`
hypothesis profile); `FUZZ_EXAMPLES=200 HYPOTHESIS_PROFILE=explore` searches further.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.graphql import from_url as graphql_from_url
from schemathesis.openapi import from_url as openapi_from_url

from core.settings import Settings
from graph.driver import Graph
from tests import directory
from tests.reliability.conftest import LiveServer, serve

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
FUZZ = settings(
    max_examples=EXAMPLES,
    suppress_health_check=list(HealthCheck),
)

pytestmark = pytest.mark.neo4j


@pytest.fixture(scope="module")
def live(test_settings: Settings) -> Iterator[LiveServer]:
    yield from serve(test_settings)


@pytest.fixture
async def tokens(people: dict[str, str], graph: Graph) -> dict[str, str]:
    """A small directory, so that reads find something to resolve."""
    await directory.build(graph)
    await directory.add_services(graph, [("svc-b", directory.service(organisation_id="org-b"))])
    return people


def check(case: Any, live: LiveServer, tokens: dict[str, str]) -> None:
    """The same case anonymously and as an admin: never a server error."""
    for headers in ({}, {"Authorization": f"Bearer {tokens['admin']}"}):
        response = case.call(base_url=live.url, headers=headers, timeout=60)
        assert response.status_code < 500, (case.as_curl_command(headers), response.text)


def fuzz(schema: Any, live: LiveServer, tokens: dict[str, str], modes: list[Any]) -> int:
    """Every operation of the schema, EXAMPLES cases each per generation mode; returns how
    many cases ran."""
    ran = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:
                nonlocal ran
                ran += 1
                check(case, live, tokens)

            try:
                run()
            except Unsatisfiable:
                # A route with nothing to send wrong (no parameters) has no invalid cases.
                assert mode is GenerationMode.NEGATIVE, operation.label
    return ran


def test_graphql_fields_never_fail_with_a_server_error(
    live: LiveServer, tokens: dict[str, str]
) -> None:
    schema = graphql_from_url(f"{live.url}/graphql")
    ran = fuzz(schema, live, tokens, [GenerationMode.POSITIVE])
    print(f"fuzz: {ran} GraphQL cases, each anonymously and as an admin")
    assert ran >= EXAMPLES


def test_rest_routes_never_fail_with_a_server_error(
    live: LiveServer, tokens: dict[str, str]
) -> None:
    schema = openapi_from_url(f"{live.url}/openapi.json")
    ran = fuzz(schema, live, tokens, [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    print(f"fuzz: {ran} REST cases, each anonymously and as an admin")
    assert ran >= EXAMPLES
