"""Coordination views through GraphQL: who may see them, and what they answer."""

from __future__ import annotations

from graph.driver import Graph
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed
from tests.api.graphql.conftest import GraphQLClient

TOKENS = {i.role.value: i.token for i in DEMO_IDENTITIES}

QUERY = """
query {
  serviceOverlaps(areaId: "XK-ferizaj", need: "employment.business-start-up") {
    areaId need organisations services { serviceId organisationName referrals }
  }
  serviceGaps(areaId: "XK", needs: ["psychosocial"], since: "2026-01-01", until: "2026-12-31") {
    areaId need demand supply unmet nearestPartner { serviceId distanceKm }
  }
  supportComparison(destination: "XK-ferizaj", need: "employment", sendingCountries: ["DE", "DK"]) {
    sendingCountry services { id } openToAll
  }
}
"""


async def test_coordinator_sees_overlaps_gaps_and_support(gql: GraphQLClient, graph: Graph) -> None:
    await seed(graph)
    await graph.write(create_demo_identities)
    body = await gql(QUERY, token=TOKENS["coordinator"])
    assert "errors" not in body, body
    data = body["data"]
    assert [o["organisations"] for o in data["serviceOverlaps"]] == [3]
    # A broad need counts its narrower ones: trauma therapy is psychosocial support, and the
    # country-wide psychosocial services supply every municipality.
    assert not [c for c in data["serviceGaps"] if c["unmet"]]
    rows = {r["sendingCountry"]: r for r in data["supportComparison"]}
    assert set(rows) == {"DE", "DK"}

    for role in ("counsellor", "partner"):
        refused = await gql(QUERY, token=TOKENS[role])
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
