"""The seed story, end to end on the seeded demo directory with the demo accounts.

A counsellor of the Munich return assistance searches partners for a family returning to
Prizren, records the family's consent to share needs, household and health data with the
Kosovo Rehabilitation Centre for Torture Victims (KRCT), and sends the referral. KRCT's
partner sees it (and nothing else), acknowledges, accepts, starts and completes it; follow-ups
at one and three months are recorded; the counsellor sees the whole history; a coordinator
sees the referral only in counts.
"""

from __future__ import annotations

from datetime import timedelta

from graph.driver import Graph
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed
from tests.api.graphql.conftest import START, Clock, GraphQLClient
from tests.api.graphql.test_referrals import (
    ACCEPT,
    ACK,
    COMPLETE,
    CONSENT,
    CREATE,
    FOLLOW_UP,
    READ,
    SEND,
    START_,
)

TOKENS = {i.role.value: i.token for i in DEMO_IDENTITIES}

SEARCH = """
query S($q: PartnerSearchInput!) {
  searchPartners(query: $q, first: 5) {
    ... on PartnerSearchResults { edges { node { reasons service { id } organisation { id } } } }
  }
}
"""


async def test_munich_counsellor_refers_a_family_to_the_trauma_centre_in_prizren(
    gql: GraphQLClient, graph: Graph, clock: Clock
) -> None:
    await seed(graph)
    await graph.write(create_demo_identities)
    counsellor, partner = TOKENS["counsellor"], TOKENS["partner"]
    coordinator = TOKENS["coordinator"]

    found = await gql(
        SEARCH,
        {
            "q": {
                "needs": ["psychosocial.trauma-therapy"],
                "place": "Призрен",
                "sendingCountry": "DE",
                "languages": ["sq", "de"],
            }
        },
        token=counsellor,
    )
    matches = [e["node"] for e in found["data"]["searchPartners"]["edges"]]
    krct = next(m for m in matches if m["organisation"]["id"] == "xk-krct")
    service_id = krct["service"]["id"]
    assert any("Prizren" in reason for reason in krct["reasons"])

    created = await gql(
        CREATE,
        {
            "input": {
                "serviceId": service_id,
                "destination": "XK-prizren",
                "needs": ["psychosocial.trauma-therapy"],
                "returnType": "VOLUNTARY",
                "household": {"adults": 2, "children": ["AGE_6_14", "AGE_15_17"]},
                "languages": ["sq", "de"],
                "plannedArrival": (START.date() + timedelta(days=7)).isoformat(),
                "health": "Father: PTSD diagnosis, translated report attached (illustrative)",
            }
        },
        token=counsellor,
    )
    referral = created["data"]["createReferral"]["referral"]
    referral_id = referral["id"]

    granted = await gql(
        CONSENT,
        {
            "input": {
                "referralId": referral_id,
                "categories": ["NEEDS", "HOUSEHOLD", "HEALTH"],
                "purpose": "trauma therapy for the father after return",
                "evidenceReference": "signed form M-2026-0042 (illustrative)",
                "expiresOn": (START.date() + timedelta(days=730)).isoformat(),
            }
        },
        token=counsellor,
    )
    assert granted["data"]["grantConsent"]["consent"]["recipient"]["id"] == "xk-krct"
    sent = await gql(SEND, {"id": referral_id}, token=counsellor)
    assert sent["data"]["sendReferral"]["referral"]["status"] == "SENT"

    inbox = await gql(
        "query { referrals(side: RECEIVER, first: 100) "
        "{ nodes { id receivingOrganisation { id } } } }",
        token=partner,
    )
    listed = inbox["data"]["referrals"]["nodes"]
    assert referral_id in [n["id"] for n in listed]
    # Only KRCT's own (the seed's invented history included), nothing of other organisations.
    assert {n["receivingOrganisation"]["id"] for n in listed} == {"xk-krct"}
    seen = (await gql(READ, {"id": referral_id}, token=partner))["data"]["referral"]
    assert seen["health"].startswith("Father: PTSD")
    assert seen["fromOrganisation"]["id"] == "de-muenchen-rueckkehrhilfe"

    for mutation in (ACK, ACCEPT, START_):
        await gql(mutation, {"id": referral_id}, token=partner)
    for months, days in ((1, 7 + 31), (3, 7 + 92)):
        clock.now = START + timedelta(days=days)
        visit = {
            "referralId": referral_id,
            "monthsAfterArrival": months,
            "visitedOn": clock.now.date().isoformat(),
            "schooling": "ALL_CHILDREN",
            "healthCareAccess": "YES",
            "feelsSafe": "YES",
            "intendsToLeave": "NO",
        }
        recorded = await gql(FOLLOW_UP, {"input": visit}, token=partner)
        assert recorded["data"]["recordFollowUp"]["__typename"] == "ReferralPayload"
    await gql(COMPLETE, {"id": referral_id, "outcome": "GOT_HELP"}, token=partner)

    history = (await gql(READ, {"id": referral_id}, token=counsellor))["data"]["referral"]
    assert [e["toStatus"] for e in history["events"]] == [
        "DRAFT",
        "SENT",
        "ACKNOWLEDGED",
        "ACCEPTED",
        "IN_PROGRESS",
        "COMPLETED",
    ]
    assert [f["monthsAfterArrival"] for f in history["followUps"]] == [1, 3]
    assert history["outcome"] == "GOT_HELP"

    refused = await gql(READ, {"id": referral_id}, token=coordinator)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    counts = await gql(
        'query { referralStatistics(since: "2026-01-01", until: "2027-01-01", areaId: "XK") '
        "{ total byStatus { key count } } }",
        token=coordinator,
    )
    # The seed's invented history of 2026 plus this one.
    assert counts["data"]["referralStatistics"]["total"] == 18
