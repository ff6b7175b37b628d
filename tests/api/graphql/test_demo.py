"""The demo directory as a counsellor meets it through GraphQL: measured responsiveness from
the seeded referral history."""

from __future__ import annotations

from graph.driver import Graph
from seed.loader import seed
from tests.api.graphql.conftest import GraphQLClient

RESPONSIVENESS = """
query { service(id: "xk-krct-trauma-therapy") {
  responsiveness { referralsReceived ackMedianHours acceptanceRate feedbackRate }
} }
"""
SEARCH = """
query { searchPartners(query: {place: "Prizren", needs: ["psychosocial.trauma-therapy"]},
                       lang: "en") {
  ... on PartnerSearchResults { edges { node { service { id } reasons } } }
} }
"""


async def test_the_seeded_history_gives_the_demo_services_measured_responsiveness(
    gql: GraphQLClient, graph: Graph
) -> None:
    await seed(graph)
    body = await gql(RESPONSIVENESS)
    measured = body["data"]["service"]["responsiveness"]
    assert measured["referralsReceived"] == 11
    assert 24 <= measured["ackMedianHours"] <= 72
    assert 0 < measured["acceptanceRate"] <= 1
    assert 0 < measured["feedbackRate"] <= 1
    found = await gql(SEARCH)
    reasons = {
        e["node"]["service"]["id"]: e["node"]["reasons"]
        for e in found["data"]["searchPartners"]["edges"]
    }
    assert any(r.startswith("answers referrals in") for r in reasons["xk-krct-trauma-therapy"]), (
        reasons["xk-krct-trauma-therapy"]
    )


CASES = """
query {
  farming: searchPartners(query: {place: "Жур", needs: ["employment.agriculture"]}) {
    ... on PartnerSearchResults { edges { node { service { id } } } }
  }
  inheritance: searchPartners(query: {place: "Gračanica",
                                      needs: ["legal-counselling.inheritance"]}) {
    ... on PartnerSearchResults { edges { node { service { id } } } }
  }
  needs(lang: "sr-Cyrl") { code label }
}
"""


async def test_the_demo_serves_a_village_farmer_and_an_inheritance_claim_in_gracanica(
    gql: GraphQLClient, graph: Graph
) -> None:
    await seed(graph)
    body = await gql(CASES)
    assert "errors" not in body, body
    data = body["data"]

    def ids(key: str) -> set[str]:
        return {e["node"]["service"]["id"] for e in data[key]["edges"]}

    assert "xk-drc-agricultural-livelihood" in ids("farming")
    assert "xk-drc-property-inheritance-legal-aid" in ids("inheritance")
    labels = {n["code"]: n["label"] for n in data["needs"]}
    assert labels["employment.agriculture"] == "Пољопривредни извор прихода"
