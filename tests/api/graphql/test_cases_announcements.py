"""Every change of a return case leaves an audit event and webhook notifications, in its own
transaction, without personal data: opening, editing, handing to a colleague, consent,
phase and whereabouts, a visit, closing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from graph.driver import Graph
from graph.users import Role
from tests.api.graphql.conftest import START, GraphQLClient
from tests.api.graphql.test_cases import (
    CONSENT,
    REVOKE,
    STATUS,
    UPDATE,
    VISIT,
    _case_input,
    _ok,
    _open,
    _refer,
    _user,
    world,  # noqa: F401 (the fixture)
)
from tests.api.graphql.test_referrals import SEND
from tests.api.graphql.test_webhooks import CREATE as SUBSCRIBE
from tests.api.graphql.test_webhooks import DELIVERIES

CASE_EVENTS = [
    "CASE_OPENED",
    "CASE_UPDATED",
    "CASE_TRANSFERRED",
    "CASE_STATUS_CHANGED",
    "CASE_FOLLOW_UP_RECORDED",
    "CASE_CONSENT_CHANGED",
    "CASE_CLOSED",
]
AUDIT = """
query A($id: ID!) {
  auditEvents(entityId: $id, first: 50) {
    nodes { action actor entity organisationId changes { field previous replacement } }
  }
}
"""
NOTE = "Mother prefers a female therapist (illustrative)"


async def _subscribe(gql: GraphQLClient, token: str, organisation: str) -> None:
    body = await gql(
        SUBSCRIBE,
        {
            "input": {
                "organisationId": organisation,
                "url": f"https://{organisation}.example.org/hooks",
                "events": CASE_EVENTS,
            }
        },
        token=token,
    )
    assert body["data"]["createWebhookSubscription"]["__typename"] == (
        "CreatedWebhookSubscription"
    ), body


async def _deliveries(gql: GraphQLClient, token: str, organisation: str) -> list[dict[str, Any]]:
    body = await gql(DELIVERIES, {"org": organisation, "first": 100}, token=token)
    assert "errors" not in body, body
    nodes: list[dict[str, Any]] = body["data"]["webhookDeliveries"]["nodes"]
    return nodes


async def test_every_change_of_a_case_is_audited_and_announced_without_personal_data(
    gql: GraphQLClient,
    world: dict[str, str],  # noqa: F811
    graph: Graph,
) -> None:
    counsellor = world["counsellor"]
    await _user(graph, "colleague", "org-a", Role.COUNSELLOR)
    await _subscribe(gql, counsellor, "org-a")
    await _subscribe(gql, world["partner_b"], "org-b")

    case = await _open(gql, counsellor)
    case_id = case["id"]
    edited = _ok(
        await gql(
            UPDATE,
            {
                "id": case_id,
                "input": _case_input(languages=["sq"], responsibleUserId="user-colleague"),
                "v": case["version"],
            },
            token=counsellor,
        ),
        "updateReturnCase",
    )
    referral = await _refer(gql, counsellor, case_id, "svc-b", ["psychosocial.trauma-therapy"])
    granted = await gql(
        CONSENT,
        {
            "input": {
                "caseId": case_id,
                "recipients": ["org-b"],
                "categories": ["NEEDS", "HOUSEHOLD"],
                "purpose": "support after return",
                "evidenceReference": "form 7 (illustrative)",
                "expiresOn": (START.date() + timedelta(days=90)).isoformat(),
            }
        },
        token=counsellor,
    )
    consent_id = granted["data"]["grantCaseConsent"]["consent"]["id"]
    await gql(SEND, {"id": referral["id"]}, token=counsellor)
    arrived = _ok(
        await gql(
            STATUS,
            {"input": {"caseId": case_id, "whereabouts": "IN_DESTINATION", "note": NOTE}},
            token=counsellor,
        ),
        "recordCaseStatus",
    )
    assert arrived["phase"] == "ARRIVED"
    _ok(
        await gql(
            VISIT,
            {
                "input": {
                    "caseId": case_id,
                    "monthsAfterArrival": 0,
                    "visitedOn": START.date().isoformat(),
                    "whereabouts": "IN_DESTINATION",
                    "note": NOTE,
                }
            },
            token=world["partner_b"],
        ),
        "recordCaseFollowUp",
    )
    _ok(
        await gql(STATUS, {"input": {"caseId": case_id, "phase": "CLOSED"}}, token=counsellor),
        "recordCaseStatus",
    )
    await gql(REVOKE, {"id": consent_id}, token=counsellor)
    await gql(REVOKE, {"id": consent_id}, token=counsellor)  # again: nothing new to tell
    assert edited["version"] == case["version"] + 1

    audit = (await gql(AUDIT, {"id": case_id}, token=counsellor))["data"]["auditEvents"]["nodes"]
    assert sorted(e["action"] for e in audit) == sorted(
        [
            "open",
            "update",
            "transfer",
            "grant_consent",
            "status",
            "follow_up",
            "close",
            "revoke_consent",
        ]
    )
    assert {(e["entity"], e["organisationId"]) for e in audit} == {("return_case", "org-a")}
    by_action = {e["action"]: {c["field"]: c for c in e["changes"]} for e in audit}
    # A personal field is named as changed, its values are not kept.
    assert by_action["update"]["languages"] == {
        "field": "languages",
        "previous": "null",
        "replacement": "null",
    }
    assert set(by_action["update"]) == {"languages"}
    assert by_action["transfer"]["responsible_user_id"]["replacement"] == '"user-colleague"'
    assert by_action["status"]["phase"]["previous"] == '"preparing"'
    assert by_action["status"]["phase"]["replacement"] == '"arrived"'
    assert by_action["close"]["phase"]["replacement"] == '"closed"'
    assert by_action["follow_up"]["months_after_arrival"]["replacement"] == "0"
    everything = json.dumps(audit)
    for secret in (NOTE, "Mother prefers", "support after return", "form 7", "M-2026-0042"):
        assert secret not in everything

    owner = await _deliveries(gql, counsellor, "org-a")
    assert sorted(d["event"] for d in owner) == sorted(
        [
            "CASE_OPENED",
            "CASE_UPDATED",
            "CASE_TRANSFERRED",
            "CASE_CONSENT_CHANGED",
            "CASE_STATUS_CHANGED",
            "CASE_FOLLOW_UP_RECORDED",
            "CASE_CLOSED",
            "CASE_CONSENT_CHANGED",
        ]
    )
    # The receiving partner hears of the case from the consent naming it on.
    partner = await _deliveries(gql, world["partner_b"], "org-b")
    assert sorted(d["event"] for d in partner) == sorted(
        [
            "CASE_CONSENT_CHANGED",
            "CASE_STATUS_CHANGED",
            "CASE_FOLLOW_UP_RECORDED",
            "CASE_CLOSED",
            "CASE_CONSENT_CHANGED",
        ]
    )
    for delivery in owner + partner:
        payload = json.loads(delivery["payload"])
        assert set(payload) == {
            "case_id",
            "reference",
            "organisation_id",
            "phase",
            "previous_phase",
            "occurred_at",
        }
        assert payload["case_id"] == case_id
        assert payload["reference"] == case["reference"]
    closed = next(json.loads(d["payload"]) for d in owner if d["event"] == "CASE_CLOSED")
    assert (closed["phase"], closed["previous_phase"]) == ("closed", "arrived")
