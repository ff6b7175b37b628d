"""Webhook notifications of referral events to the organisations concerned.

An organisation subscribes a URL to some events. The referral code calls `enqueue` inside the
transaction of each transition, so a notification exists exactly when the transition was
committed (a transactional outbox: no lost or phantom notifications). `deliver_due`, run
periodically by the API (api/background.py), POSTs what is due, signs every request with the
subscription's secret, and retries with exponential backoff.

Delivery is *at least once*: a dispatcher that stops between the POST and recording its
outcome leaves a lease that expires, and the delivery is sent again. Receivers de-duplicate
on the delivery id (`X-Homeward-Delivery`). Deliveries carry no personal data: the payload
keys are limited to `PAYLOAD_KEYS` (ids, reference, status, timestamps); whoever receives a
notification fetches what it may see through the API with its own credentials.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import uuid
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, LiteralString
from urllib.parse import urlsplit

import httpx
from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.crypto import DataCipher, KeyMissing
from core.errors import Forbidden, NotFound, ValidationFailed
from graph.audit import diff, record_event
from graph.driver import Graph
from graph.pagination import Page, decode_cursor, paginate
from graph.temporal import native
from graph.users import Actor


class WebhookEvent(StrEnum):
    REFERRAL_SENT = "referral.sent"
    REFERRAL_ACKNOWLEDGED = "referral.acknowledged"
    REFERRAL_ACCEPTED = "referral.accepted"
    REFERRAL_DECLINED = "referral.declined"
    REFERRAL_STARTED = "referral.started"
    REFERRAL_COMPLETED = "referral.completed"
    REFERRAL_CANCELLED = "referral.cancelled"
    REFERRAL_OVERDUE = "referral.overdue"


class DeliveryState(StrEnum):
    PENDING = "pending"
    # Claimed by a dispatcher until `lease_until`; a stale lease is claimed again.
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    # The subscription was deleted before the delivery went out.
    CANCELLED = "cancelled"


# The only keys a payload may carry. Everything here identifies or dates a referral; nothing
# describes the household. Extending it is a decision about personal data, not a detail.
PAYLOAD_KEYS = frozenset(
    {
        "referral_id",
        "reference",
        "service_id",
        "organisation_id",
        "status",
        "previous_status",
        "occurred_at",
        "due_at",
    }
)

MAX_URL_LENGTH = 2048
MAX_SUBSCRIPTIONS_PER_ORGANISATION = 20
MAX_ATTEMPTS = 8
# 30 s, 1, 2, 4, 8, 16, 32 min between the eight attempts: about an hour in all, long enough
# to ride out a receiver's restart or deployment, short enough that "failed" means something.
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
# Longer than a batch can take (requests time out after DELIVERY_TIMEOUT_S, CONCURRENCY at
# a time), so a lease only expires when its dispatcher is gone.
LEASE = timedelta(minutes=2)
DELIVERY_TIMEOUT_S = 5.0
CONCURRENCY = 8
# Receivers should refuse signatures older than this (replays of a captured request).
SIGNATURE_MAX_AGE_S = 300
USER_AGENT = "Homeward-Webhooks/1"


class SubscriptionInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    organisation_id: str = Field(min_length=1, max_length=80)
    url: str = Field(min_length=1)
    events: list[WebhookEvent]

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if len(url) > MAX_URL_LENGTH:
            raise ValueError(f"the URL must be at most {MAX_URL_LENGTH} characters long")
        if any(c.isspace() for c in url):
            raise ValueError("the URL must not contain spaces")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError("the URL must start with https:// (or http://)")
        if not parts.hostname:
            raise ValueError("the URL must name a host, e.g. https://example.org/homeward")
        # Credentials in a URL end up in logs and listings; the signature authenticates us.
        if parts.username is not None or parts.password is not None:
            raise ValueError("the URL must not contain a user name or password")
        try:
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError as exc:
            raise ValueError("the URL has an invalid port") from exc
        return url

    @field_validator("events")
    @classmethod
    def _events(cls, events: list[WebhookEvent]) -> list[WebhookEvent]:
        if not events:
            raise ValueError("choose at least one event")
        return list(dict.fromkeys(events))


class WebhookSubscription(BaseModel):
    id: str
    organisation_id: str
    url: str
    events: list[WebhookEvent]
    active: bool
    created_at: datetime
    created_by: str


class CreatedSubscription(BaseModel):
    subscription: WebhookSubscription
    # Shown to the caller once; only its encryption is stored.
    secret: str


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


class DeliveryReport(BaseModel):
    """What one `deliver_due` round did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    # Not attempted this round: queued behind an undelivered one to the same subscription.
    held: int = 0


def _check_scope(organisation_id: str, allowed: set[str] | None) -> None:
    """`allowed` comes from the access policy: None is every organisation (admins)."""
    if allowed is not None and organisation_id not in allowed:
        raise Forbidden(f"you may not manage the webhooks of organisation {organisation_id!r}")


# --- subscriptions -----------------------------------------------------------------------


def _subscription(props: dict[str, Any], organisation_id: str) -> WebhookSubscription:
    return WebhookSubscription(
        id=props["id"],
        organisation_id=organisation_id,
        url=props["url"],
        events=[WebhookEvent(e) for e in props["events"]],
        active=props["active"],
        created_at=native(props["created_at"]),
        created_by=props["created_by"],
    )


COUNT_ACTIVE: LiteralString = """
MATCH (o:Organisation {id: $organisation})
RETURN COUNT { (o)<-[:OF]-(:WebhookSubscription {active: true}) } AS active
"""

CREATE: LiteralString = """
MATCH (o:Organisation {id: $organisation})
CREATE (s:WebhookSubscription {id: $id, url: $url, events: $events, secret_enc: $secret_enc,
                               active: true, created_at: datetime(), created_by: $by})-[:OF]->(o)
RETURN s
"""


async def create_subscription(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: SubscriptionInput,
    cipher: DataCipher,
    actor: Actor,
    allowed_organisations: set[str] | None,
) -> CreatedSubscription:
    """Subscribe a URL; the signing secret is generated here and returned only now."""
    _check_scope(data.organisation_id, allowed_organisations)
    record = await (await tx.run(COUNT_ACTIVE, organisation=data.organisation_id)).single()
    if record is None:
        raise NotFound("organisation", data.organisation_id)
    if record["active"] >= MAX_SUBSCRIPTIONS_PER_ORGANISATION:
        raise ValidationFailed.single(
            "organisation_id",
            f"an organisation may have at most {MAX_SUBSCRIPTIONS_PER_ORGANISATION} "
            "webhook subscriptions; delete one first",
        )
    secret = secrets.token_urlsafe(32)
    result = await tx.run(
        CREATE,
        id=id,
        organisation=data.organisation_id,
        url=data.url,
        events=[e.value for e in data.events],
        secret_enc=cipher.encrypt(secret),
        by=actor.label,
    )
    created = _subscription(dict((await result.single(strict=True))["s"]), data.organisation_id)
    await record_event(
        tx,
        actor=actor,
        action="subscribe webhook",
        entity="webhook_subscription",
        entity_id=id,
        organisation_id=data.organisation_id,
        # Never the secret: the audit trail is readable by the organisation's members.
        changes=diff(None, {"url": created.url, "events": created.events}),
    )
    return CreatedSubscription(subscription=created, secret=secret)


OF_ORGANISATION: LiteralString = """
MATCH (s:WebhookSubscription {active: true})-[:OF]->(:Organisation {id: $organisation})
RETURN s ORDER BY s.created_at, s.id
"""


async def list_subscriptions(
    tx: AsyncManagedTransaction, *, organisation_id: str, allowed_organisations: set[str] | None
) -> list[WebhookSubscription]:
    """The active subscriptions of an organisation, oldest first."""
    _check_scope(organisation_id, allowed_organisations)
    result = await tx.run(OF_ORGANISATION, organisation=organisation_id)
    return [_subscription(dict(r["s"]), organisation_id) async for r in result]


SUBSCRIPTION_ORGANISATION: LiteralString = """
MATCH (:WebhookSubscription {id: $id})-[:OF]->(o:Organisation) RETURN o.id AS organisation
"""

# The node stays so that the delivery log still says where deliveries went; the secret goes,
# and so does everything not yet sent.
DEACTIVATE: LiteralString = """
MATCH (s:WebhookSubscription {id: $id})
SET s.active = false, s.deactivated_at = coalesce(s.deactivated_at, datetime())
REMOVE s.secret_enc
WITH s
CALL (s) {
  MATCH (s)<-[:FOR]-(d:WebhookDelivery {state: 'pending'})
  SET d.state = 'cancelled', d.next_attempt_at = null, d.last_error = 'subscription deleted'
}
RETURN s
"""


async def delete_subscription(
    tx: AsyncManagedTransaction, *, id: str, actor: Actor, allowed_organisations: set[str] | None
) -> WebhookSubscription:
    """Stop a subscription (idempotent); returns it as it is now, inactive."""
    record = await (await tx.run(SUBSCRIPTION_ORGANISATION, id=id)).single()
    if record is None:
        raise NotFound("webhook subscription", id)
    organisation = str(record["organisation"])
    _check_scope(organisation, allowed_organisations)
    result = await tx.run(DEACTIVATE, id=id)
    deleted = _subscription(dict((await result.single(strict=True))["s"]), organisation)
    await record_event(
        tx,
        actor=actor,
        action="delete webhook",
        entity="webhook_subscription",
        entity_id=id,
        organisation_id=organisation,
        changes=diff({"active": True}, {"active": False}),
    )
    return deleted


# --- the outbox --------------------------------------------------------------------------


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

    `payload` carries only ids, the referral's reference, statuses and timestamps: keys
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


# --- delivery ----------------------------------------------------------------------------

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


class _Claimed(BaseModel):
    id: str
    subscription_id: str
    url: str
    # Encrypted, and None once the subscription was deleted.
    secret_enc: str | None
    event: str
    payload: str
    created_at: datetime
    attempts: int


class _Outcome(BaseModel):
    id: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    status_code: int | None = None
    error: str | None = None


class _Held(BaseModel):
    id: str
    next_attempt_at: datetime


async def _claim(
    tx: AsyncManagedTransaction, *, now: datetime, limit: int, claim: str
) -> list[_Claimed]:
    ids = [r["id"] async for r in await tx.run(LOCK_DUE, now=now, limit=limit)]
    if not ids:
        return []
    result = await tx.run(CLAIM, ids=ids, now=now, lease_until=now + LEASE, claim=claim)
    claimed: list[_Claimed] = []
    async for r in result:
        props = dict(r["d"])
        claimed.append(
            _Claimed(
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


async def _record(
    tx: AsyncManagedTransaction,
    *,
    outcomes: list[_Outcome],
    held: list[_Held],
    claim: str,
    now: datetime,
) -> int:
    ids = [o.id for o in outcomes] + [h.id for h in held]
    await tx.run(LOCK, ids=sorted(ids), now=now)
    rows = [o.model_dump() | {"state": o.state.value} for o in outcomes]
    result = await tx.run(RECORD, rows=rows, claim=claim)
    record = await result.single(strict=True)
    if held:
        await tx.run(RELEASE, rows=[h.model_dump() for h in held], claim=claim)
    return int(record["recorded"])


def backoff(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 30 s, doubling, at most an hour."""
    wait: timedelta = FIRST_BACKOFF * 2 ** min(max(attempts - 1, 0), 16)
    return min(wait, MAX_BACKOFF)


def request_body(delivery_id: str, event: str, occurred_at: datetime, payload: str) -> bytes:
    """The exact bytes POSTed (and signed); the same on every attempt."""
    document = {
        "id": delivery_id,
        "event": event,
        "occurred_at": occurred_at.isoformat(),
        "data": json.loads(payload),
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    max_age_s: float | None = SIGNATURE_MAX_AGE_S,
    now: float | None = None,
) -> bool:
    """For receivers: is `header` (X-Homeward-Signature) our signature of this raw `body`
    sent at `timestamp` (X-Homeward-Timestamp, Unix seconds)? Compares in constant time, and
    refuses timestamps more than `max_age_s` away from `now` (default: the clock) so that a
    captured request cannot be replayed later. Verify the raw bytes, before parsing JSON."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if max_age_s is not None and abs((time.time() if now is None else now) - sent) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def delivery_client(*, timeout_s: float = DELIVERY_TIMEOUT_S) -> httpx.AsyncClient:
    """The HTTP client `deliver_due` expects: short timeouts, redirects not followed (a
    redirect is a failure: the signed request goes to the subscribed URL or nowhere)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        limits=httpx.Limits(max_connections=CONCURRENCY * 2),
    )


def _failure(exc: httpx.HTTPError) -> str:
    """A short reason that never carries the URL (its query string may hold a token)."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    if isinstance(exc, httpx.ConnectError):
        return "could not connect"
    return f"request failed ({type(exc).__name__})"


async def _attempt(
    client: httpx.AsyncClient, delivery: _Claimed, secret: str, now: datetime
) -> tuple[int | None, str | None]:
    """(status code, error) of one POST; error None means delivered."""
    body = request_body(delivery.id, delivery.event, delivery.created_at, delivery.payload)
    timestamp = str(int(now.timestamp()))
    headers = {
        "Content-Type": "application/json",
        "X-Homeward-Event": delivery.event,
        "X-Homeward-Delivery": delivery.id,
        "X-Homeward-Timestamp": timestamp,
        "X-Homeward-Signature": sign(secret, timestamp, body),
    }
    try:
        response = await client.post(delivery.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, _failure(exc)
    if response.is_success:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}"


def _outcome(delivery: _Claimed, status: int | None, error: str | None, now: datetime) -> _Outcome:
    attempts = delivery.attempts + 1
    next_attempt_at = None
    if error is None:
        state = DeliveryState.DELIVERED
    elif attempts >= MAX_ATTEMPTS:
        state = DeliveryState.FAILED
    else:
        state = DeliveryState.PENDING
        next_attempt_at = now + backoff(attempts)
    return _Outcome(
        id=delivery.id,
        state=state,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        last_attempt_at=now,
        delivered_at=now if error is None else None,
        status_code=status,
        error=error,
    )


async def deliver_due(
    graph: Graph,
    *,
    now: datetime,
    cipher: DataCipher,
    client: httpx.AsyncClient,
    limit: int = 50,
) -> DeliveryReport:
    """Send up to `limit` deliveries that are due at `now`, and record each outcome.

    Safe to run in several processes at once: each delivery is claimed in a write
    transaction before it is sent, so no two dispatchers send it at the same time. `client`
    should come from `delivery_client()` (short timeouts, no redirects)."""
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    claim = str(uuid.uuid4())
    claimed = await graph.write(_claim, now=now, limit=limit, claim=claim)
    report = DeliveryReport(claimed=len(claimed))
    if not claimed:
        return report
    gate = asyncio.Semaphore(CONCURRENCY)

    async def attempt(delivery: _Claimed) -> _Outcome:
        if delivery.secret_enc is None:  # deleted while the delivery waited
            return _Outcome(
                id=delivery.id,
                state=DeliveryState.CANCELLED,
                attempts=delivery.attempts,
                error="subscription deleted",
            )
        try:
            secret = cipher.decrypt(delivery.secret_enc)
        except KeyMissing:
            # Retrying cannot help until an operator restores the key; the others go on.
            secret = None
        if secret is None:
            return _Outcome(
                id=delivery.id,
                state=DeliveryState.FAILED,
                attempts=delivery.attempts,
                last_attempt_at=now,
                error="the subscription's secret cannot be decrypted with the data keys",
            )
        async with gate:
            status, error = await _attempt(client, delivery, secret, now)
        return _outcome(delivery, status, error, now)

    # A receiver reads "sent" before "overdue" for the same referral: deliveries to one
    # subscription go one after another in the order they became due, different
    # subscriptions in parallel. Once one is not delivered, the rest of that subscription's
    # queue waits behind it rather than overtaking it; and a queue stops early enough that
    # the whole batch ends well inside the claim's lease.
    queues: dict[str, list[_Claimed]] = {}
    for d in claimed:
        queues.setdefault(d.subscription_id, []).append(d)
    deadline = time.monotonic() + LEASE.total_seconds() / 2 - DELIVERY_TIMEOUT_S
    held: list[_Held] = []

    async def in_order(queue: list[_Claimed]) -> list[_Outcome]:
        done: list[_Outcome] = []
        for i, delivery in enumerate(queue):
            if time.monotonic() > deadline:
                held.extend(_Held(id=d.id, next_attempt_at=now) for d in queue[i:])
                break
            outcome = await attempt(delivery)
            done.append(outcome)
            if outcome.state is DeliveryState.PENDING:
                behind = outcome.next_attempt_at or now
                held.extend(_Held(id=d.id, next_attempt_at=behind) for d in queue[i + 1 :])
                break
        return done

    outcomes = [o for q in await asyncio.gather(*map(in_order, queues.values())) for o in q]
    report.held = len(held)
    await graph.write(_record, outcomes=outcomes, held=held, claim=claim, now=now)
    for o in outcomes:
        if o.state is DeliveryState.DELIVERED:
            report.delivered += 1
        elif o.state is DeliveryState.FAILED:
            report.failed += 1
        elif o.state is DeliveryState.CANCELLED:
            report.cancelled += 1
        else:
            report.retrying += 1
    return report


# --- the delivery log --------------------------------------------------------------------

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
    _check_scope(organisation_id, allowed_organisations)
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
