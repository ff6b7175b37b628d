"""Retention of the personal data stored on referrals: what closed referrals keep after their
retention period. Re-encrypting under a new data key is `graph.encryption`'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import LiteralString

from neo4j import AsyncManagedTransaction

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
WITH r
// A consent covers the whole case: its free text goes with the case's last referral.
CALL (r) {
  MATCH (c:Consent {case_reference: r.case_reference})
  WHERE NOT EXISTS {
    MATCH (o:Referral {case_reference: r.case_reference}) WHERE o.purged_at IS NULL
  }
  REMOVE c.purpose_enc, c.evidence_enc, c.purpose, c.evidence_reference
}
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


async def purge_expired(graph: Graph, *, now: datetime, retention_days: int) -> int:
    """Every referral past its retention, in batches (each its own transaction, so a large
    backlog never becomes one huge transaction). Returns how many were purged."""
    total = 0
    while purged := await graph.write(purge_closed, now=now, retention_days=retention_days):
        total += purged
    return total
