"""Webhook subscriptions, the outbox and delivery, against the real Neo4j and a local receiver."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from neo4j import AsyncManagedTransaction
from pydantic import ValidationError

from core.crypto import DataCipher
from core.errors import Forbidden
from graph.driver import Graph
from graph.organisations import upsert_organisations
from graph.users import SYSTEM
from graph.webhooks import (
    LEASE,
    MAX_ATTEMPTS,
    CreatedSubscription,
    PayloadNotAllowed,
    SubscriptionInput,
    WebhookEvent,
    _claim,
    backoff,
    create_subscription,
    delete_subscription,
    deliver_due,
    delivery_client,
    enqueue,
    list_subscriptions,
    verify_signature,
)
from tests.conftest import PEOPLE_ORGANISATIONS
from tests.receiver import Receiver

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


@pytest.fixture
async def orgs(countries: Graph) -> Graph:
    await countries.write(
        upsert_organisations,
        rows=[(i, data, {}) for i, data in PEOPLE_ORGANISATIONS.items()],
    )
    return countries


@pytest.fixture
def cipher() -> DataCipher:
    return DataCipher([Fernet.generate_key()])


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with delivery_client(timeout_s=1.0) as client:
        yield client


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


# --- subscriptions -----------------------------------------------------------------------


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


# --- the outbox --------------------------------------------------------------------------


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


# --- delivery ----------------------------------------------------------------------------


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
    assert refused["last_error"] == "could not connect"
    assert "last_status_code" not in refused
    assert slow["last_error"] == "timed out"
    for delivery in (refused, slow):
        assert delivery["attempts"] == 1
        assert delivery["state"] == "pending"
        assert "token" not in delivery["last_error"]


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


async def test_a_claim_waits_for_a_concurrent_claim_and_then_finds_nothing(
    orgs: Graph, cipher: DataCipher
) -> None:
    await subscribe(orgs, cipher, "https://a.example/1", [SENT])
    await notify(orgs, SENT)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def first(tx: AsyncManagedTransaction) -> int:
        claimed = await _claim(tx, now=T0, limit=10, claim="first")
        holding.set()
        await release.wait()  # keep the transaction, and its locks, open
        return len(claimed)

    first_task = asyncio.create_task(orgs.write(first))
    await asyncio.wait_for(holding.wait(), timeout=10)
    second_task = asyncio.create_task(orgs.write(_claim, now=T0, limit=10, claim="second"))
    await asyncio.sleep(0.5)
    assert not second_task.done()  # waiting for the first claim's lock

    release.set()
    assert await asyncio.wait_for(first_task, timeout=10) == 1
    assert await asyncio.wait_for(second_task, timeout=10) == []
    (delivery,) = await deliveries(orgs)
    assert delivery["claim"] == "first"


async def test_a_stale_lease_is_claimed_again(
    orgs: Graph, cipher: DataCipher, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    await subscribe(orgs, cipher, receiver.url, [SENT])
    await notify(orgs, SENT)
    # A dispatcher claims and disappears before sending.
    assert len(await orgs.write(_claim, now=T0, limit=10, claim="gone")) == 1

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


async def test_naive_times_are_refused(orgs: Graph, cipher: DataCipher) -> None:
    async with delivery_client() as client:
        with pytest.raises(ValueError, match="timezone"):
            await deliver_due(orgs, now=datetime(2025, 1, 1), cipher=cipher, client=client)
    with pytest.raises(ValueError, match="timezone"):
        await orgs.write(
            enqueue,
            organisation_id="org-a",
            event=SENT,
            payload={},
            at=datetime(2025, 1, 1),
        )
