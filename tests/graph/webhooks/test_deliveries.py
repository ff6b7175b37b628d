"""Claiming due deliveries: two dispatchers never hold the same one."""

from __future__ import annotations

import asyncio

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from graph.driver import Graph
from graph.webhooks.deliveries import claim_due
from tests.webhooks import SENT, T0, deliveries, notify, subscribe


async def test_a_claim_waits_for_a_concurrent_claim_and_then_finds_nothing(
    orgs: Graph, cipher: DataCipher
) -> None:
    await subscribe(orgs, cipher, "https://a.example/1", [SENT])
    await notify(orgs, SENT)
    holding = asyncio.Event()
    release = asyncio.Event()

    async def first(tx: AsyncManagedTransaction) -> int:
        claimed = await claim_due(tx, now=T0, limit=10, claim="first")
        holding.set()
        await release.wait()  # keep the transaction, and its locks, open
        return len(claimed)

    first_task = asyncio.create_task(orgs.write(first))
    await asyncio.wait_for(holding.wait(), timeout=10)
    second_task = asyncio.create_task(orgs.write(claim_due, now=T0, limit=10, claim="second"))
    await asyncio.sleep(0.5)
    assert not second_task.done()  # waiting for the first claim's lock

    release.set()
    assert await asyncio.wait_for(first_task, timeout=10) == 1
    assert await asyncio.wait_for(second_task, timeout=10) == []
    (delivery,) = await deliveries(orgs)
    assert delivery["claim"] == "first"
