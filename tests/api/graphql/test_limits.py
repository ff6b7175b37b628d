"""Depth, token and alias limits refuse abusive queries; GraphiQL's introspection still works."""

from __future__ import annotations

from graphql import get_introspection_query

from api.graphql.schema import MAX_ALIASES, MAX_DEPTH
from graph.driver import Graph
from tests.api.graphql.conftest import GraphQLClient


async def test_introspection_as_graphiql_sends_it(gql: GraphQLClient, graph: Graph) -> None:
    body = await gql(get_introspection_query())
    assert "errors" not in body
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_a_deep_query_is_refused(gql: GraphQLClient, graph: Graph) -> None:
    query = '{ area(id: "XK") { ' + "parent { " * MAX_DEPTH + "id" + " }" * MAX_DEPTH + " } }"
    body = await gql(query)
    assert body["errors"]
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]


async def test_too_many_aliases_are_refused(gql: GraphQLClient, graph: Graph) -> None:
    fields = " ".join(f"a{i}: needs {{ code }}" for i in range(MAX_ALIASES + 1))
    body = await gql("{ " + fields + " }")
    assert body["errors"]
    assert "aliases" in body["errors"][0]["message"].lower()


async def test_too_many_tokens_are_refused(gql: GraphQLClient, graph: Graph) -> None:
    body = await gql("{ " + "__typename " * 4000 + "}")
    assert body["errors"]
    assert "token" in body["errors"][0]["message"].lower()
