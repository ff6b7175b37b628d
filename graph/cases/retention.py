"""Retention of the personal data stored on return cases: what a case keeps once it has been
closed longer than the retention period. Its phase, whereabouts, destination, arrival dates,
programmes and the dates and indicators of its visits stay (the coordinators' counts are made
of them); the household, the notes, the documents, the file number and the free text of its
consent go. Referrals of the case are purged by graph/referrals/retention.py on their own
closing date.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import LiteralString

from neo4j import AsyncManagedTransaction

from graph.driver import Graph

PURGE: LiteralString = """
MATCH (c:ReturnCase)
WHERE c.closed_at < $before AND c.purged_at IS NULL
WITH c LIMIT $batch
CALL (c) { MATCH (m:HouseholdMember)-[:OF]->(c) DETACH DELETE m }
CALL (c) {
  MATCH (x)-[:OF]->(c) WHERE x:CaseEvent OR x:CaseFollowUp
  REMOVE x.note_enc
}
REMOVE c.note_enc, c.file_number, c.file_key
SET c.languages = [], c.need_codes = [], c.target_group_codes = [], c.documents = [],
    c.purged_at = $now
WITH c
// The consent's free text goes once no referral of the case still needs it.
CALL (c) {
  MATCH (k:Consent {case_reference: c.reference})
  WHERE NOT EXISTS {
    MATCH (r:Referral)-[:IN_CASE]->(c) WHERE r.purged_at IS NULL
  }
  REMOVE k.purpose_enc, k.evidence_enc, k.purpose, k.evidence_reference
}
RETURN count(c) AS purged
"""


async def purge_closed_cases(
    tx: AsyncManagedTransaction, *, now: datetime, retention_days: int, batch: int = 500
) -> int:
    """Erase the personal data of cases closed longer than the retention period. Returns how
    many were purged in this batch (call again until 0)."""
    record = await (
        await tx.run(PURGE, before=now - timedelta(days=retention_days), now=now, batch=batch)
    ).single(strict=True)
    return int(record["purged"])


async def purge_expired_cases(graph: Graph, *, now: datetime, retention_days: int) -> int:
    """Every case past its retention, in batches (each its own transaction). Returns how
    many were purged."""
    total = 0
    while purged := await graph.write(purge_closed_cases, now=now, retention_days=retention_days):
        total += purged
    return total
