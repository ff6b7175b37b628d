"""Villages and boundaries through the partner search: a settlement in any spelling, a name
that fits several places, a misspelling, a point placed by the polygon that contains it; a
site's point checked against the boundary of the area it names."""

from __future__ import annotations

from typing import Any

import pytest

from graph.driver import Graph
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed
from tests.api.graphql.conftest import GraphQLClient

SEARCH = """
query S($q: PartnerSearchInput!) {
  searchPartners(query: $q, first: 50) {
    __typename
    ... on PartnerSearchResults {
      totalCount
      destination { id level parent { id } }
      edges { node { service { id } matchedAreas { id } } }
    }
    ... on ValidationError { fields { field message suggestions } }
  }
}
"""

AREAS = """
query A($name: String!) { areas(name: $name, level: SETTLEMENT, first: 20) {
  edges { node { id name(lang: "sq") parent { id } } } } }
"""


@pytest.fixture
async def seeded(graph: Graph) -> Graph:
    await seed(graph)
    return graph


async def _search(gql: GraphQLClient, **query: Any) -> dict[str, Any]:
    body = await gql(SEARCH, {"q": {"needs": ["employment"], **query}})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["searchPartners"]
    return result


async def test_a_village_in_any_script_is_found_with_what_covers_its_municipality(
    gql: GraphQLClient, seeded: Graph
) -> None:
    # Zhur (Serbian Žur, Жур) is a village of Prizren; Korishë (Koriša) too.
    for spelling in ("Zhur", "Жур", "Žur", "zur", "Korishë", "Koriša", "Кориша"):
        found = await _search(gql, place=spelling)
        assert found["__typename"] == "PartnerSearchResults", (spelling, found)
        assert found["destination"]["level"] == "SETTLEMENT"
        assert found["destination"]["parent"]["id"] == "XK-prizren"
        assert found["totalCount"] > 0
        covered = {a["id"] for e in found["edges"] for a in e["node"]["matchedAreas"]}
        assert "XK-prizren" in covered
    # A village is listed under its municipality and suggested from its first letters.
    body = await gql(AREAS, {"name": "Koris"})
    villages = {e["node"]["id"]: e["node"] for e in body["data"]["areas"]["edges"]}
    assert villages["XK-gn-789274"]["name"] == "Korishë"
    assert villages["XK-gn-789274"]["parent"]["id"] == "XK-prizren"


async def test_a_name_of_several_villages_returns_the_choices_with_their_municipality(
    gql: GraphQLClient, seeded: Graph
) -> None:
    found = await _search(gql, place="Zllakuqan")
    assert found["__typename"] == "ValidationError"
    problem = found["fields"][0]
    assert problem["field"] == "query.place"
    assert set(problem["suggestions"]) == {"XK-gn-783836", "XK-gn-783837"}
    assert "Zllakuqan (Klinë)" in problem["message"]
    assert "Zllakuqan (Lipjan)" in problem["message"]
    # Either choice, named with its municipality or by its id, is a destination.
    for query in ({"place": "Zllakuqan (Klinë)"}, {"place": "Злокућане, Клина"}):
        chosen = await _search(gql, **query)
        assert chosen["destination"]["id"] == "XK-gn-783836", query
    chosen = await _search(gql, areaId="XK-gn-783837")
    assert chosen["destination"]["parent"]["id"] == "XK-lipjan"


async def test_a_misspelt_village_gets_close_matches(gql: GraphQLClient, seeded: Graph) -> None:
    found = await _search(gql, place="Korrishe")
    assert found["__typename"] == "ValidationError"
    problem = found["fields"][0]
    assert "XK-gn-789274" in problem["suggestions"]
    assert "Korishë (Prizren)" in problem["message"]


async def test_a_point_is_placed_in_the_municipality_whose_boundary_holds_it(
    gql: GraphQLClient, seeded: Graph
) -> None:
    # Inside Prizren's boundary, yet nearer to Shtërpcë's seat than to Prizren's.
    found = await _search(gql, lat=42.14, lon=20.94)
    assert found["destination"]["id"] == "XK-prizren"
    # Open sea: outside every boundary and far from any place.
    outside = await _search(gql, lat=42.0, lon=17.5, radiusKm=10)
    assert outside["__typename"] == "ValidationError"
    assert "outside every municipality boundary" in outside["fields"][0]["message"]


REGISTER = """
mutation R($input: ServiceInput!) {
  registerService(input: $input, confirmNotDuplicate: true) {
    __typename
    ... on ServicePayload { service { id locations { area { id } } } }
    ... on ValidationError { fields { field message } }
  }
}
"""


def _site(area: str, lat: float, lon: float) -> dict[str, Any]:
    return {
        "organisationId": "xk-krct",
        "name": "Counselling office",
        "delivery": ["IN_PERSON"],
        "needs": ["psychosocial.trauma-therapy"],
        "languages": ["sq"],
        "locations": [{"area": area, "name": "Office", "point": {"lat": lat, "lon": lon}}],
    }


async def test_a_site_point_must_lie_in_the_area_it_names(
    gql: GraphQLClient, seeded: Graph
) -> None:
    await seeded.write(create_demo_identities)
    token = {i.role.value: i.token for i in DEMO_IDENTITIES}["partner"]

    async def register(area: str, lat: float, lon: float) -> dict[str, Any]:
        body = await gql(REGISTER, {"input": _site(area, lat, lon)}, token=token)
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["registerService"]
        return result

    # The centre of Prizren is not in Gjakovë.
    refused = await register("XK-gjakove", 42.2139, 20.7397)
    assert refused["__typename"] == "ValidationError"
    [problem] = refused["fields"]
    assert problem["field"] == "input.locations.0.point"
    assert "lies in XK-prizren, not in XK-gjakove" in problem["message"]
    # Tirana is outside every municipality of Kosovo.
    refused = await register("XK-prizren", 41.3275, 19.8187)
    assert "outside every municipality boundary" in refused["fields"][0]["message"]
    refused = await register("XK", 41.3275, 19.8187)
    assert refused["__typename"] == "ValidationError"
    # A village is checked against its municipality's boundary; a point in Prizren is in
    # Prizren's village as far as the gazetteer can tell, and in the country.
    villages = await gql(AREAS, {"name": "Zhur"})
    [zhur] = [
        e["node"]["id"]
        for e in villages["data"]["areas"]["edges"]
        if e["node"]["parent"]["id"] == "XK-prizren"
    ]
    for area in ("XK-prizren", zhur, "XK"):
        created = await register(area, 42.2139, 20.7397)
        assert created["__typename"] == "ServicePayload", created
        assert created["service"]["locations"][0]["area"]["id"] == area
