"""Helpers of the webhook tests: subscribe, notify, and read the deliveries back."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from graph.driver import Graph
from graph.users import SYSTEM
from graph.webhooks.outbox import enqueue
from graph.webhooks.subscriptions import (
    CreatedSubscription,
    SubscriptionInput,
    WebhookEvent,
    create_subscription,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SENT, ACCEPTED, DECLINED = (
    WebhookEvent.REFERRAL_SENT,
    WebhookEvent.REFERRAL_ACCEPTED,
    WebhookEvent.REFERRAL_DECLINED,
)


def payload(**extra: Any) -> dict[str, Any]:
    return {
        "referral_id": "ref-1",
        "reference": "HW-2025-0001",
        "status": "sent",
        "previous_status": "draft",
        "occurred_at": T0,
        **extra,
    }


async def subscribe(
    graph: Graph,
    cipher: DataCipher,
    url: str,
    events: list[WebhookEvent],
    organisation: str = "org-a",
    id: str | None = None,
) -> CreatedSubscription:
    data = SubscriptionInput(organisation_id=organisation, url=url, events=events)
    return await graph.write(
        create_subscription,
        id=id or f"sub-{organisation}-{len(events)}-{url[-6:]}",
        data=data,
        cipher=cipher,
        actor=SYSTEM,
        allowed_organisations=None,
    )


async def notify(
    graph: Graph, event: WebhookEvent, at: datetime = T0, organisation: str = "org-a"
) -> int:
    return await graph.write(
        enqueue, organisation_id=organisation, event=event, payload=payload(), at=at
    )


async def deliveries(graph: Graph) -> list[dict[str, Any]]:
    async def read(tx: AsyncManagedTransaction) -> list[dict[str, Any]]:
        result = await tx.run(
            "MATCH (d:WebhookDelivery)-[:FOR]->(s:WebhookSubscription) "
            "RETURN d, s.id AS subscription ORDER BY d.created_at, d.id"
        )
        return [dict(r["d"]) | {"subscription": r["subscription"]} async for r in result]

    return await graph.read(read)


def native(value: Any) -> Any:
    return value.to_native() if value is not None else None
