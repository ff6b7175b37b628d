"""The one small-count rule across every view that counts people (core.disclosure): a count
below the deployment's minimum is hidden in each view, and the cells beside it go with it,
so that the total the coordinators see elsewhere does not give it back.

The referrals: two to Prizren (one to B, one to KRCT, who both offer trauma therapy there),
five to Gjakova (to B). Two is below the minimum of 3; five is not, but 7 - 5 would give
the two back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from graph.areas import AreaLevel, AreaRecord, GeoPoint, area_rows, upsert_areas
from graph.driver import Graph
from tests import directory
from tests.api.graphql.conftest import START, Clock, GraphQLClient
from tests.api.graphql.test_cases import OPEN, _case_input
from tests.api.graphql.test_referrals import ACK, sent_referral
from tests.conftest import serve

TRAUMA = "psychosocial.trauma-therapy"
GJAKOVA = AreaRecord(
    id="XK-gjakova",
    level=AreaLevel.MUNICIPALITY,
    parent="XK",
    names={"en": "Gjakova", "sq": "Gjakova", "sr-Latn": "Đakovica", "sr-Cyrl": "Ђаковица"},
    centroid=GeoPoint(lat=42.3803, lon=20.4308),
)
SINCE, UNTIL = "2026-01-01", "2026-12-31"


@pytest.fixture
async def referred(
    people: dict[str, str], graph: Graph, clock: Clock, gql: GraphQLClient
) -> dict[str, str]:
    await graph.write(upsert_areas, rows=area_rows([GJAKOVA]))
    await directory.build(graph)
    await directory.add_services(
        graph,
        [
            (
                "svc-b",
                directory.service(organisation_id="org-b", covers=["XK-prizren", "XK-gjakova"]),
            ),
            ("svc-krct", directory.service(organisation_id="org-krct")),
        ],
    )
    for service, destination in [("svc-b", "XK-prizren"), ("svc-krct", "XK-prizren")] + [
        ("svc-b", "XK-gjakova")
    ] * 5:
        await sent_referral(gql, people, serviceId=service, destination=destination)
    return people


STATISTICS = """
query { referralStatistics(since: "2026-01-01", until: "2026-12-31", areaId: "XK") {
  total byDestination { key count } byNeed { key count }
} }
"""
GAPS = """
query { serviceGaps(areaId: "XK", needs: ["psychosocial.trauma-therapy"],
                    since: "2026-01-01", until: "2026-12-31") {
  areaId demand supply gapScore unmet
} }
"""


async def test_statistics_hide_the_small_destination_and_the_one_that_would_give_it_back(
    gql: GraphQLClient, referred: dict[str, str]
) -> None:
    stats = (await gql(STATISTICS, token=referred["coordinator"]))["data"]["referralStatistics"]
    assert stats["total"] == 7
    assert stats["byNeed"] == [{"key": TRAUMA, "count": 7}]
    # Prizren's 2 is small; Gjakova's 5 goes too, or 7 - 5 would give the 2 back.
    assert stats["byDestination"] == [
        {"key": "XK-gjakova", "count": None},
        {"key": "XK-prizren", "count": None},
    ]


async def test_gaps_hide_small_demand_and_its_complement_in_graphql_and_geojson(
    gql: GraphQLClient, client: httpx.AsyncClient, referred: dict[str, str]
) -> None:
    cells = (await gql(GAPS, token=referred["coordinator"]))["data"]["serviceGaps"]
    by_area = {c["areaId"]: c for c in cells}
    # Before the rule the gap matrix said "2" for Prizren: two families, named by need.
    assert by_area["XK-prizren"]["demand"] is None
    assert by_area["XK-prizren"]["gapScore"] is None  # 2 / (2 + 1) would give it back
    # Against the need's total of 7 in the statistics, Gjakova's 5 would give Prizren's 2.
    assert by_area["XK-gjakova"]["demand"] is None
    assert by_area["XK-gjakova"]["gapScore"] is None
    assert (by_area["XK-prizren"]["supply"], by_area["XK-prizren"]["unmet"]) == (0, True)

    geo = await client.get(
        "/exports/gaps.geojson",
        params={"need": TRAUMA, "country": "XK", "since": SINCE, "until": UNTIL},
        headers={"Authorization": f"Bearer {referred['coordinator']}"},
    )
    assert geo.status_code == 200, geo.text
    properties = {f["id"]: f["properties"] for f in geo.json()["features"]}
    for area in ("XK-prizren", "XK-gjakova"):
        shown = (properties[area][f"{TRAUMA}:demand"], properties[area][f"{TRAUMA}:gap_score"])
        assert shown == (None, None)
    picture = await client.get(
        "/exports/gaps.svg",
        params={"need": TRAUMA, "country": "XK", "since": SINCE, "until": UNTIL},
        headers={"Authorization": f"Bearer {referred['coordinator']}"},
    )
    assert picture.status_code == 200
    # The map prints "referrals / services" where demand is shown, "? / services" where hidden.
    assert b"2 / " not in picture.content
    assert b"5 / " not in picture.content


OVERLAPS = """
query { serviceOverlaps(areaId: "XK-prizren", need: "psychosocial.trauma-therapy",
                        since: "2026-01-01") {
  organisations services { serviceId referrals }
} }
"""


VERIFIED = "MATCH (s:Service) WHERE s.id IN ['svc-b', 'svc-krct'] SET s.last_verified_at = $at"


async def test_overlaps_hide_a_service_s_small_referral_count(
    gql: GraphQLClient, referred: dict[str, str], graph: Graph
) -> None:
    # Only services that can take a referral now make an overlap (graph/supply.py).
    async def verify(tx: Any) -> None:
        await tx.run(VERIFIED, at=START)

    await graph.write(verify)
    [overlap] = (await gql(OVERLAPS, token=referred["coordinator"]))["data"]["serviceOverlaps"]
    referrals = {s["serviceId"]: s["referrals"] for s in overlap["services"]}
    # KRCT's one referral was shown as 1; B's six are not a small count.
    assert referrals == {"svc-b": 6, "svc-krct": None}


CASES = """
query P($since: Date!, $until: Date!) {
  plannedArrivals(since: $since, until: $until) { municipality { id } households }
  returnCaseStatistics { total byPhase { key count } byWhereabouts { key count } }
}
"""


async def test_case_counts_hide_small_cells_and_those_the_total_would_give_back(
    gql: GraphQLClient, people: dict[str, str], graph: Graph, clock: Clock
) -> None:
    await graph.write(upsert_areas, rows=area_rows([GJAKOVA]))
    await directory.build(graph)
    for n, destination in enumerate(["XK-prizren"] * 2 + ["XK-gjakova"] * 5):
        opened = await gql(
            OPEN,
            {"input": _case_input(destination=destination, fileNumber=f"M-2026-{n:04}")},
            token=people["counsellor"],
        )
        assert opened["data"]["openReturnCase"]["__typename"] == "ReturnCasePayload", opened
    body = await gql(
        CASES,
        {
            "since": START.date().isoformat(),
            "until": (START.date() + timedelta(days=60)).isoformat(),
        },
        token=people["coordinator"],
    )
    assert "errors" not in body, body
    # Seven households preparing: the total and the phase are shown...
    assert body["data"]["returnCaseStatistics"]["total"] == 7
    assert body["data"]["returnCaseStatistics"]["byPhase"] == [{"key": "preparing", "count": 7}]
    # ...so Gjakova's 5 arrivals would give Prizren's 2 back: both hidden.
    households = {c["municipality"]["id"]: c["households"] for c in body["data"]["plannedArrivals"]}
    assert households == {"XK-prizren": None, "XK-gjakova": None}


async def test_a_small_total_is_hidden_with_its_cells(
    gql: GraphQLClient, people: dict[str, str], graph: Graph, clock: Clock
) -> None:
    await directory.build(graph)
    opened = await gql(OPEN, {"input": _case_input()}, token=people["counsellor"])
    assert opened["data"]["openReturnCase"]["__typename"] == "ReturnCasePayload", opened
    body = await gql(
        "query { returnCaseStatistics { total byPhase { key count } } }",
        token=people["coordinator"],
    )
    # One household: before, "total": 1 said it beside the hidden cells.
    assert body["data"]["returnCaseStatistics"] == {
        "total": None,
        "byPhase": [{"key": "preparing", "count": None}],
    }


SEARCH = """
query S($q: PartnerSearchInput!) {
  searchPartners(query: $q) {
    ... on PartnerSearchResults {
      edges { node { reasons service { id responsiveness { referralsReceived } } } }
    }
  }
}
"""


async def test_anonymous_search_reasons_keep_answer_times_of_few_referrals_to_themselves(
    gql: GraphQLClient,
    referred: dict[str, str],
    clock: Clock,
    test_settings: Any,
) -> None:
    for _ in range(4):
        await sent_referral(gql, referred, serviceId="svc-b", destination="XK-prizren")
    clock.now = START + timedelta(hours=5)
    listed = await gql(
        "query { referrals(side: RECEIVER) { nodes { id status } } }", token=referred["partner_b"]
    )
    for listed_node in listed["data"]["referrals"]["nodes"]:
        await gql(ACK, {"id": listed_node["id"]}, token=referred["partner_b"])
    query = {"q": {"place": "Prizren", "needs": [TRAUMA]}}

    # B has received 10 referrals: below a deployment's minimum of 12, the public is told
    # neither their count nor how fast they were answered.
    settings = test_settings.model_copy(update={"statistics_minimum_count": 12})
    async with serve(settings) as http:
        anonymous = (await http.post("/graphql", json={"query": SEARCH, "variables": query})).json()
        signed_in = (
            await http.post(
                "/graphql",
                json={"query": SEARCH, "variables": query},
                headers={"Authorization": f"Bearer {referred['counsellor']}"},
            )
        ).json()

    def node(body: dict[str, Any]) -> dict[str, Any]:
        edges = body["data"]["searchPartners"]["edges"]
        found: dict[str, Any] = next(
            e["node"] for e in edges if e["node"]["service"]["id"] == "svc-b"
        )
        return found

    staff = node(signed_in)
    assert staff["service"]["responsiveness"] == {"referralsReceived": 10}
    assert any("median of 10" in r for r in staff["reasons"]), staff["reasons"]
    public = node(anonymous)
    assert public["service"]["responsiveness"] is None
    assert not [r for r in public["reasons"] if "median of" in r or "accepts" in r], public
