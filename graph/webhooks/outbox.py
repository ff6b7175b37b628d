"""The outbox: a notification is queued in the transaction of the change it announces, so it
exists exactly when that change was committed (no lost or phantom notifications).

Deliveries carry no personal data: the payload keys are limited to `PAYLOAD_KEYS` (ids,
reference, status, timestamps); whoever receives a notification fetches what it may see
through the API with its own credentials.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from graph.webhooks.subscriptions import WebhookEvent

# The only keys a payload may carry. Everything here identifies or dates a referral or a
# return case, or names the step of its process; nothing describes the household (a case's
# whereabouts do, so they stay out). Extending it is a decision about personal data, not a
# detail.
PAYLOAD_KEYS = frozenset(
    {
        "referral_id",
        "case_id",
        "phase",
        "previous_phase",
        "reference",
        "service_id",
        "organisation_id",
        "status",
        "previous_status",
        "occurred_at",
        "due_at",
    }
)


class PayloadNotAllowed(ValueError):
    """A caller tried to put something other than ids, status and timestamps in a payload.
    A programming error, not a user's: it is not a HomewardError and is never translated."""


def _payload_json(payload: dict[str, Any]) -> str:
    refused = sorted(set(payload) - PAYLOAD_KEYS)
    if refused:
        raise PayloadNotAllowed(
            f"webhook payload keys {refused} are not allowed; allowed: {sorted(PAYLOAD_KEYS)}"
        )
    clean: dict[str, str | int | float | bool | None] = {}
    for key, value in payload.items():
        if isinstance(value, datetime):
            clean[key] = value.isoformat()
        elif value is None or isinstance(value, str | int | float | bool):
            clean[key] = value
        else:
            # Nested structures could carry anything; the allow-list is only worth its name
            # if values are plain too.
            raise PayloadNotAllowed(
                f"webhook payload value of {key!r} must be a string, number, boolean, "
                f"datetime or null, not {type(value).__name__}"
            )
    return json.dumps(clean, sort_keys=True)


ENQUEUE: LiteralString = """
MATCH (s:WebhookSubscription {active: true})-[:OF]->(:Organisation {id: $organisation})
WHERE $event IN s.events
CREATE (d:WebhookDelivery {id: randomUUID(), event: $event, payload: $payload,
                           created_at: $at, attempts: 0, state: 'pending',
                           next_attempt_at: $at})-[:FOR]->(s)
RETURN count(d) AS created
"""


async def enqueue(
    tx: AsyncManagedTransaction,
    *,
    organisation_id: str,
    event: WebhookEvent,
    payload: dict[str, Any],
    at: datetime,
) -> int:
    """Queue `event` for every active subscription of the organisation that wants it, in the
    caller's transaction (so that the notification commits or rolls back with the change it
    announces). Returns how many deliveries were queued.

    `payload` carries only ids, the referral's or case's reference, statuses, phases and
    timestamps: keys
    outside `PAYLOAD_KEYS`, or values that are not plain scalars, raise PayloadNotAllowed.
    Never put contact, household, health or free-text data here.
    """
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    result = await tx.run(
        ENQUEUE,
        organisation=organisation_id,
        event=event.value,
        payload=_payload_json(payload),
        at=at,
    )
    record = await result.single(strict=True)
    return int(record["created"])
