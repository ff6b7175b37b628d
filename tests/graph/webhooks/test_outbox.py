"""The outbox: who gets a notification, and what a payload may carry."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from core.crypto import DataCipher
from graph.driver import Graph
from graph.webhooks.outbox import PayloadNotAllowed, enqueue
from graph.webhooks.subscriptions import WebhookEvent
from tests.webhooks import (
    ACCEPTED,
    DECLINED,
    SENT,
    T0,
    deliveries,
    native,
    notify,
    payload,
    subscribe,
)


async def test_enqueue_creates_deliveries_only_for_subscribed_events_of_that_organisation(
    orgs: Graph, cipher: DataCipher
) -> None:
    a1 = await subscribe(orgs, cipher, "https://a.example/1", [SENT, ACCEPTED], id="a1")
    await subscribe(orgs, cipher, "https://a.example/2", [DECLINED], id="a2")
    await subscribe(orgs, cipher, "https://b.example/1", [SENT], organisation="org-b", id="b1")

    assert await notify(orgs, SENT) == 1
    assert await notify(orgs, DECLINED) == 1
    assert await notify(orgs, WebhookEvent.REFERRAL_COMPLETED) == 0
    assert await notify(orgs, SENT, organisation="org-x") == 0

    found = await deliveries(orgs)
    assert sorted((d["subscription"], d["event"]) for d in found) == [
        ("a1", "referral.sent"),
        ("a2", "referral.declined"),
    ]
    sent = next(d for d in found if d["subscription"] == a1.subscription.id)
    assert sent["state"] == "pending"
    assert sent["attempts"] == 0
    assert native(sent["next_attempt_at"]) == T0
    assert json.loads(sent["payload"])["occurred_at"] == T0.isoformat()


@pytest.mark.parametrize(
    "bad",
    [
        {"household_size": 4},
        {"note": "trauma, needs a female therapist"},
        {"reference": {"name": "nested"}},
        {"status": ["sent"]},
    ],
)
async def test_personal_data_cannot_slip_into_a_payload(
    orgs: Graph, cipher: DataCipher, bad: dict[str, Any]
) -> None:
    await subscribe(orgs, cipher, "https://a.example/1", [SENT])
    with pytest.raises(PayloadNotAllowed):
        await orgs.write(
            enqueue, organisation_id="org-a", event=SENT, payload=payload(**bad), at=T0
        )
    assert await deliveries(orgs) == []


async def test_a_naive_time_is_refused(orgs: Graph) -> None:
    with pytest.raises(ValueError, match="timezone"):
        await orgs.write(
            enqueue,
            organisation_id="org-a",
            event=SENT,
            payload={},
            at=datetime(2025, 1, 1),
        )
