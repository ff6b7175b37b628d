"""Return cases for coordinators, as counts only, with small cells suppressed as for
referrals: planned arrivals per municipality and month (a sudden influx shows before it
arrives), cases by phase and whereabouts, how many arrived cases were visited at 6 and 12
months, and how many households left again.
"""

from __future__ import annotations

from datetime import date
from typing import LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.disclosure import share, shown, suppress
from graph.referrals.reads import add_months
from graph.referrals.statistics import Count

PLANNED: LiteralString = """
MATCH (c:ReturnCase)-[:DESTINATION]->(d:Area)
WHERE c.phase = 'preparing' AND c.planned_arrival >= $since AND c.planned_arrival < $until
  AND ($area IS NULL OR EXISTS { MATCH (d)-[:PART_OF*0..]->(:Area {id: $area}) })
WITH c, COLLECT { MATCH (d)-[:PART_OF*0..]->(m:Area {level: 'municipality'}) RETURN m.id }[0]
  AS municipality
WHERE municipality IS NOT NULL
RETURN municipality, substring(toString(c.planned_arrival), 0, 7) AS month,
       count(c) AS households,
       sum(COUNT { MATCH (:HouseholdMember)-[:OF]->(c) }) AS people
ORDER BY municipality, month
"""


class ArrivalCell(BaseModel):
    municipality_id: str
    month: str
    # None when below the disclosure threshold.
    households: int | None
    people: int | None


async def planned_arrivals(
    tx: AsyncManagedTransaction,
    *,
    since: date,
    until: date,
    area_id: str | None,
    minimum_count: int,
) -> list[ArrivalCell]:
    """Households still preparing whose planned arrival falls in [since, until), per
    municipality of destination and month."""
    rows = [r async for r in await tx.run(PLANNED, since=since, until=until, area=area_id)]
    # The cells add up to the cases preparing that `case_statistics` counts by phase: hidden
    # with the cells they could be recovered from (core.disclosure).
    households = suppress(
        {(r["municipality"], r["month"]): r["households"] for r in rows}, minimum_count
    )
    cells = []
    for r in rows:
        count = households[(r["municipality"], r["month"])]
        cells.append(
            ArrivalCell(
                municipality_id=r["municipality"],
                month=r["month"],
                households=count,
                # One household's size is never shown: people only beside a shown household
                # count.
                people=shown(r["people"], minimum_count) if count is not None else None,
            )
        )
    return cells


CASES: LiteralString = """
MATCH (c:ReturnCase)
WHERE $area IS NULL
   OR EXISTS { MATCH (c)-[:DESTINATION]->(:Area)-[:PART_OF*0..]->(:Area {id: $area}) }
RETURN c.phase AS phase, c.whereabouts AS whereabouts,
  coalesce(c.actual_arrival, c.planned_arrival) AS arrival,
  c.phase <> 'preparing' AS arrived,
  COLLECT { MATCH (f:CaseFollowUp)-[:OF]->(c) RETURN DISTINCT f.months_after_arrival } AS visited,
  EXISTS { MATCH (e:CaseEvent {whereabouts: 're_migrated'})-[:OF]->(c) } AS re_migrated
"""


class CaseStatistics(BaseModel):
    # None when below the disclosure threshold, like every cell.
    total: int | None
    by_phase: list[Count]
    by_whereabouts: list[Count]
    # Among the arrived cases at least 6 (12) months past arrival, the share visited then.
    followed_up_at_6_months: float | None
    followed_up_at_12_months: float | None
    # Among the arrived cases, the share that re-migrated at some point.
    re_migration_rate: float | None


async def case_statistics(
    tx: AsyncManagedTransaction, *, area_id: str | None, today: date, minimum_count: int
) -> CaseStatistics:
    """Cells, total and shares follow the one small-count rule (core.disclosure): a rate
    over three households says what happened to each of them, and a total minus the cells
    shown would give back a hidden one."""
    by_phase: dict[str, int] = {}
    by_whereabouts: dict[str, int] = {}
    due = {6: [0, 0], 12: [0, 0]}
    arrived = re_migrated = total = 0
    async for r in await tx.run(CASES, area=area_id):
        total += 1
        by_phase[r["phase"]] = by_phase.get(r["phase"], 0) + 1
        by_whereabouts[r["whereabouts"]] = by_whereabouts.get(r["whereabouts"], 0) + 1
        if not r["arrived"]:
            continue
        arrived += 1
        re_migrated += int(r["re_migrated"])
        arrival = r["arrival"].to_native() if r["arrival"] is not None else None
        for months, counts in due.items():
            if arrival is not None and add_months(arrival, months) <= today:
                counts[0] += 1
                counts[1] += int(months in r["visited"])

    def cells(counts: dict[str, int]) -> list[Count]:
        published = suppress(counts, minimum_count)
        return [Count(key=k, count=published[k]) for k in sorted(counts)]

    return CaseStatistics(
        total=shown(total, minimum_count),
        by_phase=cells(by_phase),
        by_whereabouts=cells(by_whereabouts),
        followed_up_at_6_months=share(due[6][1], due[6][0], minimum_count),
        followed_up_at_12_months=share(due[12][1], due[12][0], minimum_count),
        re_migration_rate=share(re_migrated, arrived, minimum_count),
    )
