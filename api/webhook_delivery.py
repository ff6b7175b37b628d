"""Sending webhook deliveries: `deliver_due`, run periodically by the API (`api.app`), claims
what is due (`graph.webhooks`), POSTs it, signs every request with the subscription's
secret, and records each outcome, retrying with exponential backoff. Delivery is at least
once: see `graph.webhooks.deliveries` for the lease that makes it so.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpcore
import httpx
from pydantic import BaseModel

from core.crypto import DataCipher, KeyMissing
from core.signing import sign
from core.targets import NOT_PUBLIC, Network, address_allowed, parse_networks
from graph.driver import Graph
from graph.webhooks import (
    LEASE,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryState,
    HeldDelivery,
    claim_due,
    record_outcomes,
)

MAX_ATTEMPTS = 8
# 30 s, 1, 2, 4, 8, 16, 32 min between the eight attempts: about an hour in all, long enough
# to ride out a receiver's restart or deployment, short enough that "failed" means something.
FIRST_BACKOFF = timedelta(seconds=30)
MAX_BACKOFF = timedelta(hours=1)
DELIVERY_TIMEOUT_S = 5.0
CONCURRENCY = 8
USER_AGENT = "Homeward-Webhooks/1"


class DeliveryReport(BaseModel):
    """What one `deliver_due` round did."""

    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    # Not attempted this round: queued behind an undelivered one to the same subscription.
    held: int = 0


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


class _PublicTargets(httpcore.AsyncNetworkBackend):
    """Connects only to addresses `core.targets` allows, and to the very address it checked
    (the name is resolved once, here, so that it cannot resolve elsewhere a moment later);
    TLS still verifies the certificate against the URL's name."""

    def __init__(self, allowed: Sequence[Network]) -> None:
        self.allowed = list(allowed)
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            found = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        addresses = [str(info[4][0]) for info in found]
        if not addresses or not all(address_allowed(a, self.allowed) for a in addresses):
            raise httpcore.ConnectError(NOT_PUBLIC)
        return await self.inner.connect_tcp(
            addresses[0],
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _DeliveryTransport(httpx.AsyncHTTPTransport):
    def __init__(self, allowed: Sequence[Network], limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        # httpx takes no network backend; its pool is rebuilt with the same settings and ours.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_PublicTargets(allowed),
        )


def delivery_client(
    *, timeout_s: float = DELIVERY_TIMEOUT_S, allowed_networks: Sequence[str] = ()
) -> httpx.AsyncClient:
    """The HTTP client `deliver_due` expects: short timeouts, redirects not followed (a
    redirect is a failure: the signed request goes to the subscribed URL or nowhere), public
    addresses only unless `allowed_networks` (HOMEWARD_WEBHOOK_ALLOWED_NETWORKS) says
    otherwise. A proxy from the environment (HTTPS_PROXY) resolves names itself: then the
    proxy's own rules apply instead."""
    limits = httpx.Limits(max_connections=CONCURRENCY * 2)
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=_DeliveryTransport(parse_networks(allowed_networks), limits),
    )


def _failure(exc: httpx.HTTPError) -> str:
    """A reason that says nothing of what (if anything) answered at the address: not
    connected, refused, reset or timed out read the same, so that the delivery log cannot
    map a network. It never carries the URL (its query string may hold a token) either."""
    if str(exc) == NOT_PUBLIC:
        return NOT_PUBLIC
    return "no answer"


async def _attempt(
    client: httpx.AsyncClient, delivery: ClaimedDelivery, secret: str, now: datetime
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


def attempt_outcome(
    id: str, *, attempts_before: int, error: str | None, now: datetime, status: int | None = None
) -> DeliveryOutcome:
    """What one attempt leaves of an outbox entry (a webhook delivery, a mail): delivered, or
    tried again after the backoff, or given up after MAX_ATTEMPTS."""
    attempts = attempts_before + 1
    next_attempt_at = None
    if error is None:
        state = DeliveryState.DELIVERED
    elif attempts >= MAX_ATTEMPTS:
        state = DeliveryState.FAILED
    else:
        state = DeliveryState.PENDING
        next_attempt_at = now + backoff(attempts)
    return DeliveryOutcome(
        id=id,
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
    claimed = await graph.write(claim_due, now=now, limit=limit, claim=claim)
    report = DeliveryReport(claimed=len(claimed))
    if not claimed:
        return report
    gate = asyncio.Semaphore(CONCURRENCY)

    async def attempt(delivery: ClaimedDelivery) -> DeliveryOutcome:
        if delivery.secret_enc is None:  # deleted while the delivery waited
            return DeliveryOutcome(
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
            return DeliveryOutcome(
                id=delivery.id,
                state=DeliveryState.FAILED,
                attempts=delivery.attempts,
                last_attempt_at=now,
                error="the subscription's secret cannot be decrypted with the data keys",
            )
        async with gate:
            status, error = await _attempt(client, delivery, secret, now)
        return attempt_outcome(
            delivery.id, attempts_before=delivery.attempts, error=error, now=now, status=status
        )

    # A receiver reads "sent" before "overdue" for the same referral: deliveries to one
    # subscription go one after another in the order they became due, different
    # subscriptions in parallel. Once one is not delivered, the rest of that subscription's
    # queue waits behind it rather than overtaking it; and a queue stops early enough that
    # the whole batch ends well inside the claim's lease.
    queues: dict[str, list[ClaimedDelivery]] = {}
    for d in claimed:
        queues.setdefault(d.subscription_id, []).append(d)
    deadline = time.monotonic() + LEASE.total_seconds() / 2 - DELIVERY_TIMEOUT_S
    held: list[HeldDelivery] = []

    async def in_order(queue: list[ClaimedDelivery]) -> list[DeliveryOutcome]:
        done: list[DeliveryOutcome] = []
        for i, delivery in enumerate(queue):
            if time.monotonic() > deadline:
                held.extend(HeldDelivery(id=d.id, next_attempt_at=now) for d in queue[i:])
                break
            outcome = await attempt(delivery)
            done.append(outcome)
            if outcome.state is DeliveryState.PENDING:
                behind = outcome.next_attempt_at or now
                held.extend(HeldDelivery(id=d.id, next_attempt_at=behind) for d in queue[i + 1 :])
                break
        return done

    outcomes = [o for q in await asyncio.gather(*map(in_order, queues.values())) for o in q]
    report.held = len(held)
    await graph.write(record_outcomes, outcomes=outcomes, held=held, claim=claim, now=now)
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
