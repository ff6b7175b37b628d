"""GraphQL protection: depth, token, alias and page size limits refuse abusive queries,
unexpected errors are masked, production answers no introspection; GraphiQL's
introspection works outside production."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import FastAPI
from graphql import GraphQLObjectType, get_introspection_query, get_named_type

from api.graphql import needs as needs_module
from api.graphql.protection import INTERNAL_ERROR
from api.graphql.schema import MAX_ALIASES, MAX_DEPTH, schema
from core.logs import JsonFormatter
from core.settings import Environment, Settings
from graph.driver import Graph
from graph.pagination import MAX_PAGE_SIZE
from tests.api.graphql.conftest import GraphQLClient
from tests.conftest import serve


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


# Maximum page size: every connection field, literal or variable, at any depth.


def _connection_fields() -> list[str]:
    """Type.field of every field of the schema that returns a connection."""
    found = []
    for type_ in schema._schema.type_map.values():
        if isinstance(type_, GraphQLObjectType) and not type_.name.startswith("__"):
            for name, field in type_.fields.items():
                if get_named_type(field.type).name.endswith("Connection"):
                    found.append(f"{type_.name}.{name}")
    return found


def test_every_connection_field_takes_first() -> None:
    fields = _connection_fields()
    assert "Query.organisations" in fields
    assert "Area.services" in fields
    for path in fields:
        type_name, field_name = path.split(".")
        type_ = schema._schema.type_map[type_name]
        assert isinstance(type_, GraphQLObjectType)
        assert "first" in type_.fields[field_name].args, path


@pytest.mark.parametrize("first", [MAX_PAGE_SIZE + 1, 0, -5])
async def test_first_beyond_the_page_size_is_refused_naming_the_field(
    gql: GraphQLClient, countries: Graph, first: int
) -> None:
    body = await gql(f"{{ organisations(first: {first}) {{ nodes {{ id }} }} }}")
    assert body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == (
        f"Query.organisations: first must be between 1 and {MAX_PAGE_SIZE}, not {first}"
    )
    assert error["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "Query.organisations",
        "argument": "first",
    }


async def test_a_nested_page_size_from_a_variable_is_refused_before_anything_runs(
    gql: GraphQLClient, countries: Graph, app: FastAPI
) -> None:
    graph: Graph = app.state.graph
    before = graph.transactions
    query = """
      query Nested($n: Int) {
        areas(first: 5) { nodes { ...Below } }
      }
      fragment Below on Area {
        children(first: 2) { nodes { services(first: $n) { nodes { id } } } }
      }
    """
    body = await gql(query, {"n": 500})
    assert body["errors"][0]["extensions"]["field"] == "Area.services"
    assert "Area.services: first must be between 1 and 100, not 500" in body["errors"][0]["message"]
    assert graph.transactions == before  # refused before any resolver read Neo4j
    ok = await gql(query, {"n": MAX_PAGE_SIZE})
    assert "errors" not in ok, ok


# Errors: typed domain errors pass, anything else is masked and logged with the request id.


async def test_a_domain_error_keeps_its_message(gql: GraphQLClient, countries: Graph) -> None:
    body = await gql('{ organisations(after: "not-a-cursor") { nodes { id } } }')
    assert body["errors"][0]["message"] == "invalid input: after: not a cursor returned by this API"


async def test_an_unexpected_error_is_masked_and_logged_with_the_request_id(
    client: httpx.AsyncClient,
    countries: Graph,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(tx: object) -> None:
        raise KeyError("secret-internal-detail")

    # A bug in a transaction function, as an unexpected exception would surface.
    monkeypatch.setattr(needs_module, "all_needs", broken)
    with caplog.at_level(logging.ERROR, logger="homeward.graphql"):
        response = await client.post(
            "/graphql", json={"query": "{ needs { code } }"}, headers={"X-Request-ID": "req-42"}
        )
    body = response.json()
    (error,) = body["errors"]
    assert error["message"] == INTERNAL_ERROR
    assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-42"}
    assert "secret-internal-detail" not in response.text
    (record,) = [r for r in caplog.records if r.name == "homeward.graphql"]
    assert record.exc_info is not None
    assert "secret-internal-detail" in str(record.exc_info[1])
    assert JsonFormatter().format(record).count('"request_id": "req-42"') == 1


# Production: no introspection, no GraphiQL.


async def test_production_has_no_introspection_and_no_graphiql(
    test_settings: Settings, countries: Graph
) -> None:
    production = test_settings.model_copy(update={"environment": Environment.PRODUCTION})
    async with serve(production) as http:
        body = (await http.post("/graphql", json={"query": get_introspection_query()})).json()
        assert body["data"] is None
        assert "introspection" in body["errors"][0]["message"].lower()
        typed = await http.post("/graphql", json={"query": '{ __type(name: "Area") { name } }'})
        assert "introspection" in typed.json()["errors"][0]["message"].lower()
        plain = await http.post("/graphql", json={"query": "{ __typename needs { code } }"})
        assert plain.json()["data"]["__typename"] == "Query"
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" not in page.text.lower()
    async with serve(test_settings) as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert "graphiql" in page.text.lower()


async def test_production_gives_no_suggestions_and_no_api_docs(
    test_settings: Settings, countries: Graph
) -> None:
    """Field, argument and enum value guesses map the schema out like introspection would;
    /docs and /openapi.json only with HOMEWARD_API_DOCS."""
    typos = [
        "{ organisatons { nodes { id } } }",
        "{ organisations(frist: 2) { nodes { id } } }",
        "{ areas(level: COUNTRI) { nodes { id } } }",
    ]
    production = test_settings.model_copy(update={"environment": Environment.PRODUCTION})
    async with serve(production) as http:
        for query in typos:
            (error,) = (await http.post("/graphql", json={"query": query})).json()["errors"]
            assert "did you mean" not in error["message"].lower(), error
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await http.get(path)).status_code == 404, path
    documented = production.model_copy(update={"api_docs": True})
    async with serve(documented) as http:
        assert (await http.get("/openapi.json")).status_code == 200
    async with serve(test_settings) as http:
        for query in typos:
            (error,) = (await http.post("/graphql", json={"query": query})).json()["errors"]
            assert "did you mean" in error["message"].lower(), error
        assert (await http.get("/docs")).status_code == 200


# Query cost: estimated before anything runs, from `first` times what is nested under it.

NESTED = """
query($first: Int) {
  %s
}
"""
CRAWL = (
    "organisations(first: $first) { nodes { services(first: $first) { nodes {"
    " coverage { children(first: $first) { nodes { id } } } } } } }"
)


async def test_the_nested_connection_crawl_is_refused_before_it_runs(
    gql: GraphQLClient, graph: Graph, people: dict[str, str]
) -> None:
    aliased = " ".join(f"a{i}: {CRAWL}" for i in range(3))
    before = graph.transactions
    for token in (None, people["admin"]):
        body = await gql(NESTED % aliased, {"first": 100}, token=token)
        assert body["data"] is None
        error = body["errors"][0]
        assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
        assert error["extensions"]["cost"] > error["extensions"]["limit"]
    # Refused whole, so no resolver read anything (authentication reads happen apart).
    assert graph.transactions - before <= 2


async def test_a_budget_is_larger_for_signed_in_callers(
    gql: GraphQLClient, graph: Graph, people: dict[str, str]
) -> None:
    small = "{ organisations(first: 50) { nodes { services(first: 50) { nodes { id } } } } }"
    assert "errors" not in await gql(small)
    # 1 + 10 + 10 x 20 x 10 (coverage counted as ten areas) x 1 reads.
    larger = (
        "{ organisations(first: 10) { nodes { services(first: 20) { nodes {"
        " coverage { children(first: 1) { nodes { id } } } } } } } }"
    )
    anonymous = await gql(larger)
    assert anonymous["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert anonymous["errors"][0]["extensions"]["cost"] == 2011
    assert "errors" not in await gql(larger, token=people["coordinator"])


async def test_the_limits_judge_each_request_s_variables_not_the_first_seen(
    gql: GraphQLClient, graph: Graph
) -> None:
    """What the limits find in a document is kept per document (parsing and walking it on
    every request cost a search page more than ranking it); what depends on the variables
    must still be judged request by request."""
    page = "query P($n: Int) { organisations(first: $n) { nodes { id } } }"
    assert "errors" not in await gql(page, {"n": 5})
    refused = await gql(page, {"n": MAX_PAGE_SIZE + 1})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "errors" not in await gql(page, {"n": MAX_PAGE_SIZE})

    crawl = NESTED % CRAWL
    assert "errors" not in await gql(crawl, {"first": 1})
    costly = await gql(crawl, {"first": 100})
    assert costly["errors"][0]["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert "errors" not in await gql(crawl, {"first": 1})
