"""The demo directory serves the typical cases of the return report: a counsellor asking
what a family needs, where it returns to, finds a partner there."""

from __future__ import annotations

from typing import Any

from graph.driver import Graph
from seed.loader import seed
from tests.api.graphql.conftest import GraphQLClient

SEARCH = """
query S($q: PartnerSearchInput!) {
  searchPartners(query: $q, first: 50, lang: "en") {
    __typename
    ... on PartnerSearchResults {
      edges { node {
        service { id locations { area { id parent { id } } } organisation { countryCode } }
      } }
    }
  }
}
"""

SERB_MAJORITY = {
    "Gračanica": "XK-gracanice",
    "Štrpce": "XK-shterpce",
    "Severna Mitrovica": "XK-mitrovice-e-veriut",
    "Zvečan": "XK-zvecan",
    "Leposavić": "XK-leposaviq",
    "Zubin Potok": "XK-zubin-potok",
}


async def _found(gql: GraphQLClient, **query: Any) -> list[dict[str, Any]]:
    body = await gql(SEARCH, {"q": query})
    assert "errors" not in body, body
    result = body["data"]["searchPartners"]
    assert result["__typename"] == "PartnerSearchResults", (query, result)
    return [e["node"]["service"] for e in result["edges"]]


def _local(services: list[dict[str, Any]], area: str) -> list[str]:
    """Services with a site in the area (or in a settlement of it)."""
    return [
        s["id"]
        for s in services
        if any(
            loc["area"] and area in (loc["area"]["id"], (loc["area"]["parent"] or {}).get("id"))
            for loc in s["locations"]
        )
    ]


async def test_the_demo_answers_the_reports_typical_cases(gql: GraphQLClient, graph: Graph) -> None:
    await seed(graph)
    # Children who went to school in Germany need catch-up and Albanian classes in Prizren.
    for need in ("education.catch-up-classes", "education.language-classes"):
        found = await _found(gql, place="Prizren", needs=[need], radiusKm=10)
        assert _local(found, "XK-prizren"), need
    # A village of Prizren, in Serbian: the same offer covers it.
    assert await _found(gql, place="Žur", needs=["education.catch-up-classes"])
    # Property and inheritance, and seeds and tools for a farm.
    for need in ("legal-counselling.inheritance", "employment.agriculture"):
        assert await _found(gql, place="Prizren", needs=[need]), need
    # Psychosocial care close by, outside Prishtinë.
    for place, area in (("Gjilan", "XK-gjilan"), ("Pejë", "XK-peje")):
        found = await _found(gql, place=place, needs=["psychosocial"], includeRemote=False)
        assert _local(found, area), place
    # A local partner, answering in Serbian, in every Serb-majority municipality.
    for place, area in SERB_MAJORITY.items():
        found = await _found(gql, place=place, needs=["municipal-services"], languages=["sr"])
        assert _local(found, area), place
    # Returns to Serbia and Albania find organisations there.
    for place, country in (("Beograd", "RS"), ("Tirana", "AL")):
        found = await _found(gql, place=place, needs=["information-outreach"])
        assert any(s["organisation"]["countryCode"] == country for s in found), place
