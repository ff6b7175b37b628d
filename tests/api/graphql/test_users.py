"""Account and token administration is audited, and an organisation sees in its own audit
trail when an administrator added someone to it or minted a token for one of its members."""

from __future__ import annotations

from typing import Any

import pytest

from graph.pagination import encode_cursor
from tests.api.graphql.conftest import GraphQLClient

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
