"""The eligibility rule (docs/eligibility.md) as the search, the unequal support
comparison, the gap supply, the service and the HSDS export apply it: the same
programme-restricted service, treated alike for Germany and Denmark."""

from __future__ import annotations

from graph.driver import Graph
from graph.eligibility import closed_to
from graph.hsds_ids import hsds_id
from importers.hsds.export import export_tables
from importers.hsds.profile import PROFILE_TAXONOMY, term_id
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


SERVICE_QUERY = """
query S($id: ID!) {
  service(id: $id) { sendingCountries restrictedTo restrictingProgrammes restriction(lang: "en") }
  open: service(id: "xk-krct-trauma-therapy") { restrictedTo restriction }
}
"""


async def test_the_service_says_the_restriction_its_programme_makes(
    gql: GraphQLClient, graph: Graph
) -> None:
    await seed(graph)
    body = await gql(SERVICE_QUERY, {"id": SERVICE})
    assert "errors" not in body, body
    service = body["data"]["service"]
    assert service["sendingCountries"] == []
    assert service["restrictedTo"] == ["DE"]
    [programme] = service["restrictingProgrammes"]
    assert programme.startswith("REAG/GARP")
    # The words of the search's reason.
    assert service["restriction"] == f"only for returnees from Germany ({programme})"
    assert body["data"]["open"] == {"restrictedTo": [], "restriction": None}


async def test_the_hsds_export_carries_the_restriction_of_the_rule(graph: Graph) -> None:
    await seed(graph)
    tables = await export_tables(graph)
    term = term_id(PROFILE_TAXONOMY, "eligible-sending-country")
    exported = {
        a["link_id"]: a["value"] for a in tables["attributes"] if a["taxonomy_term_id"] == term
    }
    # The service restricts nothing itself; its only programme does.
    assert exported[hsds_id("service", SERVICE)] == "DE"
    assert hsds_id("service", "xk-krct-trauma-therapy") not in exported


GAPS = """
query G($country: String) {
  serviceGaps(areaId: "XK-prizren", needs: ["health.medicine"], sendingCountry: $country) {
    supply listedNotCounted notCounted { reason services }
  }
}
"""


async def test_gap_supply_counts_only_what_the_sending_country_may_use(
    gql: GraphQLClient, graph: Graph
) -> None:
    await seed(graph)
    await graph.write(create_demo_identities)
    cells = {}
    for country in (None, "DE", "DK"):
        body = await gql(GAPS, {"country": country}, token=TOKENS["coordinator"])
        assert "errors" not in body, body
        [cells[country]] = body["data"]["serviceGaps"]
    everyone, germany, denmark = cells[None], cells["DE"], cells["DK"]
    # The same services are listed for every question.
    for cell in (germany, denmark):
        assert cell["supply"] + cell["listedNotCounted"] == (
            everyone["supply"] + everyone["listedNotCounted"]
        )
    # The REAG/GARP service supplies returnees from Germany and not those from Denmark, and
    # the gap says why it is not counted; nothing else differs between the two.
    assert germany["supply"] == everyone["supply"]
    assert not any(r["reason"] == "not eligible" for r in germany["notCounted"])
    closed = {r["reason"]: r["services"] for r in denmark["notCounted"]}["not eligible"]
    assert closed >= 1
    assert denmark["supply"] == germany["supply"] - closed
    refused = await gql(GAPS, {"country": "Denmark"}, token=TOKENS["coordinator"])
    assert refused["data"] is None or refused.get("errors")


async def test_the_search_and_the_gap_agree_service_by_service(
    gql: GraphQLClient, graph: Graph
) -> None:
    await seed(graph)
    await graph.write(create_demo_identities)
    not_eligible = await graph.read(closed_to, country="DK")
    body = await gql(QUERY, {"country": "DK"}, token=TOKENS["coordinator"])
    found = {e["node"]["service"]["id"] for e in body["data"]["searchPartners"]["edges"]}
    assert SERVICE in not_eligible
    assert not found & set(not_eligible)
