"""Deliveries in the database: claiming the ones that are due under a lease, recording what
each attempt did, and the delivery log an organisation reads. The sending itself (HTTP,
signatures, retries) is the API's: `api.webhook_delivery`.

Delivery is *at least once*: a dispatcher that stops between the POST and recording its
outcome leaves a lease that expires, and the delivery is sent again. Receivers de-duplicate
on the delivery id (`X-Homeward-Delivery`).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.errors import ValidationFailed
from graph.pagination import Page, decode_cursor, paginate
from graph.temporal import native
from graph.webhooks.subscriptions import WebhookEvent, check_scope


class DeliveryState(StrEnum):
    PENDING = "pending"
    # Claimed by a dispatcher until `lease_until`; a stale lease is claimed again.
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    # The subscription was deleted before the delivery went out.
    CANCELLED = "cancelled"


# Longer than a batch can take (the sender, api.webhook_delivery, times requests out after
# DELIVERY_TIMEOUT_S, CONCURRENCY at a time), so a lease only expires when its dispatcher is
# gone.
LEASE = timedelta(minutes=2)


# --- claiming and recording --------------------------------------------------------------

DUE: LiteralString = """
(d.state = 'pending' AND d.next_attempt_at <= $now)
OR (d.state = 'sending' AND d.lease_until <= $now)
"""

# Neo4j reads are read-committed: two dispatchers can both read a delivery as pending. So the
# claim takes the write lock first (a dummy write, in a stable order), and a second statement
# checks again under the lock; the other dispatcher waits for the lock, then sees the claim.
LOCK_DUE: LiteralString = (
    "MATCH (d:WebhookDelivery) WHERE "
    + DUE
    + """
WITH d ORDER BY d.next_attempt_at, d.created_at, d.id LIMIT $limit
SET d.locked_at = $now
RETURN d.id AS id
"""
)

CLAIM: LiteralString = (
    """
UNWIND $ids AS id
MATCH (d:WebhookDelivery {id: id})-[:FOR]->(s:WebhookSubscription)
WHERE """
    + DUE
    + """
SET d.state = 'sending', d.lease_until = $lease_until, d.claim = $claim
RETURN d, s.id AS subscription_id, s.url AS url, s.secret_enc AS secret_enc,
       s.active AS active
"""
)

LOCK: LiteralString = """
UNWIND $ids AS id
MATCH (d:WebhookDelivery {id: id})
SET d.locked_at = $now
"""

# Only the dispatcher that holds the claim records an outcome: one whose lease expired and
# was claimed again by another must not overwrite the newer attempt.
RECORD: LiteralString = """
UNWIND $rows AS row
MATCH (d:WebhookDelivery {id: row.id})-[:FOR]->(s:WebhookSubscription)
WHERE d.state = 'sending' AND d.claim = $claim
SET d.state = CASE WHEN row.state = 'pending' AND NOT s.active THEN 'cancelled'
                   ELSE row.state END,
    d.attempts = row.attempts, d.next_attempt_at = row.next_attempt_at,
    d.last_attempt_at = row.last_attempt_at, d.delivered_at = row.delivered_at,
    d.last_status_code = row.status_code, d.last_error = row.error,
    d.lease_until = null, d.claim = null
RETURN count(d) AS recorded
"""

# Handed back unattempted: attempts, last status and error stay as they were.
RELEASE: LiteralString = """
UNWIND $rows AS row
MATCH (d:WebhookDelivery {id: row.id})
WHERE d.state = 'sending' AND d.claim = $claim
SET d.state = 'pending', d.next_attempt_at = row.next_attempt_at,
    d.lease_until = null, d.claim = null
"""


class ClaimedDelivery(BaseModel):
    id: str
    subscription_id: str
    url: str
    # Encrypted, and None once the subscription was deleted.
    secret_enc: str | None
    event: str
    payload: str
    created_at: datetime
    attempts: int


class DeliveryOutcome(BaseModel):
    id: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    status_code: int | None = None
    error: str | None = None


class HeldDelivery(BaseModel):
    id: str
    next_attempt_at: datetime


async def claim_due(
    tx: AsyncManagedTransaction, *, now: datetime, limit: int, claim: str
) -> list[ClaimedDelivery]:
    """Take up to `limit` due deliveries for the dispatcher `claim` until the lease ends; what
    another dispatcher holds is left to it, so no two send the same delivery at once."""
    ids = [r["id"] async for r in await tx.run(LOCK_DUE, now=now, limit=limit)]
    if not ids:
        return []
    result = await tx.run(CLAIM, ids=ids, now=now, lease_until=now + LEASE, claim=claim)
    claimed: list[ClaimedDelivery] = []
    async for r in result:
        props = dict(r["d"])
        claimed.append(
            ClaimedDelivery(
                id=props["id"],
                subscription_id=r["subscription_id"],
                url=r["url"],
                secret_enc=r["secret_enc"] if r["active"] else None,
                event=props["event"],
                payload=props["payload"],
                created_at=native(props["created_at"]),
                attempts=props["attempts"],
            )
        )
    return claimed


async def record_outcomes(
    tx: AsyncManagedTransaction,
    *,
    outcomes: list[DeliveryOutcome],
    held: list[HeldDelivery],
    claim: str,
    now: datetime,
) -> int:
    """Write what the attempts of claim `claim` did, and hand `held` back unattempted; returns
    how many outcomes were recorded (fewer when a lease expired and another claim took over)."""
    ids = [o.id for o in outcomes] + [h.id for h in held]
    await tx.run(LOCK, ids=sorted(ids), now=now)
    rows = [o.model_dump() | {"state": o.state.value} for o in outcomes]
    result = await tx.run(RECORD, rows=rows, claim=claim)
    record = await result.single(strict=True)
    if held:
        await tx.run(RELEASE, rows=[h.model_dump() for h in held], claim=claim)
    return int(record["recorded"])


# --- the delivery log --------------------------------------------------------------------


class WebhookDelivery(BaseModel):
    id: str
    subscription_id: str
    url: str
    event: WebhookEvent
    payload: dict[str, Any]
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    last_status_code: int | None
    last_error: str | None


LOG: LiteralString = """
MATCH (:Organisation {id: $organisation})<-[:OF]-(s:WebhookSubscription)
      <-[:FOR]-(d:WebhookDelivery)
WHERE ($state IS NULL OR d.state = $state)
  AND ($after_at IS NULL OR d.created_at < $after_at
       OR (d.created_at = $after_at AND d.id < $after_id))
WITH d, s ORDER BY d.created_at DESC, d.id DESC LIMIT $limit
RETURN d, s.id AS subscription_id, s.url AS url
"""


def _delivery(record: Any) -> WebhookDelivery:
    props = dict(record["d"])
    return WebhookDelivery(
        id=props["id"],
        subscription_id=record["subscription_id"],
        url=record["url"],
        event=WebhookEvent(props["event"]),
        payload=json.loads(props["payload"]),
        state=DeliveryState(props["state"]),
        attempts=props["attempts"],
        created_at=native(props["created_at"]),
        next_attempt_at=native(props.get("next_attempt_at")),
        last_attempt_at=native(props.get("last_attempt_at")),
        delivered_at=native(props.get("delivered_at")),
        last_status_code=props.get("last_status_code"),
        last_error=props.get("last_error"),
    )


async def list_deliveries(
    tx: AsyncManagedTransaction,
    *,
    organisation_id: str,
    state: DeliveryState | None,
    allowed_organisations: set[str] | None,
    first: int,
    after: str | None,
) -> Page[WebhookDelivery]:
    """The delivery log of an organisation's subscriptions, newest first."""
    check_scope(organisation_id, allowed_organisations)
    after_at, after_id = decode_cursor(after)
    try:
        after_created = datetime.fromisoformat(after_at) if after_at else None
    except ValueError as exc:
        raise ValidationFailed.single("after", "not a cursor returned by this API") from exc
    result = await tx.run(
        LOG,
        organisation=organisation_id,
        state=state.value if state is not None else None,
        after_at=after_created,
        after_id=after_id,
        limit=first + 1,
    )
    deliveries = [_delivery(r) async for r in result]
    return paginate([(d.created_at.isoformat(), d.id, d) for d in deliveries], first)
