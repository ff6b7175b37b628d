"""Members (counsellors, partners) manage their own organisation's webhooks; nobody else does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from graph.driver import Graph
from graph.webhooks import WebhookEvent, enqueue
from tests.api.graphql.conftest import GraphQLClient

SUBSCRIPTION = "id organisationId url events active createdBy"
CREATE = (
    "mutation C($input: WebhookSubscriptionInput!) { createWebhookSubscription(input: $input) {"
    "  __typename"
    "  ... on CreatedWebhookSubscription { secret subscription { " + SUBSCRIPTION + " } }"
    "  ... on ForbiddenError { message }"
    "  ... on NotFoundError { entity id }"
    "  ... on ValidationError { fields { field message } } } }"
)
DELETE = (
    "mutation D($id: ID!) { deleteWebhookSubscription(id: $id) { __typename"
    "  ... on WebhookSubscriptionPayload { subscription { id active } }"
    "  ... on ForbiddenError { message }"
    "  ... on NotFoundError { entity id } } }"
)
LIST = "query L($org: ID!) { webhookSubscriptions(organisationId: $org) { " + SUBSCRIPTION + " } }"
DELIVERIES = """
query D($org: ID!, $state: WebhookDeliveryState, $first: Int, $after: String) {
  webhookDeliveries(organisationId: $org, state: $state, first: $first, after: $after) {
    nodes { id event state attempts url payload subscriptionId }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def _input(**overrides: Any) -> dict[str, Any]:
    return {
        "organisationId": "org-a",
        "url": "https://crm.example.org/homeward",
        "events": ["REFERRAL_SENT", "REFERRAL_ACCEPTED"],
        **overrides,
    }


async def _create(gql: GraphQLClient, token: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": _input(**overrides)}, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["createWebhookSubscription"]
    return result


@pytest.mark.parametrize("person", ["partner", "counsellor", "admin"])
async def test_members_create_list_and_delete_their_subscriptions(
    gql: GraphQLClient, people: dict[str, str], person: str
) -> None:
    token = people[person]
    created = await _create(gql, token)
    assert created["__typename"] == "CreatedWebhookSubscription"
    assert len(created["secret"]) >= 40
    subscription = created["subscription"]
    assert subscription == {
        "id": subscription["id"],
        "organisationId": "org-a",
        "url": "https://crm.example.org/homeward",
        "events": ["REFERRAL_SENT", "REFERRAL_ACCEPTED"],
        "active": True,
        "createdBy": f"user-{person}",
    }

    listed = await gql(LIST, {"org": "org-a"}, token=token)
    assert listed["data"]["webhookSubscriptions"] == [subscription]

    deleted = await gql(DELETE, {"id": subscription["id"]}, token=token)
    assert deleted["data"]["deleteWebhookSubscription"] == {
        "__typename": "WebhookSubscriptionPayload",
        "subscription": {"id": subscription["id"], "active": False},
    }
    listed = await gql(LIST, {"org": "org-a"}, token=token)
    assert listed["data"]["webhookSubscriptions"] == []


async def test_the_secret_is_never_readable_afterwards(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    created = await _create(gql, people["partner"])
    body = await gql(
        "query L($org: ID!) { webhookSubscriptions(organisationId: $org) { secret } }",
        {"org": "org-a"},
        token=people["partner"],
    )
    assert "Cannot query field 'secret'" in body["errors"][0]["message"]
    audit = await gql(
        "{ auditEvents { nodes { action changes { field replacement } } } }",
        token=people["partner"],
    )
    text = str(audit["data"])
    assert "subscribe webhook" in text
    assert created["secret"] not in text


async def test_another_organisations_member_is_refused(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    created = await _create(gql, people["partner"])
    other = people["partner_b"]

    assert (await _create(gql, other))["__typename"] == "ForbiddenError"
    listed = await gql(LIST, {"org": "org-a"}, token=other)
    assert listed["data"] is None
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    deliveries = await gql(DELIVERIES, {"org": "org-a"}, token=other)
    assert deliveries["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    deleted = await gql(DELETE, {"id": created["subscription"]["id"]}, token=other)
    assert deleted["data"]["deleteWebhookSubscription"]["__typename"] == "ForbiddenError"

    still = await gql(LIST, {"org": "org-a"}, token=people["partner"])
    assert len(still["data"]["webhookSubscriptions"]) == 1


async def test_coordinators_and_anonymous_callers_are_refused(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    coordinator = people["coordinator"]
    assert (await _create(gql, coordinator))["__typename"] == "ForbiddenError"
    listed = await gql(LIST, {"org": "org-a"}, token=coordinator)
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = await gql(LIST, {"org": "org-a"})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    body = await gql(CREATE, {"input": _input()})
    assert body["data"]["createWebhookSubscription"]["__typename"] == "ForbiddenError"


async def test_invalid_input_names_the_field(gql: GraphQLClient, people: dict[str, str]) -> None:
    token = people["partner"]
    bad_url = await _create(gql, token, url="ftp://crm.example.org")
    assert bad_url["__typename"] == "ValidationError"
    assert bad_url["fields"][0]["field"] == "input.url"
    assert "https://" in bad_url["fields"][0]["message"]

    no_events = await _create(gql, token, events=[])
    assert no_events["fields"] == [
        {"field": "input.events", "message": "Value error, choose at least one event"}
    ]
    unknown = await _create(gql, people["admin"], organisationId="org-nowhere")
    assert unknown == {"__typename": "NotFoundError", "entity": "organisation", "id": "org-nowhere"}
    gone = await gql(DELETE, {"id": "no-such-subscription"}, token=token)
    assert gone["data"]["deleteWebhookSubscription"]["__typename"] == "NotFoundError"


async def test_the_delivery_log_pages_newest_first_and_filters_by_state(
    gql: GraphQLClient, people: dict[str, str], graph: Graph
) -> None:
    token = people["counsellor"]
    subscription = (await _create(gql, token))["subscription"]
    start = datetime(2025, 3, 1, tzinfo=UTC)
    for hour in range(3):
        await graph.write(
            enqueue,
            organisation_id="org-a",
            event=WebhookEvent.REFERRAL_SENT,
            payload={"referral_id": f"r{hour}", "status": "sent"},
            at=start + timedelta(hours=hour),
        )

    first = await gql(DELIVERIES, {"org": "org-a", "first": 2}, token=token)
    page = first["data"]["webhookDeliveries"]
    assert [n["payload"] for n in page["nodes"]] == [
        '{"referral_id": "r2", "status": "sent"}',
        '{"referral_id": "r1", "status": "sent"}',
    ]
    node = page["nodes"][0]
    assert node["event"] == "REFERRAL_SENT"
    assert node["state"] == "PENDING"
    assert node["attempts"] == 0
    assert node["url"] == "https://crm.example.org/homeward"
    assert node["subscriptionId"] == subscription["id"]
    assert page["pageInfo"]["hasNextPage"] is True

    rest = await gql(
        DELIVERIES, {"org": "org-a", "after": page["pageInfo"]["endCursor"]}, token=token
    )
    assert [n["payload"] for n in rest["data"]["webhookDeliveries"]["nodes"]] == [
        '{"referral_id": "r0", "status": "sent"}'
    ]
    delivered = await gql(DELIVERIES, {"org": "org-a", "state": "DELIVERED"}, token=token)
    assert delivered["data"]["webhookDeliveries"]["nodes"] == []
    admin = await gql(DELIVERIES, {"org": "org-a"}, token=people["admin"])
    assert len(admin["data"]["webhookDeliveries"]["nodes"]) == 3


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:8080/hooks",  # the tests allow 127.0.0.1 alone, for their receiver
        "http://[::ffff:10.0.0.1]/hooks",
        "http://[::1]/hooks",
        "http://169.254.169.254/latest/meta-data",
        "https://192.168.1.20/hooks",
        "https://10.1.2.3/hooks",
    ],
)
async def test_loopback_private_and_link_local_targets_are_refused(
    gql: GraphQLClient, people: dict[str, str], url: str
) -> None:
    refused = await _create(gql, people["partner"], url=url)
    assert refused["__typename"] == "ValidationError"
    assert refused["fields"][0]["field"] == "input.url"
    assert "HOMEWARD_WEBHOOK_ALLOWED_NETWORKS" in refused["fields"][0]["message"]


async def test_an_allowed_network_may_be_a_target(
    gql: GraphQLClient, people: dict[str, str]
) -> None:
    # The tests' settings allow the receiver's 127.0.0.1.
    created = await _create(gql, people["partner"], url="http://127.0.0.1:9/hooks")
    assert created["__typename"] == "CreatedWebhookSubscription"
