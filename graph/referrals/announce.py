"""Telling both sides of a referral that something happened to it: webhook deliveries for the
organisations' machines and in-app notices for their people, written in the transaction of
the change, so that neither exists for a change that was rolled back.

Both carry ids, the reference, statuses and timestamps only, never what the referral says.
"""

from __future__ import annotations

from datetime import datetime

from neo4j import AsyncManagedTransaction

from graph.notifications import NotificationKind, notify
from graph.webhooks import WebhookEvent, enqueue

# The notice each announced event leaves for people; every step not named is a status change.
NOTICE: dict[WebhookEvent, NotificationKind] = {
    WebhookEvent.REFERRAL_SENT: NotificationKind.REFERRAL_RECEIVED,
    WebhookEvent.REFERRAL_OVERDUE: NotificationKind.ANSWER_OVERDUE,
}


async def announce(
    tx: AsyncManagedTransaction,
    *,
    event: WebhookEvent,
    referral_id: str,
    reference: str,
    service_id: str,
    organisations: list[str],
    status: str,
    previous_status: str | None,
    actor_id: str,
    at: datetime,
    due_at: datetime | None = None,
) -> None:
    """Queue `event` for the webhooks of each of `organisations` (the ends that are told)
    and leave the matching notice for the people of the referral's other side."""
    for organisation in dict.fromkeys(organisations):
        payload: dict[str, object] = {
            "referral_id": referral_id,
            "reference": reference,
            "service_id": service_id,
            "organisation_id": organisation,
            "status": status,
            "occurred_at": at,
        }
        if previous_status is not None:
            payload["previous_status"] = previous_status
        if due_at is not None:
            payload["due_at"] = due_at
        await enqueue(tx, organisation_id=organisation, event=event, payload=payload, at=at)
    await notify(
        tx,
        kind=NOTICE.get(event, NotificationKind.STATUS_CHANGED),
        referral_id=referral_id,
        actor_id=actor_id,
        at=at,
        status=status,
        previous_status=previous_status,
    )
