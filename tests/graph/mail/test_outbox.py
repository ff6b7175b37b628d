"""The mail outbox in Neo4j: a claim under a lease that a second sender waits for, outcomes
recorded only by the claim's holder, a link forgotten once sent, digests once per day, and
the old mails purged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from neo4j import AsyncManagedTransaction

from graph.driver import Graph
from graph.mail.outbox import (
    claim_due,
    digest_slot,
    list_mails,
    purge_mails,
    queue_password_mail,
    record_outcomes,
)
from graph.webhooks import LEASE, DeliveryOutcome, DeliveryState

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def _queue(graph: Graph, user: str = "user-counsellor") -> str:
    mail_id = await graph.write(queue_password_mail, user_id=user, link_enc="sealed", at=T0)
    assert mail_id is not None
    return mail_id


async def test_a_second_sender_waits_for_the_claim_and_then_finds_nothing(
    people: dict[str, str], graph: Graph
) -> None:
    await _queue(graph)
    holding, release = asyncio.Event(), asyncio.Event()

    async def first(tx: AsyncManagedTransaction) -> int:
        claimed = await claim_due(tx, now=T0, limit=10, claim="first")
        holding.set()
        await release.wait()  # keep the transaction, and its locks, open
        return len(claimed)

    first_task = asyncio.create_task(graph.write(first))
    await asyncio.wait_for(holding.wait(), timeout=10)
    second = asyncio.create_task(graph.write(claim_due, now=T0, limit=10, claim="second"))
    await asyncio.sleep(0.5)
    assert not second.done()
    release.set()
    assert await asyncio.wait_for(first_task, timeout=10) == 1
    assert await asyncio.wait_for(second, timeout=10) == []
    # Once the lease has run out, the mail is claimed again (delivery is at least once).
    (again,) = await graph.write(claim_due, now=T0 + LEASE, limit=10, claim="third")
    assert (again.email, again.secret_enc) == ("counsellor@example.org", "sealed")


async def test_only_the_claims_holder_records_and_a_sent_link_is_forgotten(
    people: dict[str, str], graph: Graph
) -> None:
    mail_id = await _queue(graph)
    await graph.write(claim_due, now=T0, limit=10, claim="stale")
    await graph.write(claim_due, now=T0 + LEASE, limit=10, claim="current")
    sent = DeliveryOutcome(
        id=mail_id, state=DeliveryState.DELIVERED, attempts=1, delivered_at=T0 + LEASE
    )
    recorded = await graph.write(
        record_outcomes, outcomes=[sent], held=[], claim="stale", now=T0 + LEASE
    )
    assert recorded == 0
    assert (await graph.read(list_mails))[0].state == "sending"
    recorded = await graph.write(
        record_outcomes, outcomes=[sent], held=[], claim="current", now=T0 + LEASE
    )
    assert recorded == 1

    async def secret(tx: AsyncManagedTransaction) -> object:
        record = await (await tx.run("MATCH (m:Mail) RETURN m.secret_enc AS s")).single()
        assert record is not None
        return record["s"]

    assert await graph.read(secret) is None
    # Kept a while for whoever asks what became of it, then purged.
    assert await graph.write(purge_mails, before=T0) == 0
    assert await graph.write(purge_mails, before=T0 + timedelta(days=31)) == 1
    assert await graph.read(list_mails) == []


async def test_a_mail_to_a_deleted_account_is_claimed_without_an_address(
    people: dict[str, str], graph: Graph
) -> None:
    await _queue(graph, user="user-partner")

    async def delete(tx: AsyncManagedTransaction) -> None:
        await tx.run("MATCH (u:User {id: 'user-partner'}) DETACH DELETE u")

    await graph.write(delete)
    (claimed,) = await graph.write(claim_due, now=T0, limit=10, claim="c")
    assert claimed.email is None


def test_the_digest_slot_is_todays_hour_once_it_has_come_else_yesterdays() -> None:
    assert digest_slot(T0, 7) == T0.replace(hour=7)
    assert digest_slot(T0.replace(hour=6), 7) == T0.replace(hour=7) - timedelta(days=1)
    assert digest_slot(T0.replace(hour=7), 7) == T0.replace(hour=7)
