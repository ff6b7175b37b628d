"""Referral counts for coordinators, with small cells suppressed."""

from __future__ import annotations

from datetime import datetime
from typing import LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.disclosure import shown, suppress

STATISTICS: LiteralString = """
MATCH (r:Referral)-[:DESTINATION]->(d:Area)
WHERE r.status <> 'draft' AND r.sent_at >= $since AND r.sent_at < $until
  AND ($area IS NULL OR EXISTS { MATCH (d)-[:PART_OF*0..]->(:Area {id: $area}) })
CALL (r) {
  OPTIONAL MATCH (r)-[:FOR]->(n:Need)
  RETURN collect(n.code) AS needs
}
RETURN r.status AS status, d.id AS destination, needs
"""


class Count(BaseModel):
    key: str
    # None when the true count is below the disclosure threshold (see `referral_statistics`).
    count: int | None


class ReferralStatistics(BaseModel):
    # None when below the threshold too: all its cells are then hidden, and it is one count.
    total: int | None
    by_status: list[Count]
    by_destination: list[Count]
    by_need: list[Count]


async def referral_statistics(
    tx: AsyncManagedTransaction,
    *,
    area_id: str | None,
    since: datetime,
    until: datetime,
    minimum_count: int,
) -> ReferralStatistics:
    """Counts only. Cells below `minimum_count` are suppressed (count None), with the cells
    they could be recovered from through the total, and so is a total below it
    (`core.disclosure`)."""
    result = await tx.run(STATISTICS, area=area_id, since=since, until=until)
    by_status: dict[str, int] = {}
    by_destination: dict[str, int] = {}
    by_need: dict[str, int] = {}
    total = 0
    async for r in result:
        total += 1
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        by_destination[r["destination"]] = by_destination.get(r["destination"], 0) + 1
        for need in r["needs"]:
            by_need[need] = by_need.get(need, 0) + 1

    def cells(counts: dict[str, int]) -> list[Count]:
        shown = suppress(counts, minimum_count)
        return [Count(key=k, count=shown[k]) for k in sorted(counts)]

    return ReferralStatistics(
        total=shown(total, minimum_count),
        by_status=cells(by_status),
        by_destination=cells(by_destination),
        by_need=cells(by_need),
    )
