"""Retention and key rotation of the personal data stored on referrals: what closed referrals
keep after their retention period, and re-encrypting under the newest data key.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import LiteralString

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from graph.driver import Graph

PURGE: LiteralString = """
MATCH (r:Referral)
WHERE r.closed_at < $before AND r.purged_at IS NULL
WITH r LIMIT $batch
OPTIONAL MATCH (x)-[:OF]->(r) WHERE x:ReferralEvent OR x:FollowUp
REMOVE x.note_enc
WITH DISTINCT r
REMOVE r.note_enc, r.contact_enc, r.health_enc
SET r.documents = [], r.purged_at = $now
RETURN count(r) AS purged
"""


async def purge_closed(
    tx: AsyncManagedTransaction, *, now: datetime, retention_days: int, batch: int = 500
) -> int:
    """Erase the personal categories of referrals closed longer than the retention period;
    status, needs, destination, dates and household shape stay as anonymous statistics.
    Returns how many were purged in this batch (call again until 0)."""
    record = await (
        await tx.run(PURGE, before=now - timedelta(days=retention_days), now=now, batch=batch)
    ).single(strict=True)
    return int(record["purged"])


ENCRYPTED: LiteralString = """
MATCH (x) WHERE (x:Referral OR x:ReferralEvent OR x:FollowUp)
  AND (x.note_enc IS NOT NULL OR x.contact_enc IS NOT NULL OR x.health_enc IS NOT NULL)
  AND elementId(x) > $after
RETURN elementId(x) AS ref, x.note_enc AS note_enc, x.contact_enc AS contact_enc,
       x.health_enc AS health_enc
ORDER BY ref LIMIT $batch
"""

REWRITE: LiteralString = """
UNWIND $rows AS row
MATCH (x) WHERE elementId(x) = row.ref
SET x += row.values
"""


async def rotate_batch(
    tx: AsyncManagedTransaction, *, cipher: DataCipher, after: str, batch: int = 500
) -> tuple[str, int] | None:
    """Re-encrypt one batch of stored personal values under the newest key; returns the
    position to continue from and the batch's size, or None when done."""
    result = await tx.run(ENCRYPTED, after=after, batch=batch)
    rows = []
    last: str | None = None
    async for r in result:
        last = r["ref"]
        values = {
            key: cipher.rotate(r[key])
            for key in ("note_enc", "contact_enc", "health_enc")
            if r[key] is not None
        }
        rows.append({"ref": r["ref"], "values": values})
    if not rows or last is None:
        return None
    await tx.run(REWRITE, rows=rows)
    return last, len(rows)


async def purge_expired(graph: Graph, *, now: datetime, retention_days: int) -> int:
    """Every referral past its retention, in batches (each its own transaction, so a large
    backlog never becomes one huge transaction). Returns how many were purged."""
    total = 0
    while purged := await graph.write(purge_closed, now=now, retention_days=retention_days):
        total += purged
    return total


async def rotate_all(graph: Graph, *, cipher: DataCipher) -> int:
    """Re-encrypt every stored personal value under the newest key; batches as above.
    Returns how many nodes were rewritten (values already under the newest key included)."""
    position, nodes = "", 0
    while (done := await graph.write(rotate_batch, cipher=cipher, after=position)) is not None:
        position, count = done
        nodes += count
    return nodes
