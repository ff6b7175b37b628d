"""Return cases through the API: a family of four referred to four partners from one case
with one consent, a walk-in case opened by a partner after arrival with a visit while the
returnee works abroad, a referral that continues a declined one, what each organisation sees,
bad input, version checks, and the coordinators' counts.

Organisation A sends (its counsellor); B, KRCT, APRK and C receive. A partner of KRCT works
for a recipient; a partner of D for nobody involved.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, LiteralString

import pytest

from graph.driver import Graph
from graph.migrations import MIGRATIONS, apply_again
from graph.organisations import OrganisationInput, upsert_organisations
from graph.users import Role, UserInput, create_user, issue_token, new_token
from tests import directory
from tests.api.graphql.conftest import START, Clock, GraphQLClient
from tests.api.graphql.test_referrals import (
    ALL,
    CANCEL,
    DECLINE,
    READ,
    SEND,
    consent,
    create,
    step,
)

CASE_FIELDS = """
  id reference fileNumber viewerSide phase whereabouts version returnType
  plannedArrival actualArrival languages withheldCategories followUpsDue note
  members { role age needs { code } }
  documents { document state }
  destination { id } ownerOrganisation { id }
  consents { id categories valid recipients { id } }
  events { action phase whereabouts actor destination { id } }
  followUps { monthsAfterArrival visitedOn whereabouts employment economic }
  reintegration { dimension score }
  referrals { id status caseReference receivingOrganisation { id } continues { id } }
"""
CASE_RESULT = f"""
  __typename
  ... on ReturnCasePayload {{ returnCase {{ {CASE_FIELDS} }} }}
  ... on ValidationError {{ message fields {{ field message }} }}
  ... on NotFoundError {{ message }}
  ... on ForbiddenError {{ message }}
  ... on VersionConflictError {{ message currentVersion }}
"""
OPEN = (
    "mutation O($input: OpenReturnCaseInput!) { openReturnCase(input: $input) {"
    + CASE_RESULT
    + "} }"
)
UPDATE = (
    "mutation U($id: ID!, $input: ReturnCaseInput!, $v: Int) "
    "{ updateReturnCase(id: $id, input: $input, expectedVersion: $v) {" + CASE_RESULT + "} }"
)
STATUS = (
    "mutation S($input: CaseStatusInput!) { recordCaseStatus(input: $input) {" + CASE_RESULT + "} }"
)
VISIT = (
    "mutation V($input: CaseFollowUpInput!) { recordCaseFollowUp(input: $input) {"
    + CASE_RESULT
    + "} }"
)
CONSENT = """
mutation G($input: CaseConsentInput!) { grantCaseConsent(input: $input) {
  __typename
  ... on ConsentPayload { consent { id categories valid recipients { id } } }
  ... on ValidationError { message fields { field message } }
  ... on NotFoundError { message }
} }
"""
REVOKE = """
mutation R($id: ID!) { revokeCaseConsent(id: $id) {
  __typename ... on ConsentPayload { consent { id valid revokedAt } }
} }
"""
CASE = "query C($id: ID!) { returnCase(id: $id) {" + CASE_FIELDS + "} }"
CASES = """
query L($phase: [CasePhase!], $file: String, $due: Boolean) {
  returnCases(phase: $phase, fileNumber: $file, followUpsDue: $due) { nodes { id reference } }
}
"""
CREATE = """
mutation C($input: ReferralInput!) { createReferral(input: $input) {
  __typename
  ... on ReferralPayload { referral {
    id status caseReference household { adults children } languages plannedArrival
    destination { id } returnCase { id reference } continues { id } needs { code }
  } }
  ... on ValidationError { message fields { field message } }
} }
"""
CANCEL_WITH = step("cancelReferral", "outcome", "Outcome")

PARTNERS = {"org-b": "svc-b", "org-krct": "svc-krct", "org-aprk": "svc-aprk", "org-c": "svc-c"}


async def _user(graph: Graph, name: str, organisation: str, role: Role) -> str:
    await graph.write(
        create_user,
        id=f"user-{name}",
        data=UserInput(
            email=f"{name}@example.org", display_name=name, organisation_id=organisation, role=role
        ),
    )
    token, token_id, secret_hash = new_token()
    await graph.write(
        issue_token,
        user_id=f"user-{name}",
        token_id=token_id,
        secret_hash=secret_hash,
        label=None,
        expires_at=None,
    )
    return token


@pytest.fixture
async def world(people: dict[str, str], graph: Graph, clock: Clock) -> dict[str, str]:
    """Four receiving partners with a service each in Prizren, and two more users."""
    await directory.build(graph)
    await graph.write(
        upsert_organisations,
        rows=[
            (i, OrganisationInput.model_validate({"name": i, "kind": "ngo", "country": "XK"}), {})
            for i in ("org-c", "org-d")
        ],
    )
    await directory.add_services(
        graph,
        [
            ("svc-b", directory.service(organisation_id="org-b", name="Trauma therapy B")),
            ("svc-krct", directory.service(organisation_id="org-krct")),
            (
                "svc-aprk",
                directory.service(
                    organisation_id="org-aprk", name="Job placement", needs=["employment"]
                ),
            ),
            (
                "svc-c",
                directory.service(
                    organisation_id="org-c", name="Youth activities", needs=["psychosocial"]
                ),
            ),
        ],
    )
    return people | {
        "partner_krct": await _user(graph, "partner_krct", "org-krct", Role.PARTNER),
        "partner_d": await _user(graph, "partner_d", "org-d", Role.PARTNER),
    }


FAMILY = [
    {"role": "MOTHER", "age": "ADULT", "needs": ["psychosocial.trauma-therapy"]},
    {"role": "FATHER", "age": "ADULT", "needs": ["employment"]},
    {"role": "DAUGHTER", "age": "AGE_6_14", "needs": ["psychosocial"]},
    {"role": "SON", "age": "AGE_15_17", "needs": ["psychosocial"]},
]


def _case_input(**overrides: Any) -> dict[str, Any]:
    return {
        "returnType": "VOLUNTARY",
        "destination": "XK-prizren",
        "fileNumber": "M-2026-0042",
        "sendingCountry": "DE",
        "plannedArrival": (START.date() + timedelta(days=14)).isoformat(),
        "members": FAMILY,
        "languages": ["sq", "de"],
        "documents": [
            {"document": "IDENTITY", "state": "AVAILABLE"},
            {"document": "DIPLOMAS", "state": "TRANSLATED"},
        ],
        "note": "Mother prefers a female therapist (illustrative)",
        **overrides,
    }


def _ok(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][field]
    assert result["__typename"] == "ReturnCasePayload", result
    case: dict[str, Any] = result["returnCase"]
    return case


def _fields(body: dict[str, Any], field: str) -> list[str]:
    result = body["data"][field]
    assert result["__typename"] == "ValidationError", result
    return [f["field"] for f in result["fields"]]


async def _open(gql: GraphQLClient, token: str, **overrides: Any) -> dict[str, Any]:
    return _ok(await gql(OPEN, {"input": _case_input(**overrides)}, token=token), "openReturnCase")


async def _refer(
    gql: GraphQLClient, token: str, case_id: str, service: str, needs: list[str], **more: Any
) -> dict[str, Any]:
    body = await gql(
        CREATE,
        {"input": {"returnCaseId": case_id, "serviceId": service, "needs": needs, **more}},
        token=token,
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["createReferral"]
    assert result["__typename"] == "ReferralPayload", result
    referral: dict[str, Any] = result["referral"]
    return referral


async def _family_referred(gql: GraphQLClient, world: dict[str, str]) -> tuple[str, list[str]]:
    """The family's case, four referrals from it, one consent for the four, all sent."""
    counsellor = world["counsellor"]
    case = await _open(gql, counsellor)
    needs = {
        "svc-b": ["psychosocial.trauma-therapy"],
        "svc-krct": ["psychosocial.trauma-therapy"],
        "svc-aprk": ["employment"],
        "svc-c": ["psychosocial"],
    }
    referrals = [
        await _refer(gql, counsellor, case["id"], service, needs[service])
        for service in PARTNERS.values()
    ]
    granted = await gql(
        CONSENT,
        {
            "input": {
                "caseId": case["id"],
                "recipients": list(PARTNERS),
                "categories": ["NEEDS", "HOUSEHOLD"],
                "purpose": "reintegration support for the family after return",
                "evidenceReference": "signed form M-2026-0042 (illustrative)",
                "expiresOn": (START.date() + timedelta(days=730)).isoformat(),
            }
        },
        token=counsellor,
    )
    assert granted["data"]["grantCaseConsent"]["__typename"] == "ConsentPayload", granted
    for referral in referrals:
        sent = await gql(SEND, {"id": referral["id"]}, token=counsellor)
        assert sent["data"]["sendReferral"]["referral"]["status"] == "SENT", sent
    return case["id"], [r["id"] for r in referrals]


async def test_a_family_of_four_is_referred_to_four_partners_from_one_case(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    counsellor = world["counsellor"]
    case = await _open(gql, counsellor)
    assert case["phase"] == "PREPARING"
    assert case["whereabouts"] == "HOST_COUNTRY"
    assert case["fileNumber"] == "M-2026-0042"
    assert [(m["role"], [n["code"] for n in m["needs"]]) for m in case["members"]] == [
        ("MOTHER", ["psychosocial.trauma-therapy"]),
        ("FATHER", ["employment"]),
        ("DAUGHTER", ["psychosocial"]),
        ("SON", ["psychosocial"]),
    ]
    assert case["documents"] == [
        {"document": "IDENTITY", "state": "AVAILABLE"},
        {"document": "DIPLOMAS", "state": "TRANSLATED"},
    ]
    assert [e["action"] for e in case["events"]] == ["opened"]

    # Nothing retyped: the referral takes household, languages, arrival, destination.
    first = await _refer(gql, counsellor, case["id"], "svc-krct", ["psychosocial.trauma-therapy"])
    assert first["household"] == {"adults": 2, "children": ["AGE_6_14", "AGE_15_17"]}
    assert first["languages"] == ["sq", "de"]
    assert first["plannedArrival"] == case["plannedArrival"]
    assert first["destination"] == {"id": "XK-prizren"}
    assert first["returnCase"] == {"id": case["id"], "reference": case["reference"]}
    assert first["caseReference"] == case["reference"]

    # A consent for an organisation the case does not refer to is refused, nothing written.
    refused = await gql(
        CONSENT,
        {
            "input": {
                "caseId": case["id"],
                "recipients": ["org-krct", "org-d"],
                "categories": ["NEEDS"],
                "purpose": "reintegration support",
                "evidenceReference": "form 1 (illustrative)",
                "expiresOn": (START.date() + timedelta(days=30)).isoformat(),
            }
        },
        token=counsellor,
    )
    assert _fields(refused, "grantCaseConsent") == ["input.recipients.1"]
    assert (await gql(CASE, {"id": case["id"]}, token=counsellor))["data"]["returnCase"][
        "consents"
    ] == []


async def test_one_consent_covers_the_four_referrals_and_each_partner_sees_its_own(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    case_id, referral_ids = await _family_referred(gql, world)
    seen = (await gql(CASE, {"id": case_id}, token=world["counsellor"]))["data"]["returnCase"]
    assert sorted(r["id"] for r in seen["referrals"]) == sorted(referral_ids)
    assert {r["status"] for r in seen["referrals"]} == {"SENT"}
    assert len(seen["consents"]) == 1
    assert [o["id"] for o in seen["consents"][0]["recipients"]] == sorted(PARTNERS)

    # KRCT's partner: the household and needs (consented), its own referral only, no
    # documents, notes or file number.
    krct = (await gql(CASE, {"id": case_id}, token=world["partner_krct"]))["data"]["returnCase"]
    assert krct["viewerSide"] == "RECEIVER"
    assert [r["receivingOrganisation"]["id"] for r in krct["referrals"]] == ["org-krct"]
    assert [m["role"] for m in krct["members"]] == ["MOTHER", "FATHER", "DAUGHTER", "SON"]
    assert krct["members"][0]["needs"] == [{"code": "psychosocial.trauma-therapy"}]
    assert krct["documents"] == []
    assert krct["note"] is None
    assert krct["fileNumber"] is None
    assert set(krct["withheldCategories"]) == {"HEALTH", "CONTACT", "DOCUMENTS", "NOTES"}

    # Nobody else learns the case exists.
    assert (await gql(CASE, {"id": case_id}, token=world["partner_d"]))["data"][
        "returnCase"
    ] is None
    listed = await gql(CASES, {}, token=world["partner_d"])
    assert listed["data"]["returnCases"]["nodes"] == []
    coordinator = await gql(CASE, {"id": case_id}, token=world["coordinator"])
    assert coordinator["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # Revoking the one consent withdraws it from all four at once.
    consent_id = seen["consents"][0]["id"]
    revoked = await gql(REVOKE, {"id": consent_id}, token=world["counsellor"])
    assert revoked["data"]["revokeCaseConsent"]["consent"]["valid"] is False
    krct = (await gql(CASE, {"id": case_id}, token=world["partner_krct"]))["data"]["returnCase"]
    assert krct["members"] == []
    referral = (await gql(READ, {"id": referral_ids[0]}, token=world["partner_b"]))["data"][
        "referral"
    ]
    assert "HOUSEHOLD" in referral["withheldCategories"]
    assert referral["household"] is None


async def test_a_later_referral_continues_a_declined_one_and_the_returnee_may_withdraw(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    case_id, referral_ids = await _family_referred(gql, world)
    declined = await gql(
        DECLINE, {"id": referral_ids[0], "reason": "NO_CAPACITY"}, token=world["partner_b"]
    )
    assert declined["data"]["declineReferral"]["referral"]["status"] == "DECLINED"
    again = await _refer(
        gql,
        world["counsellor"],
        case_id,
        "svc-krct",
        ["psychosocial.trauma-therapy"],
        continues=referral_ids[0],
    )
    assert again["continues"] == {"id": referral_ids[0]}

    # A referral of another case cannot be continued.
    other = await _open(gql, world["counsellor"], fileNumber="M-2026-0043")
    body = await gql(
        CREATE,
        {
            "input": {
                "returnCaseId": other["id"],
                "serviceId": "svc-b",
                "needs": ["psychosocial"],
                "continues": referral_ids[1],
            }
        },
        token=world["counsellor"],
    )
    assert [f["field"] for f in body["data"]["createReferral"]["fields"]] == ["input.continues"]

    # The household withdraws from the job placement before APRK answers.
    withdrawn = await gql(
        CANCEL_WITH,
        {"id": referral_ids[2], "outcome": "DECLINED_BY_RETURNEE"},
        token=world["counsellor"],
    )
    referral = withdrawn["data"]["cancelReferral"]["referral"]
    assert (referral["status"], referral["outcome"]) == ("CANCELLED", "DECLINED_BY_RETURNEE")
    wrong = await gql(
        CANCEL_WITH, {"id": referral_ids[3], "outcome": "GOT_HELP"}, token=world["counsellor"]
    )
    assert wrong["data"]["cancelReferral"]["fields"][0]["field"] == "outcome"
    plain = await gql(CANCEL, {"id": referral_ids[3]}, token=world["counsellor"])
    assert plain["data"]["cancelReferral"]["referral"]["outcome"] is None


async def test_a_partner_opens_a_case_for_a_walk_in_and_visits_while_he_works_abroad(
    gql: GraphQLClient, world: dict[str, str], clock: Clock
) -> None:
    partner = world["partner_b"]
    arrived = START.date() - timedelta(days=3)
    walk_in = {
        "returnType": "FORCED",
        "destination": "XK-prizren",
        "actualArrival": arrived.isoformat(),
        "members": [{"role": "ADULT", "age": "ADULT", "needs": ["employment"]}],
        "languages": ["sq"],
    }
    # A partner opens a case only after arrival.
    no_arrival = await gql(OPEN, {"input": {**walk_in, "actualArrival": None}}, token=partner)
    assert _fields(no_arrival, "openReturnCase") == ["input.actualArrival"]
    case = _ok(await gql(OPEN, {"input": walk_in}, token=partner), "openReturnCase")
    assert (case["phase"], case["whereabouts"]) == ("ARRIVED", "IN_DESTINATION")
    assert case["viewerSide"] == "OWNER"
    assert case["actualArrival"] == arrived.isoformat()

    clock.now = START + timedelta(days=40)
    visit = {
        "caseId": case["id"],
        "monthsAfterArrival": 1,
        "visitedOn": clock.now.date().isoformat(),
        "whereabouts": "TEMPORARILY_ABROAD",
        "employment": "EMPLOYED",
        "economic": 0.6,
        "note": "Seasonal work in Croatia until October (illustrative)",
    }
    early = await gql(
        VISIT,
        {"input": {**visit, "visitedOn": (arrived - timedelta(days=1)).isoformat()}},
        token=partner,
    )
    assert _fields(early, "recordCaseFollowUp") == ["input.visitedOn"]
    case = _ok(await gql(VISIT, {"input": visit}, token=partner), "recordCaseFollowUp")
    assert case["whereabouts"] == "TEMPORARILY_ABROAD"
    assert case["followUps"] == [
        {
            "monthsAfterArrival": 1,
            "visitedOn": visit["visitedOn"],
            "whereabouts": "TEMPORARILY_ABROAD",
            "employment": "EMPLOYED",
            "economic": 0.6,
        }
    ]
    assert {"dimension": "ECONOMIC", "score": 0.6} in case["reintegration"]
    assert [e["action"] for e in case["events"]] == ["opened", "visit"]

    back = await gql(
        STATUS,
        {"input": {"caseId": case["id"], "whereabouts": "RETURNED_AGAIN", "note": "back"}},
        token=partner,
    )
    assert _ok(back, "recordCaseStatus")["whereabouts"] == "RETURNED_AGAIN"


async def test_bad_input_is_refused_with_the_field_and_nothing_written(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    counsellor = world["counsellor"]
    case = await _open(gql, counsellor)
    twice = await gql(OPEN, {"input": _case_input()}, token=counsellor)
    assert _fields(twice, "openReturnCase") == ["input.fileNumber"]
    past = await gql(
        OPEN,
        {"input": _case_input(fileNumber=None, plannedArrival="2025-12-01")},
        token=counsellor,
    )
    assert _fields(past, "openReturnCase") == ["input.plannedArrival"]
    unknown = await gql(
        OPEN,
        {
            "input": _case_input(
                fileNumber="X-1",
                members=[{"role": "SON", "age": "AGE_6_14", "needs": ["schooling.nope"]}],
            )
        },
        token=counsellor,
    )
    assert _fields(unknown, "openReturnCase") == ["input.members.0.needs.0"]
    # Still in the host country: "returned again" makes no sense.
    nonsense = await gql(
        STATUS, {"input": {"caseId": case["id"], "whereabouts": "RETURNED_AGAIN"}}, token=counsellor
    )
    assert _fields(nonsense, "recordCaseStatus") == ["input.whereabouts"]
    # A visit before arrival.
    visit = await gql(
        VISIT,
        {
            "input": {
                "caseId": case["id"],
                "monthsAfterArrival": 0,
                "visitedOn": START.date().isoformat(),
                "whereabouts": "HOST_COUNTRY",
            }
        },
        token=counsellor,
    )
    assert _fields(visit, "recordCaseFollowUp") == ["input.visitedOn"]
    listed = await gql(CASES, {"file": "M-2026-0042"}, token=counsellor)
    assert [n["id"] for n in listed["data"]["returnCases"]["nodes"]] == [case["id"]]
    after = (await gql(CASE, {"id": case["id"]}, token=counsellor))["data"]["returnCase"]
    assert after["version"] == case["version"]
    assert [e["action"] for e in after["events"]] == ["opened"]


async def test_concurrent_changes_never_lose_one(gql: GraphQLClient, world: dict[str, str]) -> None:
    counsellor = world["counsellor"]
    case = await _open(gql, counsellor)
    version = case["version"]
    first = await gql(
        UPDATE,
        {"id": case["id"], "input": _case_input(languages=["sq"]), "v": version},
        token=counsellor,
    )
    assert _ok(first, "updateReturnCase")["languages"] == ["sq"]
    stale = await gql(
        UPDATE,
        {"id": case["id"], "input": _case_input(languages=["de"]), "v": version},
        token=counsellor,
    )
    assert stale["data"]["updateReturnCase"]["__typename"] == "VersionConflictError"
    now = (await gql(CASE, {"id": case["id"]}, token=counsellor))["data"]["returnCase"]
    assert now["languages"] == ["sq"]
    # The receiving side may not change the details.
    await _family_referred_to_b(gql, world, case["id"])
    foreign = await gql(
        UPDATE, {"id": case["id"], "input": _case_input()}, token=world["partner_b"]
    )
    assert foreign["data"]["updateReturnCase"]["__typename"] == "ForbiddenError"


async def _family_referred_to_b(gql: GraphQLClient, world: dict[str, str], case_id: str) -> None:
    referral = await _refer(gql, world["counsellor"], case_id, "svc-b", ["psychosocial"])
    await gql(
        CONSENT,
        {
            "input": {
                "caseId": case_id,
                "recipients": ["org-b"],
                "categories": ["NEEDS", "HOUSEHOLD"],
                "purpose": "support after return",
                "evidenceReference": "form 7 (illustrative)",
                "expiresOn": (START.date() + timedelta(days=30)).isoformat(),
            }
        },
        token=world["counsellor"],
    )
    await gql(SEND, {"id": referral["id"]}, token=world["counsellor"])


PLANNED = """
query P($since: Date!, $until: Date!) {
  plannedArrivals(since: $since, until: $until) { municipality { id } month households people }
  returnCaseStatistics { total byPhase { key count } }
}
"""


async def test_coordinators_see_planned_arrivals_as_counts_with_small_ones_hidden(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    await _open(gql, world["counsellor"])
    body = await gql(
        PLANNED,
        {
            "since": START.date().isoformat(),
            "until": (START.date() + timedelta(days=60)).isoformat(),
        },
        token=world["coordinator"],
    )
    assert "errors" not in body, body
    month = (START.date() + timedelta(days=14)).isoformat()[:7]
    assert body["data"]["plannedArrivals"] == [
        {"municipality": {"id": "XK-prizren"}, "month": month, "households": None, "people": None}
    ]
    assert body["data"]["returnCaseStatistics"] == {
        "total": None,
        "byPhase": [{"key": "preparing", "count": None}],
    }
    refused = await gql(
        PLANNED, {"since": "2026-01-01", "until": "2026-02-01"}, token=world["counsellor"]
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


OLD_SHAPE: LiteralString = """
MATCH (c:ReturnCase)
OPTIONAL MATCH (x)-[:OF]->(c) WHERE x:HouseholdMember OR x:CaseEvent
DETACH DELETE x, c
"""


async def test_the_migration_makes_a_case_of_each_earlier_case_reference(
    gql: GraphQLClient, world: dict[str, str], graph: Graph
) -> None:
    """Referrals written before cases existed shared only a `caseReference`: each reference
    becomes a case with the household of its earliest referral, nothing lost."""
    counsellor = world["counsellor"]
    first = await create(gql, counsellor)
    second = await create(
        gql,
        counsellor,
        serviceId="svc-aprk",
        needs=["employment"],
        caseReference=first["caseReference"],
    )
    assert (await consent(gql, counsellor, first["id"], ALL))["__typename"] == "ConsentPayload"
    await gql(SEND, {"id": first["id"]}, token=counsellor)
    async with graph.driver.session(database=graph.database) as session:
        await session.run(OLD_SHAPE)
        await session.run("MATCH (r:Referral)-[i:IN_CASE]->() DELETE i")

    others = [m.version for m in MIGRATIONS if m.version != 12]
    for _ in range(2):  # applying it again changes nothing
        assert await apply_again(graph, made_under=others) == [12]

    seen = (await gql(READ_CASE_OF, {"id": second["id"]}, token=counsellor))["data"]["referral"]
    case = seen["returnCase"]
    assert case["reference"] == first["caseReference"]
    assert case["phase"] == "ARRIVED"  # the planned arrival has come
    assert sorted(r["id"] for r in case["referrals"]) == sorted([first["id"], second["id"]])
    assert [(m["role"], m["age"]) for m in case["members"]] == [
        ("ADULT", "ADULT"),
        ("ADULT", "ADULT"),
        ("CHILD", "AGE_6_14"),
        ("CHILD", "AGE_0_2"),
    ]
    assert case["languages"] == ["sq", "de"]
    assert case["destination"] == {"id": "XK-prizren"}
    assert [k["recipients"] for k in case["consents"]] == [[{"id": "org-b"}]]
    async with graph.driver.session(database=graph.database) as session:
        counted = await (await session.run("MATCH (c:ReturnCase) RETURN count(c) AS n")).single()
    assert counted is not None
    assert counted["n"] == 1
    # The receiver still reads what the earlier consent gave it.
    received = (await gql(READ, {"id": first["id"]}, token=world["partner_b"]))["data"]["referral"]
    assert received["withheldCategories"] == []
    # A later referral joins the migrated case by id.
    third = await _refer(gql, counsellor, case["id"], "svc-c", ["psychosocial"])
    assert third["returnCase"]["reference"] == first["caseReference"]


READ_CASE_OF = "query($id: ID!) { referral(id: $id) { id returnCase {" + CASE_FIELDS + "} } }"


async def test_receivers_say_where_the_household_is_and_only_the_owner_moves_the_phase(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    case_id, _ = await _family_referred(gql, world)
    krct = world["partner_krct"]
    closing = await gql(STATUS, {"input": {"caseId": case_id, "phase": "CLOSED"}}, token=krct)
    assert closing["data"]["recordCaseStatus"]["__typename"] == "ForbiddenError"
    arrived = _ok(
        await gql(
            STATUS, {"input": {"caseId": case_id, "whereabouts": "IN_DESTINATION"}}, token=krct
        ),
        "recordCaseStatus",
    )
    assert (arrived["phase"], arrived["actualArrival"]) == ("ARRIVED", START.date().isoformat())

    counsellor = world["counsellor"]
    nowhere = await gql(
        STATUS, {"input": {"caseId": case_id, "whereabouts": "MOVED"}}, token=counsellor
    )
    assert _fields(nowhere, "recordCaseStatus") == ["input.destination"]
    stale = await gql(
        STATUS,
        {
            "input": {
                "caseId": case_id,
                "phase": "REINTEGRATING",
                "expectedVersion": arrived["version"] - 1,
            }
        },
        token=counsellor,
    )
    assert stale["data"]["recordCaseStatus"]["__typename"] == "VersionConflictError"
    moved = _ok(
        await gql(
            STATUS,
            {
                "input": {
                    "caseId": case_id,
                    "whereabouts": "MOVED",
                    "destination": "XK",
                    "expectedVersion": arrived["version"],
                }
            },
            token=counsellor,
        ),
        "recordCaseStatus",
    )
    assert (moved["whereabouts"], moved["destination"]) == ("MOVED", {"id": "XK"})
    assert [e["action"] for e in moved["events"]] == ["opened", "status", "status"]
    assert moved["events"][-1]["destination"] == {"id": "XK"}
