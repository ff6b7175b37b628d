from __future__ import annotations

from typing import Any

from graph.driver import Graph
from tests.api.graphql.conftest import GraphQLClient
from tests.conftest import PEOPLE_ORGANISATIONS

REGISTER = """
mutation Register($input: RegisterOrganisationInput!) {
  registerOrganisation(input: $input) {
    __typename
    ... on RegisterOrganisationPayload {
      organisation { id name acronym kind countryCode version country { id name } }
    }
    ... on ValidationError { message fields { field message } }
  }
}
"""

READ = """
query Read($id: ID!) {
  organisation(id: $id) {
    id name alternateNames kind countryCode
    country { id name names { lang value } }
  }
}
"""


def _input(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "One to One Kosova",
        "kind": "NGO",
        "country": "XK",
        "alternateNames": ["1to1 Kosova"],
        **overrides,
    }


async def test_register_then_read_back_in_another_language(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    created = await gql(REGISTER, {"input": _input()}, token=people["coordinator"])
    result = created["data"]["registerOrganisation"]
    assert result["__typename"] == "RegisterOrganisationPayload"
    org = result["organisation"]
    assert org["name"] == "One to One Kosova"
    assert org["version"] == 1
    assert org["country"] == {"id": "XK", "name": "Kosovo"}

    read = await gql(READ, {"id": org["id"]}, lang="sq")
    assert "errors" not in read
    assert read["data"]["organisation"]["country"]["name"] == "Kosova"
    assert {"lang": "sr-Cyrl", "value": "Косово"} in read["data"]["organisation"]["country"][
        "names"
    ]


async def test_unknown_organisation_is_null(gql: GraphQLClient, graph: Graph) -> None:
    assert (await gql(READ, {"id": "nope"}))["data"] == {"organisation": None}


async def _problems(
    gql: GraphQLClient, people: dict[str, str], **overrides: Any
) -> list[tuple[str, str]]:
    body = await gql(REGISTER, {"input": _input(**overrides)}, token=people["coordinator"])
    assert "errors" not in body, body
    result = body["data"]["registerOrganisation"]
    assert result["__typename"] == "ValidationError"
    return [(f["field"], f["message"]) for f in result["fields"]]


async def test_missing_name_names_the_field(gql: GraphQLClient, people: dict[str, str]) -> None:
    problems = await _problems(gql, people, name="   ")
    assert [field for field, _ in problems] == ["input.name"]


async def test_unknown_country_names_the_field(gql: GraphQLClient, people: dict[str, str]) -> None:
    assert await _problems(gql, people, country="QQ") == [
        ("input.country", "unknown country code 'QQ'")
    ]


async def test_several_bad_fields_are_reported_together(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    problems = await _problems(
        gql, people, email="not-an-address", website="nowhere", country="Kosovo"
    )
    assert sorted(field for field, _ in problems) == [
        "input.country",
        "input.email",
        "input.website",
    ]


async def test_nothing_is_written_on_validation_error(
    gql: GraphQLClient, people: dict[str, str], graph: Graph
) -> None:
    await _problems(gql, people, country="QQ")
    async with graph.driver.session() as session:
        record = await (await session.run("MATCH (o:Organisation) RETURN count(o) AS c")).single()
    assert record is not None
    assert record["c"] == len(PEOPLE_ORGANISATIONS)


async def test_a_wrong_enum_is_a_graphql_error_not_a_500(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    body = await gql(REGISTER, {"input": _input(kind="CHARITY")}, token=people["coordinator"])
    assert body["data"] is None
    assert "CHARITY" in body["errors"][0]["message"]
