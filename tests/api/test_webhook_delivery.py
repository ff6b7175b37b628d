"""Sending webhook deliveries, against the real Neo4j and a local receiver."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet

from api.webhook_delivery import MAX_ATTEMPTS, backoff, deliver_due, delivery_client
from core.crypto import DataCipher
from core.signing import verify_signature
from graph.driver import Graph
from graph.webhooks.deliveries import LEASE, claim_due
from graph.webhooks.subscriptions import WebhookEvent
from tests.receiver import RECEIVER_NETWORKS, Receiver
from tests.webhooks import SENT, T0, deliveries, native, notify, subscribe


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with delivery_client(timeout_s=1.0, allowed_networks=RECEIVER_NETWORKS) as client:
        yield client


async def test_a_delivery_is_signed_and_marked_delivered(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    created = await subscribe(orgs, cipher, receiver.url, [SENT])
    await notify(orgs, SENT)
    now = T0 + timedelta(seconds=1)

    report = await deliver_due(orgs, now=now, cipher=cipher, client=http)

    assert report.model_dump() == {
        "claimed": 1,
        "delivered": 1,
        "retrying": 0,
        "failed": 0,
        "cancelled": 0,
        "held": 0,
    }
    (request,) = receiver.requests
    headers = request.headers
    assert request.path == "/hooks"
    assert headers["content-type"] == "application/json"
    assert headers["x-homeward-event"] == "referral.sent"
    assert headers["x-homeward-timestamp"] == str(int(now.timestamp()))
    body = json.loads(request.body)
    assert body["id"] == headers["x-homeward-delivery"]
    assert body["event"] == "referral.sent"
    assert body["occurred_at"] == T0.isoformat()
    assert body["data"]["reference"] == "HW-2025-0001"

    signature, timestamp = headers["x-homeward-signature"], headers["x-homeward-timestamp"]
    assert signature.startswith("sha256=")
    at = now.timestamp()
    assert verify_signature(created.secret, timestamp, request.body, signature, now=at)
    assert not verify_signature("another secret", timestamp, request.body, signature, now=at)
    assert not verify_signature(created.secret, timestamp, request.body + b" ", signature, now=at)
    assert not verify_signature(created.secret, "1", request.body, signature, now=at)
    # A captured request replayed ten minutes later is refused.
    assert not verify_signature(created.secret, timestamp, request.body, signature, now=at + 600)

    (delivery,) = await deliveries(orgs)
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 204
    assert native(delivery["delivered_at"]) == now
    # Nothing is due any more.
    assert (await deliver_due(orgs, now=now, cipher=cipher, client=http)).claimed == 0


async def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await subscribe(orgs, cipher, receiver.url, [SENT])
    await notify(orgs, SENT)
    receiver.fail_first = 2

    first = await deliver_due(orgs, now=T0, cipher=cipher, client=http)
    assert (first.claimed, first.retrying) == (1, 1)
    (delivery,) = await deliveries(orgs)
    assert delivery["state"] == "pending"
    assert delivery["attempts"] == 1
    assert delivery["last_status_code"] == 500
    assert delivery["last_error"] == "HTTP 500"
    assert native(delivery["next_attempt_at"]) == T0 + timedelta(seconds=30)

    early = T0 + timedelta(seconds=29)
    assert (await deliver_due(orgs, now=early, cipher=cipher, client=http)).claimed == 0

    second_at = T0 + timedelta(seconds=30)
    assert (await deliver_due(orgs, now=second_at, cipher=cipher, client=http)).retrying == 1
    (delivery,) = await deliveries(orgs)
    assert delivery["attempts"] == 2
    assert native(delivery["next_attempt_at"]) == second_at + timedelta(seconds=60)

    third_at = second_at + timedelta(seconds=60)
    assert (await deliver_due(orgs, now=third_at, cipher=cipher, client=http)).delivered == 1
    (delivery,) = await deliveries(orgs)
    assert delivery["state"] == "delivered"
    assert delivery["attempts"] == 3
    assert delivery["last_status_code"] == 204
    assert "last_error" not in delivery  # null removes the property
    # The same delivery, byte for byte, on every attempt.
    assert len(set(receiver.delivery_ids())) == 1
    assert len({r.body for r in receiver.requests}) == 1


async def test_one_subscription_gets_its_events_in_order_and_a_failure_holds_the_rest(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await subscribe(orgs, cipher, receiver.url, [SENT, WebhookEvent.REFERRAL_OVERDUE])
    for minute in range(6):
        event = WebhookEvent.REFERRAL_OVERDUE if minute % 2 else SENT
        await notify(orgs, event, at=T0 + timedelta(minutes=minute))
    queued = [d["id"] for d in await deliveries(orgs)]
    receiver.fail_first = 1
    now = T0 + timedelta(hours=1)

    first = await deliver_due(orgs, now=now, cipher=cipher, client=http)

    # The oldest failed; the five behind it were not sent ahead of it.
    assert (first.claimed, first.retrying, first.held, first.delivered) == (6, 1, 5, 0)
    assert receiver.delivery_ids() == queued[:1]
    waiting = await deliveries(orgs)
    assert {d["state"] for d in waiting} == {"pending"}
    assert [d["attempts"] for d in waiting] == [1, 0, 0, 0, 0, 0]
    retry_at = now + backoff(1)
    assert {native(d["next_attempt_at"]) for d in waiting} == {retry_at}

    second = await deliver_due(orgs, now=retry_at, cipher=cipher, client=http)

    assert second.delivered == 6
    assert receiver.delivery_ids() == queued[:1] + queued
    events = [r.headers["x-homeward-event"] for r in receiver.requests[1:]]
    assert events == ["referral.sent", "referral.overdue"] * 3


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 5)] == [30, 60, 120, 240]
    assert backoff(50) == timedelta(hours=1)


async def test_a_delivery_fails_for_good_after_the_last_attempt(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await subscribe(orgs, cipher, receiver.url, [SENT])
    await notify(orgs, SENT)
    receiver.fail_first, receiver.fail_status = -1, 503

    now = T0
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = await deliver_due(orgs, now=now, cipher=cipher, client=http)
        assert report.claimed == 1
        now += backoff(attempt)
    assert report.failed == 1

    (delivery,) = await deliveries(orgs)
    assert delivery["state"] == "failed"
    assert delivery["attempts"] == MAX_ATTEMPTS
    assert delivery["last_error"] == "HTTP 503"
    assert "next_attempt_at" not in delivery
    assert len(receiver.requests) == MAX_ATTEMPTS
    later = now + timedelta(days=1)
    assert (await deliver_due(orgs, now=later, cipher=cipher, client=http)).claimed == 0


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_connection_refused_and_timeouts_are_attempts_too(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await subscribe(orgs, cipher, f"http://127.0.0.1:{closed_port()}/hooks?token=abc", [SENT])
    await subscribe(orgs, cipher, receiver.url, [SENT], id="slow")
    receiver.delay_s = 2.0  # the client gives up after 1 s
    await notify(orgs, SENT)

    report = await deliver_due(orgs, now=T0, cipher=cipher, client=http)

    assert (report.claimed, report.retrying) == (2, 2)
    errors = {d["subscription"]: d for d in await deliveries(orgs)}
    slow = errors.pop("slow")
    (refused,) = errors.values()
    # Nothing closed or slow told apart: the log does not map what listens where.
    assert refused["last_error"] == slow["last_error"] == "no answer"
    assert "last_status_code" not in refused
    for delivery in (refused, slow):
        assert delivery["attempts"] == 1
        assert delivery["state"] == "pending"
        assert "token" not in delivery["last_error"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/hooks",
        "http://localhost:{port}/hooks",
        "http://[::1]:{port}/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/hooks",
    ],
)
async def test_a_target_that_is_not_public_is_never_connected_to(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, url: str
) -> None:
    """Without the allow-list, the receiver on 127.0.0.1 gets nothing, and private,
    link-local and loopback targets are refused before any connection."""
    port = receiver.url.split(":")[2].split("/")[0]
    await subscribe(orgs, cipher, url.format(port=port), [SENT])
    await notify(orgs, SENT)
    async with delivery_client(timeout_s=1.0) as strict:
        report = await deliver_due(orgs, now=T0, cipher=cipher, client=strict)
    assert report.retrying == 1
    assert receiver.requests == []
    (delivery,) = await deliveries(orgs)
    assert delivery["last_error"] == "the target is not a public address"


async def test_two_dispatchers_never_send_the_same_delivery(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await subscribe(orgs, cipher, receiver.url, [SENT])
    for minute in range(30):
        await notify(orgs, SENT, at=T0 + timedelta(minutes=minute))
    now = T0 + timedelta(hours=1)

    reports = await asyncio.gather(
        *(deliver_due(orgs, now=now, cipher=cipher, client=http, limit=20) for _ in range(3))
    )
    # Whatever was left by the racing rounds goes in a last one.
    reports.append(await deliver_due(orgs, now=now, cipher=cipher, client=http))

    ids = receiver.delivery_ids()
    states = [d["state"] for d in await deliveries(orgs)]
    assert len(ids) == len(set(ids)) == 30, states
    assert sum(r.delivered for r in reports) == 30
    assert {d["state"] for d in await deliveries(orgs)} == {"delivered"}


async def test_a_stale_lease_is_claimed_again(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await subscribe(orgs, cipher, receiver.url, [SENT])
    await notify(orgs, SENT)
    # A dispatcher claims and disappears before sending.
    assert len(await orgs.write(claim_due, now=T0, limit=10, claim="gone")) == 1

    during = T0 + LEASE - timedelta(seconds=1)
    assert (await deliver_due(orgs, now=during, cipher=cipher, client=http)).claimed == 0
    after = T0 + LEASE
    assert (await deliver_due(orgs, now=after, cipher=cipher, client=http)).delivered == 1
    assert len(receiver.requests) == 1


async def test_a_lost_data_key_fails_the_delivery_without_sending(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await subscribe(orgs, cipher, receiver.url, [SENT])
    await notify(orgs, SENT)
    other = DataCipher([Fernet.generate_key()])

    report = await deliver_due(orgs, now=T0, cipher=other, client=http)

    assert report.failed == 1
    assert receiver.requests == []
    (delivery,) = await deliveries(orgs)
    assert delivery["state"] == "failed"
    assert "cannot be decrypted" in delivery["last_error"]


async def test_a_naive_time_is_refused(orgs: Graph, cipher: DataCipher) -> None:
    async with delivery_client() as client:
        with pytest.raises(ValueError, match="timezone"):
            await deliver_due(orgs, now=datetime(2025, 1, 1), cipher=cipher, client=client)
