"""Referrals through the API: lifecycle, consent, what each side sees, overdue, follow-up,
closing the loop into the directory, retention and the coordinators' counts.

Organisation A sends (its counsellor), organisation B receives (its partner `partner_b`).
"""

from __future__ import annotations

import json
import logging
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from neo4j import AsyncManagedTransaction

from api.webhook_delivery import deliver_due, delivery_client
from core.signing import verify_signature
from graph.driver import Graph
from graph.referrals import announce_overdue, purge_closed
from graph.users import SYSTEM, Role, UserInput, create_user, issue_token, new_token
from graph.webhooks import SubscriptionInput, WebhookEvent, create_subscription
from tests import directory
from tests.api.graphql.conftest import START, Clock, GraphQLClient
from tests.receiver import RECEIVER_NETWORKS, Receiver

REFERRAL_FIELDS = """
  id reference caseReference status viewerSide version overdue allowedActions
  note contact health withheldCategories followUpsDue outcome declineReason purgedAt
  household { adults children } languages documents
  needs { code } targetGroups { code } destination { id } service { id }
  fromOrganisation { id } receivingOrganisation { id }
  events { action fromStatus toStatus note reason outcome actor }
  followUps { monthsAfterArrival employment schooling note recordedByOrganisationId }
  consents { id categories valid revokedAt recipient { id } }
"""
RESULT = f"""
  __typename
  ... on ReferralPayload {{ referral {{ {REFERRAL_FIELDS} }} }}
  ... on IllegalTransitionError {{ message currentStatus allowedActions }}
  ... on ConsentMissingError {{ message missingCategories }}
  ... on ValidationError {{ message fields {{ field message }} }}
  ... on NotFoundError {{ message }}
  ... on ForbiddenError {{ message }}
  ... on VersionConflictError {{ message currentVersion }}
"""
CREATE = "mutation C($input: ReferralInput!) { createReferral(input: $input) {" + RESULT + "} }"
CONSENT = """
mutation G($input: ConsentInput!) { grantConsent(input: $input) {
  __typename
  ... on ConsentPayload { consent { id categories valid recipient { id } } }
  ... on ValidationError { message fields { field message } }
  ... on ForbiddenError { message }
  ... on NotFoundError { message }
} }
"""
REVOKE = """
mutation R($id: ID!) { revokeConsent(id: $id) {
  __typename ... on ConsentPayload { consent { id valid revokedAt } }
} }
"""
READ = "query($id: ID!) { referral(id: $id) {" + REFERRAL_FIELDS + "} }"
LIST = """
query L($overdue: Boolean, $due: Boolean, $side: ReferralSide) {
  referrals(overdue: $overdue, followUpsDue: $due, side: $side) { nodes { id status } }
}
"""
FOLLOW_UP = "mutation F($input: FollowUpInput!) { recordFollowUp(input: $input) {" + RESULT + "} }"

HEALTH = "Type 2 diabetes, insulin daily; nightmares since 2019"
CONTACT = "+383 49 000 000 (illustrative)"
NOTE = "Family prefers appointments in the afternoon"


def step(name: str, argument: str = "", type_: str = "") -> str:
    """A lifecycle mutation; `argument` is the extra one (reason, outcome) of `type_`."""
    declared = f", ${argument}: {type_}" if argument else ""
    passed = f", {argument}: ${argument}" if argument else ""
    return (
        f"mutation S($id: ID!, $note: String, $v: Int{declared}) "
        f"{{ {name}(id: $id, note: $note, expectedVersion: $v{passed}) {{" + RESULT + "} }"
    )


SEND = step("sendReferral")
ACK = step("acknowledgeReferral")
ACCEPT = step("acceptReferral")
DECLINE = step("declineReferral", "reason", "DeclineReason!")
START_ = step("startReferral")
COMPLETE = step("completeReferral", "outcome", "Outcome!")
CANCEL = step("cancelReferral")


@pytest.fixture
async def world(people: dict[str, str], graph: Graph, clock: Clock) -> dict[str, str]:
    """Tokens; B offers trauma therapy in Prizren and answers within 3 days."""
    await directory.build(graph)
    await directory.add_services(
        graph,
        [
            (
                "svc-b",
                directory.service(organisation_id="org-b", expected_response_days=3),
            ),
        ],
    )
    return people


def _input(**overrides: Any) -> dict[str, Any]:
    return {
        "serviceId": "svc-b",
        "destination": "XK-prizren",
        "needs": ["psychosocial.trauma-therapy"],
        "returnType": "VOLUNTARY",
        "targetGroups": ["rae"],
        "household": {"adults": 2, "children": ["AGE_6_14", "AGE_0_2"]},
        "languages": ["sq", "de"],
        "plannedArrival": START.date().isoformat(),
        "documents": ["MEDICAL_RECORDS_TRANSLATED"],
        "health": HEALTH,
        "note": NOTE,
        **overrides,
    }


async def _ok(body: dict[str, Any], field: str) -> dict[str, Any]:
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"][field]
    assert result["__typename"] == "ReferralPayload", result
    referral: dict[str, Any] = result["referral"]
    return referral


async def create(gql: GraphQLClient, token: str, **overrides: Any) -> dict[str, Any]:
    return await _ok(
        await gql(CREATE, {"input": _input(**overrides)}, token=token), "createReferral"
    )


async def consent(
    gql: GraphQLClient,
    token: str,
    referral_id: str,
    categories: list[str],
    expires_on: date | None = None,
) -> dict[str, Any]:
    body = await gql(
        CONSENT,
        {
            "input": {
                "referralId": referral_id,
                "categories": categories,
                "purpose": "referral for trauma therapy after return",
                "evidenceReference": "form 2026-0113 (illustrative)",
                "expiresOn": (expires_on or START.date() + timedelta(days=365)).isoformat(),
            }
        },
        token=token,
    )
    result: dict[str, Any] = body["data"]["grantConsent"]
    return result


ALL = ["NEEDS", "HOUSEHOLD", "HEALTH", "CONTACT", "DOCUMENTS", "NOTES"]


async def sent_referral(gql: GraphQLClient, world: dict[str, str], **overrides: Any) -> str:
    referral = await create(gql, world["counsellor"], **overrides)
    granted = await consent(gql, world["counsellor"], referral["id"], ALL)
    assert granted["__typename"] == "ConsentPayload", granted
    sent = await _ok(
        await gql(SEND, {"id": referral["id"]}, token=world["counsellor"]), "sendReferral"
    )
    assert sent["status"] == "SENT"
    return str(referral["id"])


async def test_the_whole_lifecycle_with_events_and_what_each_side_sees(
    gql: GraphQLClient, world: dict[str, str], clock: Clock
) -> None:
    counsellor, receiver = world["counsellor"], world["partner_b"]
    draft = await create(gql, counsellor)
    assert draft["status"] == "DRAFT"
    assert draft["reference"].startswith(draft["caseReference"] + "-")
    assert draft["health"] == HEALTH
    assert draft["allowedActions"] == ["SEND", "CANCEL"]
    # A draft is not shared yet.
    assert (await gql(READ, {"id": draft["id"]}, token=receiver))["data"]["referral"] is None

    await consent(gql, counsellor, draft["id"], ALL)
    await gql(SEND, {"id": draft["id"]}, token=counsellor)
    seen = (await gql(READ, {"id": draft["id"]}, token=receiver))["data"]["referral"]
    assert seen["viewerSide"] == "RECEIVER"
    assert seen["health"] == HEALTH
    assert seen["household"] == {"adults": 2, "children": ["AGE_6_14", "AGE_0_2"]}
    assert seen["withheldCategories"] == []
    assert seen["contact"] is None  # none was given
    assert seen["allowedActions"] == ["ACKNOWLEDGE", "ACCEPT", "DECLINE"]

    referral_id = draft["id"]
    clock.now = START + timedelta(hours=5)
    await _ok(
        await gql(ACK, {"id": referral_id, "note": "Call booked"}, token=receiver),
        "acknowledgeReferral",
    )
    await _ok(await gql(ACCEPT, {"id": referral_id}, token=receiver), "acceptReferral")
    await _ok(await gql(START_, {"id": referral_id}, token=receiver), "startReferral")
    done = await _ok(
        await gql(COMPLETE, {"id": referral_id, "outcome": "GOT_HELP"}, token=receiver),
        "completeReferral",
    )
    assert done["status"] == "COMPLETED"
    assert done["outcome"] == "GOT_HELP"
    assert [(e["action"], e["fromStatus"], e["toStatus"]) for e in done["events"]] == [
        ("create", None, "DRAFT"),
        ("send", "DRAFT", "SENT"),
        ("acknowledge", "SENT", "ACKNOWLEDGED"),
        ("accept", "ACKNOWLEDGED", "ACCEPTED"),
        ("start", "ACCEPTED", "IN_PROGRESS"),
        ("complete", "IN_PROGRESS", "COMPLETED"),
    ]
    assert done["events"][2]["note"] == "Call booked"
    assert done["events"][2]["actor"] == "user-partner_b"
    assert done["allowedActions"] == []

    # The sender sees the whole history too.
    history = (await gql(READ, {"id": referral_id}, token=counsellor))["data"]["referral"]
    assert [e["toStatus"] for e in history["events"]][-1] == "COMPLETED"

    # Closing the loop: the service's responsiveness is kept on the service for counsellors.
    responsiveness = (
        'query { service(id: "svc-b") { responsiveness { referralsReceived ackMedianHours '
        "acceptanceRate feedbackRate } } }"
    )
    # One referral's outcome is one family's: the public sees nothing until the service has
    # received the smallest count published anywhere (core.disclosure).
    anonymous = await gql(responsiveness)
    assert anonymous["data"]["service"]["responsiveness"] is None
    body = await gql(responsiveness, token=counsellor)
    assert body["data"]["service"]["responsiveness"] == {
        "referralsReceived": 1,
        "ackMedianHours": 5.0,
        "acceptanceRate": 1.0,
        "feedbackRate": 1.0,
    }


async def test_sending_needs_consent_for_everything_the_referral_carries(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    counsellor = world["counsellor"]
    referral = await create(gql, counsellor, contact=CONTACT)
    await consent(gql, counsellor, referral["id"], ["NEEDS", "HOUSEHOLD"])
    refused = (await gql(SEND, {"id": referral["id"]}, token=counsellor))["data"]["sendReferral"]
    assert refused["__typename"] == "ConsentMissingError"
    # Spelt as the consent inputs spell them.
    assert refused["missingCategories"] == ["CONTACT", "DOCUMENTS", "HEALTH", "NOTES"]
    after = (await gql(READ, {"id": referral["id"]}, token=counsellor))["data"]["referral"]
    assert after["status"] == "DRAFT"
    assert after["version"] == referral["version"]  # nothing written, not even the lock

    await consent(gql, counsellor, referral["id"], ["CONTACT", "DOCUMENTS", "HEALTH", "NOTES"])
    sent = (await gql(SEND, {"id": referral["id"]}, token=counsellor))["data"]["sendReferral"]
    assert sent["__typename"] == "ReferralPayload"


async def test_an_expired_consent_does_not_count(
    gql: GraphQLClient, world: dict[str, str], clock: Clock
) -> None:
    counsellor = world["counsellor"]
    referral = await create(gql, counsellor)
    past = await consent(gql, counsellor, referral["id"], ALL, START.date())
    assert past["__typename"] == "ValidationError"
    assert past["fields"][0]["field"] == "input.expiresOn"
    await consent(gql, counsellor, referral["id"], ALL, START.date() + timedelta(days=10))
    clock.now = START + timedelta(days=10)
    refused = (await gql(SEND, {"id": referral["id"]}, token=counsellor))["data"]["sendReferral"]
    assert refused["__typename"] == "ConsentMissingError"


async def test_revoking_consent_withdraws_the_receivers_access_at_once(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    referral_id = await sent_referral(gql, world)
    before = (await gql(READ, {"id": referral_id}, token=world["partner_b"]))["data"]["referral"]
    assert before["health"] == HEALTH
    consent_id = before["consents"][0]["id"]

    revoked = await gql(REVOKE, {"id": consent_id}, token=world["counsellor"])
    assert revoked["data"]["revokeConsent"]["consent"]["valid"] is False

    after = (await gql(READ, {"id": referral_id}, token=world["partner_b"]))["data"]["referral"]
    assert after["health"] is None
    assert after["note"] is None
    assert after["household"] is None
    assert after["needs"] == []
    assert set(after["withheldCategories"]) == {
        "NEEDS",
        "HOUSEHOLD",
        "HEALTH",
        "CONTACT",
        "DOCUMENTS",
        "NOTES",
    }
    assert after["status"] == "SENT"  # the referral itself stays, without the personal data
    # The sender still sees what it recorded.
    own = (await gql(READ, {"id": referral_id}, token=world["counsellor"]))["data"]["referral"]
    assert own["health"] == HEALTH
    # The receiver cannot revoke on the returnee's behalf: only the sending side records consent.
    by_receiver = await gql(REVOKE, {"id": consent_id}, token=world["partner_b"])
    assert by_receiver["data"]["revokeConsent"]["__typename"] == "ForbiddenError"


async def test_only_the_two_organisations_see_a_referral(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    referral_id = await sent_referral(gql, world)
    # A partner of the sending organisation is not its counsellor; coordinator and admin see
    # counts only.
    for name in ("partner", "coordinator", "admin"):
        body = await gql(READ, {"id": referral_id}, token=world[name])
        assert body["data"] is None or body["data"]["referral"] is None, name
    listed = await gql(LIST, {}, token=world["partner"])
    assert listed["data"]["referrals"]["nodes"] == []
    coordinator = await gql(LIST, {}, token=world["coordinator"])
    assert coordinator["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # The wrong side of a referral cannot take the other side's steps.
    by_sender = await gql(ACK, {"id": referral_id}, token=world["counsellor"])
    assert by_sender["data"]["acknowledgeReferral"]["__typename"] == "ForbiddenError"
    by_receiver = await gql(CANCEL, {"id": referral_id}, token=world["partner_b"])
    assert by_receiver["data"]["cancelReferral"]["__typename"] == "ForbiddenError"
    # A partner of another organisation does not even learn that it exists.
    outsider = await gql(ACK, {"id": referral_id}, token=world["partner"])
    assert outsider["data"]["acknowledgeReferral"]["__typename"] == "NotFoundError"


async def test_an_illegal_step_names_the_state_and_the_allowed_ones(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    referral_id = await sent_referral(gql, world)
    body = await gql(COMPLETE, {"id": referral_id, "outcome": "GOT_HELP"}, token=world["partner_b"])
    refused = body["data"]["completeReferral"]
    assert refused["__typename"] == "IllegalTransitionError"
    assert refused["currentStatus"] == "sent"
    assert refused["allowedActions"] == ["acknowledge", "accept", "decline", "cancel"]
    stale = await gql(ACK, {"id": referral_id, "v": 1}, token=world["partner_b"])
    assert stale["data"]["acknowledgeReferral"]["__typename"] == "VersionConflictError"


async def test_overdue_when_not_acknowledged_in_the_services_time(
    gql: GraphQLClient, world: dict[str, str], clock: Clock
) -> None:
    referral_id = await sent_referral(gql, world)
    clock.now = START + timedelta(days=2)
    assert (await gql(READ, {"id": referral_id}, token=world["counsellor"]))["data"]["referral"][
        "overdue"
    ] is False
    clock.now = START + timedelta(days=3, minutes=1)
    overdue = await gql(LIST, {"overdue": True}, token=world["counsellor"])
    assert [n["id"] for n in overdue["data"]["referrals"]["nodes"]] == [referral_id]
    await gql(ACK, {"id": referral_id}, token=world["partner_b"])
    overdue = await gql(LIST, {"overdue": True}, token=world["counsellor"])
    assert overdue["data"]["referrals"]["nodes"] == []


async def test_follow_ups_fall_due_after_arrival_and_are_recorded(
    gql: GraphQLClient, world: dict[str, str], clock: Clock
) -> None:
    referral_id = await sent_referral(gql, world)
    await gql(ACCEPT, {"id": referral_id}, token=world["partner_b"])
    clock.now = START + timedelta(days=32)
    due = await gql(LIST, {"due": True}, token=world["partner_b"])
    assert [n["id"] for n in due["data"]["referrals"]["nodes"]] == [referral_id]

    visit = {
        "referralId": referral_id,
        "monthsAfterArrival": 1,
        "visitedOn": (START.date() + timedelta(days=31)).isoformat(),
        "employment": "UNEMPLOYED",
        "schooling": "ALL_CHILDREN",
        "healthCareAccess": "YES",
        "housing": "TEMPORARY",
        "feelsSafe": "PARTLY",
        "intendsToLeave": "UNDECIDED",
        "note": "Children enrolled at the local primary school",
    }
    recorded = await _ok(
        await gql(FOLLOW_UP, {"input": visit}, token=world["partner_b"]), "recordFollowUp"
    )
    assert recorded["followUps"][0]["employment"] == "UNEMPLOYED"
    assert recorded["followUps"][0]["recordedByOrganisationId"] == "org-b"
    assert recorded["followUpsDue"] == []
    assert (await gql(LIST, {"due": True}, token=world["partner_b"]))["data"]["referrals"][
        "nodes"
    ] == []
    clock.now = START + timedelta(days=92)
    seen = (await gql(READ, {"id": referral_id}, token=world["counsellor"]))["data"]["referral"]
    assert seen["followUpsDue"] == [3]
    assert seen["followUps"][0]["note"] == "Children enrolled at the local primary school"


async def test_a_follow_up_before_acceptance_is_refused(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    referral_id = await sent_referral(gql, world)
    visit = {"referralId": referral_id, "monthsAfterArrival": 1, "visitedOn": "2026-01-10"}
    body = await gql(FOLLOW_UP, {"input": visit}, token=world["counsellor"])
    assert body["data"]["recordFollowUp"]["__typename"] == "IllegalTransitionError"


async def test_could_not_contact_flags_the_service_for_reverification(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    referral_id = await sent_referral(gql, world)
    await gql(ACCEPT, {"id": referral_id}, token=world["partner_b"])
    await gql(
        COMPLETE, {"id": referral_id, "outcome": "COULD_NOT_CONTACT"}, token=world["partner_b"]
    )
    body = await gql('query { service(id: "svc-b") { reverificationReason } }')
    assert (
        body["data"]["service"]["reverificationReason"] == "a referral could not reach the service"
    )


async def test_decline_needs_a_reason_and_no_capacity_flags_the_service(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    referral_id = await sent_referral(gql, world)
    declined = await _ok(
        await gql(
            DECLINE,
            {"id": referral_id, "reason": "NO_CAPACITY", "note": "Waiting list"},
            token=world["partner_b"],
        ),
        "declineReferral",
    )
    assert declined["declineReason"] == "NO_CAPACITY"
    assert declined["status"] == "DECLINED"
    body = await gql('query { service(id: "svc-b") { reverificationReason } }')
    assert "capacity" in body["data"]["service"]["reverificationReason"]


async def test_personal_data_is_encrypted_at_rest_and_never_logged(
    gql: GraphQLClient, world: dict[str, str], graph: Graph, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    referral_id = await sent_referral(gql, world, contact=CONTACT)
    await gql(ACK, {"id": referral_id, "note": NOTE}, token=world["partner_b"])
    async with graph.driver.session(database=graph.database) as session:
        result = await session.run(
            "MATCH (x) WHERE x:Referral OR x:ReferralEvent RETURN properties(x) AS p"
        )
        stored = " ".join([str(r["p"]) async for r in result])
    for secret in (HEALTH, CONTACT, NOTE, "insulin", "+383"):
        assert secret not in stored
        assert secret not in caplog.text


async def test_retention_purge_erases_personal_data_and_keeps_the_counts(
    gql: GraphQLClient, world: dict[str, str], graph: Graph, clock: Clock
) -> None:
    referral_id = await sent_referral(gql, world, contact=CONTACT)
    open_id = await sent_referral(gql, world)
    await gql(DECLINE, {"id": referral_id, "reason": "NOT_ELIGIBLE"}, token=world["partner_b"])

    assert await graph.write(purge_closed, now=START + timedelta(days=364), retention_days=365) == 0
    assert await graph.write(purge_closed, now=START + timedelta(days=366), retention_days=365) == 1
    purged = (await gql(READ, {"id": referral_id}, token=world["counsellor"]))["data"]["referral"]
    assert (purged["health"], purged["contact"], purged["note"], purged["documents"]) == (
        None,
        None,
        None,
        [],
    )
    assert purged["purgedAt"] is not None
    assert purged["status"] == "DECLINED"
    assert purged["needs"] == [{"code": "psychosocial.trauma-therapy"}]
    still_open = (await gql(READ, {"id": open_id}, token=world["counsellor"]))["data"]["referral"]
    assert still_open["health"] == HEALTH  # open referrals are never purged

    stats = await gql(
        'query { referralStatistics(since: "2026-01-01", until: "2026-02-01") '
        "{ total byStatus { key count } byNeed { key count } } }",
        token=world["coordinator"],
    )
    counts = stats["data"]["referralStatistics"]
    # Two is below the disclosure threshold: the cells are suppressed, and so is the total.
    assert counts["total"] is None
    assert counts["byNeed"] == [{"key": "psychosocial.trauma-therapy", "count": None}]


CONSENT_TEXT = """
MATCH (c:Consent)-[:GIVEN_TO]->(:Organisation)
WHERE EXISTS { MATCH (r:Referral {id: $id}) WHERE r.case_reference = c.case_reference }
RETURN c {.*} AS c
"""
CONSENTS = "query($id: ID!) { referral(id: $id) { consents { purpose evidenceReference } } }"


async def test_consent_free_text_is_encrypted_and_purged_with_the_referral(
    gql: GraphQLClient, world: dict[str, str], graph: Graph, app: FastAPI
) -> None:
    referral_id = await sent_referral(gql, world)

    async def stored() -> dict[str, Any]:
        async def read(tx: AsyncManagedTransaction) -> dict[str, Any]:
            record = await (await tx.run(CONSENT_TEXT, id=referral_id)).single(strict=True)
            return dict(record["c"])

        return await graph.read(read)

    props = await stored()
    assert "purpose" not in props
    assert "evidence_reference" not in props
    text = " ".join(str(v) for v in props.values())
    assert "trauma therapy" not in text
    assert "form 2026-0113" not in text
    assert app.state.cipher.decrypt(props["purpose_enc"]) == (
        "referral for trauma therapy after return"
    )
    read = await gql(CONSENTS, {"id": referral_id}, token=world["counsellor"])
    assert read["data"]["referral"]["consents"] == [
        {
            "purpose": "referral for trauma therapy after return",
            "evidenceReference": "form 2026-0113 (illustrative)",
        }
    ]

    await gql(DECLINE, {"id": referral_id, "reason": "NOT_ELIGIBLE"}, token=world["partner_b"])
    assert await graph.write(purge_closed, now=START + timedelta(days=366), retention_days=365) == 1
    props = await stored()
    assert not {"purpose_enc", "evidence_enc", "purpose", "evidence_reference"} & set(props)
    read = await gql(CONSENTS, {"id": referral_id}, token=world["counsellor"])
    assert read["data"]["referral"]["consents"] == [{"purpose": "", "evidenceReference": ""}]


async def test_steps_and_overdue_reach_the_webhooks_signed_and_without_personal_data(
    gql: GraphQLClient,
    world: dict[str, str],
    graph: Graph,
    clock: Clock,
    receiver: Receiver,
    app: FastAPI,
) -> None:
    cipher = app.state.cipher
    subscribed = await graph.write(
        create_subscription,
        id="hook-b",
        data=SubscriptionInput(
            organisation_id="org-b",
            url=receiver.url,
            events=[WebhookEvent.REFERRAL_SENT, WebhookEvent.REFERRAL_OVERDUE],
        ),
        cipher=cipher,
        actor=SYSTEM,
        allowed_organisations=None,
    )
    referral_id = await sent_referral(gql, world, contact=CONTACT)
    clock.now = START + timedelta(days=4)
    assert await graph.write(announce_overdue, now=clock.now) == 1
    assert await graph.write(announce_overdue, now=clock.now) == 0  # announced once
    async with delivery_client(allowed_networks=RECEIVER_NETWORKS) as http:
        delivered = await deliver_due(graph, now=clock.now, cipher=cipher, client=http)
    assert delivered.delivered == 2
    events = [r.headers["x-homeward-event"] for r in receiver.requests]
    assert events == ["referral.sent", "referral.overdue"]
    for request in receiver.requests:
        assert verify_signature(
            subscribed.secret,
            request.headers["x-homeward-timestamp"],
            request.body,
            request.headers["x-homeward-signature"],
            max_age_s=None,
        )
        body = json.loads(request.body)
        assert body["data"]["referral_id"] == referral_id
        for secret in (HEALTH, CONTACT, NOTE, "psychosocial"):
            assert secret not in request.body.decode()


GAPS = """
query { serviceGaps(areaId: "XK-prizren", needs: ["psychosocial.trauma-therapy"],
                    since: "2000-01-01", until: "2100-01-01") {
  areaId demand supply unmet listedNotCounted notCounted { reason services }
} }
"""
VERIFY = """mutation V($id: ID!) { verifyService(id: $id) { __typename } }"""


async def test_no_capacity_declines_take_the_service_out_of_supply_until_verified(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    await gql(VERIFY, {"id": "svc-b"}, token=world["partner_b"])
    [cell] = (await gql(GAPS, token=world["coordinator"]))["data"]["serviceGaps"]
    assert (cell["supply"], cell["listedNotCounted"]) == (1, 0)

    for _ in range(3):
        referral_id = await sent_referral(gql, world)
        await gql(DECLINE, {"id": referral_id, "reason": "NO_CAPACITY"}, token=world["partner_b"])
    [cell] = (await gql(GAPS, token=world["coordinator"]))["data"]["serviceGaps"]
    assert cell["demand"] == 3
    assert cell["supply"] == 0
    assert cell["unmet"] is True
    assert cell["notCounted"] == [{"reason": "flagged", "services": 1}]

    # Confirmed again by its organisation, it counts again.
    await gql(VERIFY, {"id": "svc-b"}, token=world["partner_b"])
    [cell] = (await gql(GAPS, token=world["coordinator"]))["data"]["serviceGaps"]
    assert (cell["supply"], cell["unmet"]) == (1, False)


OVERLAPS = """
query { serviceOverlaps(areaId: "XK-prizren", need: "psychosocial.trauma-therapy") {
  organisations services { serviceId counted notCountedBecause }
} }
"""


async def test_a_service_flagged_after_no_capacity_no_longer_makes_an_overlap(
    gql: GraphQLClient, graph: Graph, world: dict[str, str]
) -> None:
    # KRCT and APRK offer the same trauma therapy in Prizren as B: three organisations.
    await directory.add_services(
        graph,
        [
            ("svc-krct", directory.service()),
            ("svc-aprk", directory.service(organisation_id="org-aprk")),
        ],
    )
    for service in ("svc-b", "svc-krct", "svc-aprk"):
        verified = await gql(VERIFY, {"id": service}, token=world["admin"])
        assert verified["data"]["verifyService"]["__typename"] == "ServicePayload", verified
    [overlap] = (await gql(OVERLAPS, token=world["coordinator"]))["data"]["serviceOverlaps"]
    assert overlap["organisations"] == 3

    for _ in range(3):
        referral_id = await sent_referral(gql, world)
        await gql(DECLINE, {"id": referral_id, "reason": "NO_CAPACITY"}, token=world["partner_b"])
    # B cannot take a referral now: two organisations duplicate each other, and B is listed
    # apart with the reason.
    [overlap] = (await gql(OVERLAPS, token=world["coordinator"]))["data"]["serviceOverlaps"]
    assert overlap["organisations"] == 2
    assert overlap["services"][-1] == {
        "serviceId": "svc-b",
        "counted": False,
        "notCountedBecause": "flagged",
    }

    # KRCT full as well: APRK alone is left, which duplicates nobody.
    full = await gql(
        'mutation { setServiceCapacity(id: "svc-krct", capacity: FULL) { __typename } }',
        token=world["admin"],
    )
    assert full["data"]["setServiceCapacity"]["__typename"] == "ServicePayload", full
    assert (await gql(OVERLAPS, token=world["coordinator"]))["data"]["serviceOverlaps"] == []

    # Confirmed again by its organisation, B counts again, and the overlap is back.
    await gql(VERIFY, {"id": "svc-b"}, token=world["partner_b"])
    [overlap] = (await gql(OVERLAPS, token=world["coordinator"]))["data"]["serviceOverlaps"]
    assert overlap["organisations"] == 2


async def test_statistics_until_includes_the_whole_of_that_day(
    gql: GraphQLClient, world: dict[str, str]
) -> None:
    await sent_referral(gql, world)  # sent on 10 January 2026, at 09:00
    day = START.date().isoformat()
    # One referral is a small count (None); none is 0.
    for since, until, total in ((day, day, None), ("2026-01-01", "2026-01-09", 0)):
        stats = await gql(
            "query Q($s: Date!, $u: Date!) { referralStatistics(since: $s, until: $u) { total } }",
            {"s": since, "u": until},
            token=world["coordinator"],
        )
        assert stats["data"]["referralStatistics"]["total"] == total, (since, until)


ISSUE_FOR = """
mutation($user: ID!) { issueToken(userId: $user, days: 7) {
  __typename ... on IssuedToken { token apiToken { id } } } }
"""
NOTICES = """query($id: ID!) { referral(id: $id) {
  health accessNotices { userId tokenId issuedBy } } }"""


async def test_a_break_glass_read_leaves_a_notice_the_organisation_sees(
    gql: GraphQLClient, world: dict[str, str], graph: Graph
) -> None:
    """Who may read a referral's contents: counsellors of the sender and partners of the
    receiver, within consent. An admin of another organisation can mint a token for one of
    them, but every referral read through it says so on the referral and in the trail."""
    referral_id = await sent_referral(gql, world)
    # The admin (of A) alone reads no referral.
    refused = await gql(NOTICES, {"id": referral_id}, token=world["admin"])
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    issued = (await gql(ISSUE_FOR, {"user": "user-partner_b"}, token=world["admin"]))["data"]
    glass, token_id = issued["issueToken"]["token"], issued["issueToken"]["apiToken"]["id"]
    read = (await gql(NOTICES, {"id": referral_id}, token=glass))["data"]["referral"]
    assert read["health"] == HEALTH  # the power stays...
    notice = {"userId": "user-partner_b", "tokenId": token_id, "issuedBy": "user-admin"}
    assert read["accessNotices"] == [notice]  # ...but not unseen
    await gql(NOTICES, {"id": referral_id}, token=glass)  # one notice per token
    own = (await gql(NOTICES, {"id": referral_id}, token=world["partner_b"]))["data"]
    assert own["referral"]["accessNotices"] == [notice]
    sender = (await gql(NOTICES, {"id": referral_id}, token=world["counsellor"]))["data"]
    assert sender["referral"]["accessNotices"] == [notice]
    trail = await gql(
        "query($id: ID) { auditEvents(entityId: $id) { nodes { action actor organisationId } } }",
        {"id": referral_id},
        token=world["partner_b"],
    )
    reads = [e for e in trail["data"]["auditEvents"]["nodes"] if e["action"] == "break_glass_read"]
    assert reads == [
        {"action": "break_glass_read", "actor": "user-partner_b", "organisationId": "org-b"}
    ]

    # An organisation's own admin handing a token to its member is no break-glass.
    await graph.write(
        create_user,
        id="user-admin_b",
        data=UserInput(
            email="admin_b@example.org",
            display_name="admin_b",
            organisation_id="org-b",
            role=Role.ADMIN,
        ),
    )
    admin_b, admin_b_id, admin_b_hash = new_token()
    await graph.write(
        issue_token,
        user_id="user-admin_b",
        token_id=admin_b_id,
        secret_hash=admin_b_hash,
        label=None,
        expires_at=None,
    )
    handed = (await gql(ISSUE_FOR, {"user": "user-partner_b"}, token=admin_b))["data"]
    await gql(NOTICES, {"id": referral_id}, token=handed["issueToken"]["token"])
    after = (await gql(NOTICES, {"id": referral_id}, token=world["partner_b"]))["data"]
    assert after["referral"]["accessNotices"] == [notice]


PAGE = """
query ($first: Int, $after: String) {
  referrals(first: $first, after: $after) {
    nodes { id } pageInfo { hasNextPage endCursor }
  }
}
"""


async def test_the_list_pages_newest_first_without_gaps_or_repeats(
    gql: GraphQLClient, world: dict[str, str], clock: Clock
) -> None:
    made = []
    for minutes in (0, 1, 1, 2, 3):  # two made at the same moment: the id decides their order
        clock.now = START + timedelta(minutes=minutes)
        made.append((clock.now, (await create(gql, world["counsellor"]))["id"]))
    expected = [i for _, i in sorted(made, reverse=True)]
    seen: list[str] = []
    after = None
    for _ in range(5):
        body = await gql(PAGE, {"first": 2, "after": after}, token=world["counsellor"])
        page = body["data"]["referrals"]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected
    # The receiving partner sees none of them: drafts are not shared.
    body = await gql(PAGE, {"first": 2}, token=world["partner_b"])
    assert body["data"]["referrals"]["nodes"] == []
