"""Account and token administration is audited, and an organisation sees in its own audit
trail when an administrator added someone to it or minted a token for one of its members; an
admin invites a person by mail (through a real SMTP server on the loopback)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from api.mail_delivery import deliver_mail_due
from core.clock import utcnow
from core.crypto import cipher_from_settings
from core.settings import Settings
from graph.driver import Graph
from graph.pagination import encode_cursor
from tests.api.graphql.conftest import GraphQLClient
from tests.conftest import serve
from tests.smtp import MailServer

CREATE = """
mutation($input: CreateUserInput!) { createUser(input: $input) {
  __typename ... on UserPayload { user { id } } } }
"""
DISABLE = """
mutation($id: ID!, $d: Boolean!) { setUserDisabled(id: $id, disabled: $d) { __typename } }
"""
ISSUE = """
mutation($user: ID!) { issueToken(userId: $user, days: 7, label: "support") {
  __typename ... on IssuedToken { token apiToken { id } } } }
"""
REVOKE = "mutation($id: ID!) { revokeToken(id: $id) { __typename } }"
AUDIT = """
query($id: ID) { auditEvents(entityId: $id) { nodes {
  action actor entity organisationId changes { field replacement } } } }
"""


async def _trail(gql: GraphQLClient, token: str, entity_id: str) -> list[dict[str, Any]]:
    body = await gql(AUDIT, {"id": entity_id}, token=token)
    events: list[dict[str, Any]] = body["data"]["auditEvents"]["nodes"]
    return events


async def test_an_account_added_by_an_admin_shows_in_the_organisations_trail(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    shadow = {
        "email": "shadow@example.org",
        "displayName": "Shadow",
        "organisationId": "org-b",
        "role": "PARTNER",
    }
    created = await gql(CREATE, {"input": shadow}, token=people["admin"])
    user_id = created["data"]["createUser"]["user"]["id"]

    events = await _trail(gql, people["partner_b"], user_id)
    assert [(e["action"], e["actor"], e["organisationId"]) for e in events] == [
        ("create_user", "user-admin", "org-b")
    ]
    assert {"field": "role", "replacement": '"partner"'} in events[0]["changes"]
    # Organisation A's members do not see B's staff.
    assert await _trail(gql, people["partner"], user_id) == []


async def test_a_token_minted_for_someone_else_is_a_visible_break_glass(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    issued = await gql(ISSUE, {"user": "user-partner_b"}, token=people["admin"])
    token_id = issued["data"]["issueToken"]["apiToken"]["id"]
    await gql(REVOKE, {"id": token_id}, token=people["admin"])
    # The organisation's own member sees it in its trail.
    seen = await _trail(gql, people["partner_b"], "user-partner_b")
    assert [(e["action"], e["actor"]) for e in seen] == [
        ("revoke_token", "user-admin"),
        ("issue_token", "user-admin"),
    ]

    await gql(DISABLE, {"id": "user-partner_b", "d": True}, token=people["admin"])
    events = await _trail(gql, people["admin"], "user-partner_b")
    assert [(e["action"], e["organisationId"]) for e in events] == [
        ("disable_user", "org-b"),
        ("revoke_token", "org-b"),
        ("issue_token", "org-b"),
    ]
    issue = {c["field"]: c["replacement"] for c in events[2]["changes"]}
    assert issue["for_another_account"] == "true"
    assert issue["token_id"] == f'"{token_id}"'
    assert issue["label"] == '"support"'


@pytest.mark.parametrize("instant", ["not a date", "2026-13-45T00:00:00+00:00", "2026-01-01"])
async def test_a_crafted_audit_cursor_is_a_validation_error_not_a_500(
    gql: GraphQLClient, people: dict[str, str], instant: str
) -> None:
    cursor = encode_cursor(instant, "event-1")
    body = await gql(
        "query($after: String) { auditEvents(after: $after) { nodes { id } } }",
        {"after": cursor},
        token=people["admin"],
    )
    (error,) = body["errors"]
    assert error["extensions"]["code"] != "INTERNAL_SERVER_ERROR", error
    assert "not a cursor returned by this API" in error["message"]


INVITE = """
mutation I($id: ID!) { inviteUser(userId: $id) {
  __typename
  ... on InvitationPayload { user { email } expiresAt }
  ... on ValidationError { fields { field message } }
  ... on NotFoundError { entity }
} }
"""


async def test_an_admin_invites_a_person_by_mail(
    people: dict[str, str], graph: Graph, mail_server: MailServer, test_settings: Settings
) -> None:
    settings = mail_server.settings(test_settings)
    async with serve(settings) as client:
        gql = GraphQLClient(client)
        sent = (await gql(INVITE, {"id": "user-partner_b"}, token=people["admin"]))["data"]
        assert sent["inviteUser"]["__typename"] == "InvitationPayload"
        assert sent["inviteUser"]["user"]["email"] == "partner_b@example.org"
        missing = await gql(INVITE, {"id": "user-nobody"}, token=people["admin"])
        assert missing["data"]["inviteUser"] == {"__typename": "NotFoundError", "entity": "user"}

        report = await deliver_mail_due(
            graph, now=utcnow(), settings=settings, cipher=cipher_from_settings(settings)
        )
        assert report.delivered == 1
        (mail,) = mail_server.arrived
        assert mail.recipients == ["partner_b@example.org"]
        assert mail.subject == "Homeward: your account is ready"
        link = re.search(r"https://homeward\.example\.org/app/password/(hwp_\S+)", mail.body)
        assert link is not None, mail.body
        page = await client.get(f"/app/password/{link.group(1)}")
        assert page.status_code == 200
        assert "partner_b@example.org" in page.text


async def test_without_a_mail_server_an_invitation_is_refused_naming_the_field(
    people: dict[str, str], client: httpx.AsyncClient
) -> None:
    body = await GraphQLClient(client)(INVITE, {"id": "user-partner"}, token=people["admin"])
    result = body["data"]["inviteUser"]
    assert result["__typename"] == "ValidationError"
    assert [f["field"] for f in result["fields"]] == ["userId"]
