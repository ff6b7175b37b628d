"""The eligibility rule (docs/eligibility.md) as the search and the unequal support
comparison apply it: the same programme-restricted service, treated alike for Germany and
Denmark."""

from __future__ import annotations

from graph.driver import Graph
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed
from tests.api.graphql.conftest import GraphQLClient

TOKENS = {i.role.value: i.token for i in DEMO_IDENTITIES}

# Funded by REAG/GARP alone (a programme for returnees from Germany), no restriction of its own.
SERVICE = "xk-iom-medical-reintegration"

QUERY = """
query Q($country: String!) {
  searchPartners(query: {place: "Prizren", needs: ["health.medicine"],
                         sendingCountry: $country}, first: 100, lang: "en") {
    ... on PartnerSearchResults { edges { node { service { id } reasons } } }
  }
  supportComparison(destination: "XK-prizren", need: "health.medicine",
                    sendingCountries: [$country]) {
    sendingCountry services { id }
  }
}
"""


async def test_search_and_support_comparison_apply_one_rule(
    gql: GraphQLClient, graph: Graph
) -> None:
    await seed(graph)
    await graph.write(create_demo_identities)
    seen: dict[str, tuple[dict[str, list[str]], set[str]]] = {}
    for country in ("DE", "DK"):
        body = await gql(QUERY, {"country": country}, token=TOKENS["coordinator"])
        assert "errors" not in body, body
        found = {
            e["node"]["service"]["id"]: e["node"]["reasons"]
            for e in body["data"]["searchPartners"]["edges"]
        }
        [row] = body["data"]["supportComparison"]
        seen[country] = (found, {s["id"] for s in row["services"]})

    searched, compared = seen["DE"]
    assert SERVICE in searched
    assert SERVICE in compared
    assert any(
        r.startswith("only for returnees from Germany (REAG/GARP") for r in searched[SERVICE]
    ), searched[SERVICE]
    searched, compared = seen["DK"]
    assert SERVICE not in searched
    assert SERVICE not in compared
    # Whatever else is offered, both views agree service by service.
    for found, listed in seen.values():
        assert set(found) == listed
