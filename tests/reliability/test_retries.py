"""Transient errors are retried by Graph.write: a real deadlock between two transactions
ends with both committed exactly once, not with an error."""

from __future__ import annotations

import asyncio

import pytest
from neo4j import AsyncGraphDatabase, AsyncManagedTransaction

from core.errors import DatabaseUnavailable
from core.settings import Settings
from graph.driver import Graph

pytestmark = pytest.mark.neo4j


async def test_a_deadlock_is_retried_and_both_transactions_commit_once(graph: Graph) -> None:
    await graph.write(_create_pair)
    both_hold_their_first_lock = asyncio.Barrier(2)
    attempts = {"ab": 0, "ba": 0}

    async def lock_in_order(tx: AsyncManagedTransaction, first: str, second: str) -> None:
        key = first + second
        attempts[key] += 1
        await (await tx.run(INCREMENT, id=first)).consume()
        if attempts[key] == 1:
            # Only the first attempts meet here: each holds one lock and wants the other's.
            await asyncio.wait_for(both_hold_their_first_lock.wait(), timeout=10)
        await (await tx.run(INCREMENT, id=second)).consume()

    await asyncio.wait_for(
        asyncio.gather(
            graph.write(lock_in_order, first="a", second="b"),
            graph.write(lock_in_order, first="b", second="a"),
        ),
        timeout=60,
    )
    # Neo4j detected the deadlock and one side ran again.
    assert max(attempts.values()) >= 2
    # Each transaction's two increments landed exactly once.
    assert await graph.read(_counters) == {"a": 2, "b": 2}


INCREMENT = "MATCH (c:DeadlockProbe {id: $id}) SET c.n = c.n + 1"


async def _create_pair(tx: AsyncManagedTransaction) -> None:
    await (await tx.run("UNWIND ['a', 'b'] AS id MERGE (:DeadlockProbe {id: id, n: 0})")).consume()


async def _counters(tx: AsyncManagedTransaction) -> dict[str, int]:
    result = await tx.run("MATCH (c:DeadlockProbe) RETURN c.id AS id, c.n AS n")
    return {record["id"]: record["n"] for record in await result.data()}


async def test_an_exhausted_pool_is_unavailable_not_a_bug(
    graph: Graph, test_settings: Settings
) -> None:
    """A pool whose connections are all taken answers DatabaseUnavailable (503 with
    Retry-After at every edge), not the driver's own error (a 500)."""
    driver = AsyncGraphDatabase.driver(
        test_settings.effective_neo4j_uri,
        auth=(test_settings.neo4j_user, test_settings.neo4j_password.get_secret_value()),
        max_connection_pool_size=1,
        connection_acquisition_timeout=0.3,
    )
    small = Graph(driver, graph.database)
    held = asyncio.Event()
    release = asyncio.Event()

    async def hold(tx: AsyncManagedTransaction) -> None:
        await (await tx.run("RETURN 1")).consume()
        held.set()
        await release.wait()

    try:
        holder = asyncio.create_task(small.read(hold))
        await asyncio.wait_for(held.wait(), timeout=10)
        with pytest.raises(DatabaseUnavailable, match="in use"):
            await small.read(_counters)
        release.set()
        await holder
    finally:
        release.set()
        await driver.close()
