"""A service's responsiveness, kept on the Service for search and for counsellors: median
hours from sending to acknowledgement, share of decided referrals accepted, share of
accepted referrals that came back with an outcome.

One definition for every writer: a transition keeps its service's current, and referrals
written in bulk (history, the benchmark's data set) recompute it once per batch of services.
"""

from __future__ import annotations

from typing import LiteralString

from neo4j import AsyncManagedTransaction

from graph.search_changes import services_changed

RESPONSIVENESS: LiteralString = """
UNWIND $ids AS id
MATCH (s:Service {id: id})
CALL (s) {
  MATCH (r:Referral)-[:TO]->(s) WHERE r.sent_at IS NOT NULL
  RETURN count(r) AS received,
         percentileCont(CASE WHEN r.acknowledged_at IS NOT NULL
                             THEN duration.inSeconds(r.sent_at, r.acknowledged_at).seconds / 3600.0
                        END, 0.5) AS ack_median,
         count(r.accepted_at) AS accepted,
         count(r.declined_at) AS declined,
         count(CASE WHEN r.accepted_at IS NOT NULL AND r.outcome IS NOT NULL THEN 1 END)
           AS with_outcome
}
SET s.referrals_received = received,
    s.ack_median_hours = CASE WHEN received > 0 THEN ack_median END,
    s.acceptance_rate = CASE WHEN accepted + declined > 0
                             THEN toFloat(accepted) / (accepted + declined) END,
    s.feedback_rate = CASE WHEN accepted > 0 THEN toFloat(with_outcome) / accepted END
RETURN count(s) AS updated
"""


async def update_responsiveness(tx: AsyncManagedTransaction, *, service_ids: list[str]) -> int:
    """Recompute the responsiveness of these services from their referrals as they stand;
    returns how many services were found."""
    result = await tx.run(RESPONSIVENESS, ids=service_ids)
    record = await result.single(strict=True)
    # The score counts these figures: the search index must see them.
    await services_changed(tx, ids=service_ids)
    return int(record["updated"])
