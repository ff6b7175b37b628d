"""The change feed of the search facts: which services changed what a search filters or
ranks on, so that every API process can keep its in-process search index
(`graph.search_index`) exactly current without rereading the directory.

One `(:SearchClock {id: 'directory'})` node holds an `epoch` (a random id given when the clock
is made) and a `stamp` (a counter). Every write that changes a service's search facts, in its
own transaction, advances the stamp and writes it on the services it changed
(`search_stamp`, indexed). A process whose index was built at stamp W reads the clock in the
search's read transaction and, when the stamp moved, reads only the services stamped above W.

Why this is safe across processes: advancing the stamp takes the clock's write lock, held
until the writing transaction ends, so stamps commit in the order they were given; a reader
that sees stamp K has every service stamped at or below K committed. A changed epoch (the
graph was restored from a backup or wiped and written again) or a missing clock means the
feed cannot be trusted, and the index is built anew (meanwhile the Cypher query serves).

The writers: `graph.services.writes.upsert_services` (registration, edits, imports, seed),
verification, capacity and a reverification flag (`graph.services.verification`), referral
statistics (`graph.referrals.responsiveness`), `SAME_AS` decisions (`graph.duplicates.review`),
programmes (whose sending countries decide eligibility) and a restore.

Organisations are stamped on the same clock (`organisations_changed`: imports and
`update_organisation`): the search's result pages keep the models of their services and
organisations in memory (`graph.search_cache`), and an edited organisation must not be shown
as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import LiteralString

from neo4j import AsyncManagedTransaction

CLOCK_ID = "directory"

# MERGE on the clock's unique id (migration 18) so that the first write after a wipe makes it
# once; SET takes its write lock before any service is stamped.
STAMP_SERVICES: LiteralString = """
MERGE (c:SearchClock {id: 'directory'})
ON CREATE SET c.epoch = randomUUID(), c.stamp = 0
SET c.stamp = c.stamp + 1
WITH c
UNWIND $ids AS id
MATCH (s:Service {id: id})
SET s.search_stamp = c.stamp
"""

STAMP_FUNDED: LiteralString = """
MERGE (c:SearchClock {id: 'directory'})
ON CREATE SET c.epoch = randomUUID(), c.stamp = 0
SET c.stamp = c.stamp + 1
WITH c
UNWIND $programmes AS id
MATCH (:Programme {id: id})<-[:FUNDED_BY]-(s:Service)
SET s.search_stamp = c.stamp
"""

STAMP_ORGANISATIONS: LiteralString = """
MERGE (c:SearchClock {id: 'directory'})
ON CREATE SET c.epoch = randomUUID(), c.stamp = 0
SET c.stamp = c.stamp + 1
WITH c
UNWIND $ids AS id
MATCH (o:Organisation {id: id})
SET o.search_stamp = c.stamp
"""

# Everything may have changed (a restore): a new epoch makes every index rebuild. The stamp
# goes on from the highest one the restored services carry, so that they do not all count
# as changed at the next write.
RESTART: LiteralString = """
OPTIONAL MATCH (s:Service) WHERE s.search_stamp IS NOT NULL
WITH max(s.search_stamp) AS top
MERGE (c:SearchClock {id: 'directory'})
SET c.epoch = randomUUID(), c.stamp = coalesce(top, 0)
"""

# The number of services comes from Neo4j's count store (no scan); an index that holds
# another number missed a write that bypassed the feed and rebuilds.
CLOCK: LiteralString = """
MATCH (s:Service) WITH count(s) AS services
OPTIONAL MATCH (c:SearchClock {id: 'directory'})
RETURN c.epoch AS epoch, c.stamp AS stamp, services
"""


@dataclass(frozen=True, slots=True)
class Clock:
    epoch: str | None  # None: no clock (a wiped graph nothing was written to since)
    stamp: int
    services: int


async def services_changed(tx: AsyncManagedTransaction, *, ids: list[str]) -> None:
    """Say that these services' search facts changed in this transaction."""
    if ids:
        await tx.run(STAMP_SERVICES, ids=ids)


async def programmes_changed(tx: AsyncManagedTransaction, *, ids: list[str]) -> None:
    """A programme's sending countries decide the eligibility of the services it funds."""
    if ids:
        await tx.run(STAMP_FUNDED, programmes=ids)


async def organisations_changed(tx: AsyncManagedTransaction, *, ids: list[str]) -> None:
    """Say that these organisations' own descriptions changed in this transaction."""
    if ids:
        await tx.run(STAMP_ORGANISATIONS, ids=ids)


# The organisations changed since a watermark, up to the clock a search read.
CHANGED_ORGANISATIONS: LiteralString = """
MATCH (o:Organisation) WHERE o.search_stamp > $since AND o.search_stamp <= $until
RETURN collect(o.id) AS ids
"""


async def changed_organisations(
    tx: AsyncManagedTransaction, *, since: int, until: int
) -> list[str]:
    """The organisations stamped in (since, until]."""
    result = await tx.run(CHANGED_ORGANISATIONS, since=since, until=until)
    return list((await result.single(strict=True))["ids"])


async def restart_clock(tx: AsyncManagedTransaction) -> None:
    await tx.run(RESTART)


async def read_clock(tx: AsyncManagedTransaction) -> Clock:
    record = await (await tx.run(CLOCK)).single(strict=True)
    return Clock(
        epoch=record["epoch"], stamp=int(record["stamp"] or 0), services=int(record["services"])
    )
