"""Webhook subscriptions: what a URL may be, the secret, who manages them, and deleting one."""

from __future__ import annotations

import json
from typing import Any

import pytest
from neo4j import AsyncManagedTransaction
from pydantic import ValidationError

from core.crypto import DataCipher
from core.errors import Forbidden
from graph.driver import Graph
from graph.users import SYSTEM
from graph.webhooks.subscriptions import (
    SubscriptionInput,
    create_subscription,
    delete_subscription,
    list_subscriptions,
)
from tests.webhooks import ACCEPTED, SENT, deliveries, notify, subscribe


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", "must start with https://"),
        ("https://", "must name a host"),
        ("example.org/hooks", "must start with https://"),
        ("https://user:pw@example.org/x", "user name or password"),
        ("https://example.org/a b", "spaces"),
        ("https://example.org:99999/x", "invalid port"),
        ("https://example.org/" + "x" * 2100, "at most 2048"),
    ],
)
def test_the_url_is_checked_and_the_error_names_the_field(url: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SubscriptionInput(organisation_id="org-a", url=url, events=[SENT])
    (error,) = caught.value.errors()
    assert error["loc"] == ("url",)
    assert message in error["msg"]


def test_events_must_be_known_and_at_least_one() -> None:
    with pytest.raises(ValidationError) as caught:
        SubscriptionInput(organisation_id="o", url="https://example.org", events=[])
    assert caught.value.errors()[0]["loc"] == ("events",)
    assert "at least one event" in caught.value.errors()[0]["msg"]
    with pytest.raises(ValidationError) as caught:
        SubscriptionInput.model_validate(
            {"organisation_id": "o", "url": "https://x.org", "events": ["referral.lost"]}
        )
    assert caught.value.errors()[0]["loc"] == ("events", 0)
    repeated = SubscriptionInput(
        organisation_id="o", url="http://x.org", events=[SENT, SENT, ACCEPTED]
    )
    assert repeated.events == [SENT, ACCEPTED]


async def test_the_secret_is_returned_once_and_stored_encrypted(
    orgs: Graph, cipher: DataCipher
) -> None:
    created = await subscribe(orgs, cipher, "https://example.org/hooks", [SENT])
    assert len(created.secret) >= 40

    async def node(tx: AsyncManagedTransaction) -> dict[str, Any]:
        result = await tx.run("MATCH (s:WebhookSubscription) RETURN s")
        return dict((await result.single(strict=True))["s"])

    props = await orgs.read(node)
    assert created.secret not in json.dumps({k: str(v) for k, v in props.items()})
    assert cipher.decrypt(props["secret_enc"]) == created.secret
    assert "secret" not in created.subscription.model_dump()

    listed = await orgs.read(
        list_subscriptions, organisation_id="org-a", allowed_organisations=None
    )
    assert [s.url for s in listed] == ["https://example.org/hooks"]


async def test_members_manage_only_their_own_organisations_subscriptions(
    orgs: Graph, cipher: DataCipher
) -> None:
    data = SubscriptionInput(organisation_id="org-a", url="https://a.example", events=[SENT])
    with pytest.raises(Forbidden):
        await orgs.write(
            create_subscription,
            id="s1",
            data=data,
            cipher=cipher,
            actor=SYSTEM,
            allowed_organisations={"org-b"},
        )
    created = await subscribe(orgs, cipher, "https://a.example", [SENT])
    with pytest.raises(Forbidden):
        await orgs.read(
            list_subscriptions, organisation_id="org-a", allowed_organisations={"org-b"}
        )
    with pytest.raises(Forbidden):
        await orgs.write(
            delete_subscription,
            id=created.subscription.id,
            actor=SYSTEM,
            allowed_organisations={"org-b"},
        )


async def test_a_deleted_subscription_gets_nothing_and_its_queue_is_cancelled(
    orgs: Graph, cipher: DataCipher
) -> None:
    created = await subscribe(orgs, cipher, "https://a.example/1", [SENT])
    await notify(orgs, SENT)
    deleted = await orgs.write(
        delete_subscription, id=created.subscription.id, actor=SYSTEM, allowed_organisations=None
    )
    assert deleted.active is False
    assert await notify(orgs, SENT) == 0
    (delivery,) = await deliveries(orgs)
    assert delivery["state"] == "cancelled"
    assert (
        await orgs.read(list_subscriptions, organisation_id="org-a", allowed_organisations=None)
        == []
    )

    async def secret(tx: AsyncManagedTransaction) -> Any:
        result = await tx.run("MATCH (s:WebhookSubscription) RETURN s.secret_enc AS secret")
        return (await result.single(strict=True))["secret"]

    assert await orgs.read(secret) is None
