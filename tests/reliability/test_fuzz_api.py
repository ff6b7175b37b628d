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
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.graphql import from_url as graphql_from_url
from schemathesis.openapi import from_url as openapi_from_url

from graph.driver import Graph
from homeward.settings import Settings
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


@pytest.fixture
def graphql_schema(live: LiveServer) -> Any:
    return graphql_from_url(f"{live.url}/graphql")


@pytest.fixture
def openapi_schema(live: LiveServer) -> Any:
    return openapi_from_url(f"{live.url}/openapi.json")


def check(case: Any, live: LiveServer, tokens: dict[str, str]) -> None:
    """The same case anonymously and as an admin: never a server error."""
    for headers in ({}, {"Authorization": f"Bearer {tokens['admin']}"}):
        response = case.call(base_url=live.url, headers=headers, timeout=30)
        assert response.status_code < 500, (case.as_curl_command(headers), response.text)


graphql_lazy = schemathesis.pytest.from_fixture("graphql_schema")
openapi_lazy = schemathesis.pytest.from_fixture("openapi_schema")


@graphql_lazy.parametrize()
@FUZZ
def test_graphql_fields_never_fail_with_a_server_error(
    case: Any, live: LiveServer, tokens: dict[str, str]
) -> None:
    check(case, live, tokens)


@openapi_lazy.parametrize()
@FUZZ
def test_rest_routes_never_fail_with_a_server_error(
    case: Any, live: LiveServer, tokens: dict[str, str]
) -> None:
    check(case, live, tokens)
