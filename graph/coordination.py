"""What coordination bodies look at: duplicated provision (overlaps), gaps between demand and
supply, unequal support between returnee groups, and the 3W table.

Definitions (also in docs/coordination.md):

- A service is *local* to a municipality when it covers that municipality explicitly or has a
  site in it. Overlaps count local services only: a country-wide helpline does not make every
  town "duplicated".
- A service *supplies* a municipality for gap analysis when it covers the municipality or any
  area containing it (covering Kosovo covers Prizren) or has a site in it, and can take a
  referral now (graph/supply.py: active, verified within the stale period, not full, not
  flagged for re-verification).
- *Demand* in a municipality for a need is the number of referrals (not drafts) with that
  destination (or a place within it) and that need or a narrower one, sent in the period, plus
  referrals whose planned arrival falls in the period but were sent before it.
- Needs are matched with their narrower needs: asking for `psychosocial` counts trauma therapy.
- Counts of referrals are counts of people: they follow the one small-count rule
  (core.disclosure). A municipality's demand for a need is hidden below the minimum, with
  the demand of other municipalities for that need that it could be recovered from; a
  service's referral count in an overlap is hidden below the minimum (no total is shown).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, Field

from core.disclosure import shown, suppress
from core.errors import NotFound, ValidationFailed
from graph.eligibility import RESTRICTED_TO, closed_to, open_to
from graph.supply import CAN_TAKE_REFERRAL, NOT_COUNTED_BECAUSE


def period(since: date | None, until: date | None, now: datetime) -> tuple[datetime, datetime]:
    """The window that demand and referral volumes are counted in: the days given, or the
    last 12 months up to now."""
    end = datetime.combine(until, time(), UTC) if until else now
    start = datetime.combine(since, time(), UTC) if since else end - timedelta(days=365)
    if start >= end:
        raise ValidationFailed.single("since", "must be before until")
    return start, end


# --- overlaps ----------------------------------------------------------------------------------

OVERLAPS: LiteralString = (
    """
MATCH (scope:Area {id: $area})
MATCH (m:Area {level: 'municipality'})-[:PART_OF*0..]->(scope)
MATCH (asked:Need) WHERE $need IS NULL OR asked.code = $need
MATCH (n:Need)-[:BROADER*0..]->(asked)
WITH DISTINCT m, n
CALL (m, n) {
  MATCH (m)<-[:COVERS]-(s:Service)-[:ADDRESSES]->(n)
  RETURN s
  UNION
  MATCH (m)<-[:IN]-(:Location)<-[:DELIVERED_AT]-(s:Service)-[:ADDRESSES]->(n)
  RETURN s
}
WITH m, n, s
WHERE s.status = 'active'
  AND ($group IS NULL OR EXISTS { (s)-[:SERVES]->(:TargetGroup {code: $group}) }
       OR NOT EXISTS { (s)-[:SERVES]->(:TargetGroup) })
MATCH (o:Organisation)-[:PROVIDES]->(s)
WITH m, n, collect(DISTINCT {service: s.id, name: s.name, organisation: o.id,
                              organisation_name: o.name, capacity: coalesce(s.capacity, 'unknown'),
                              referrals: COUNT { (r:Referral)-[:TO]->(s)
                                                 WHERE r.sent_at >= $since },
                              counted: """
    + CAN_TAKE_REFERRAL
    + """,
                              not_counted_because: """
    + NOT_COUNTED_BECAUSE
    + """}) AS services
// The number of distinct organisations among the services that count as supply (Cypher has
// no list-distinct).
WITH m, n, services,
     size(reduce(seen = [], x IN [x IN services WHERE x.counted] |
          CASE WHEN x.organisation IN seen THEN seen ELSE seen + x.organisation END)) AS orgs
WHERE orgs >= 2
RETURN m.id AS area, n.code AS need, services, orgs
ORDER BY orgs DESC, area, need
LIMIT $limit
"""
)


class OverlapService(BaseModel):
    service: str
    name: str
    organisation: str
    organisation_name: str
    capacity: str
    # None below the disclosure threshold.
    referrals: int | None
    # Whether it counts as supply (graph/supply.py); if not, why.
    counted: bool
    not_counted_because: str | None


class Overlap(BaseModel):
    area_id: str
    need: str
    organisations: int
    services: list[OverlapService]


async def service_overlaps(
    tx: AsyncManagedTransaction,
    *,
    area_id: str,
    need: str | None,
    target_group: str | None,
    since: datetime,
    stale_after_days: int,
    now: datetime,
    minimum_count: int,
    limit: int = 200,
) -> list[Overlap]:
    """Groups of active local services of two or more organisations for the same need (and
    target group, if asked) in the same municipality, with capacity and referral volume.
    Only services that count as supply (graph/supply.py) make an overlap: two offices of
    which one is full or flagged after "no capacity" do not duplicate each other. The
    group lists the others too, with the reason they do not count."""
    await _require_area(tx, area_id)
    await _require_needs(tx, [need] if need else [])
    result = await tx.run(
        OVERLAPS,
        area=area_id,
        need=need,
        group=target_group,
        since=since,
        limit=limit,
        fresh_after=now - timedelta(days=stale_after_days),
        not_eligible=[],
    )
    return [
        Overlap(
            area_id=r["area"],
            need=r["need"],
            organisations=r["orgs"],
            services=sorted(
                (
                    OverlapService(**(s | {"referrals": shown(s["referrals"], minimum_count)}))
                    for s in r["services"]
                ),
                key=lambda s: (not s.counted, s.organisation, s.name),
            ),
        )
        async for r in result
    ]


async def _require_area(tx: AsyncManagedTransaction, area_id: str) -> None:
    found = await (await tx.run("MATCH (a:Area {id: $id}) RETURN a.id", id=area_id)).single()
    if found is None:
        raise NotFound("area", area_id)


async def _require_needs(tx: AsyncManagedTransaction, codes: list[str]) -> None:
    result = await tx.run(
        "UNWIND $codes AS code WITH code WHERE NOT EXISTS { (:Need {code: code}) } RETURN code",
        codes=codes,
    )
    unknown = [r["code"] async for r in result]
    if unknown:
        raise NotFound("need", unknown[0])


# --- gaps ---------------------------------------------------------------------------------

# The gap matrix in a few reads, each anchored at the scope (subqueries keep the planner from
# starting at every municipality or service of the world) and each walking its part of the
# graph once for the whole country: the asked needs with their narrower ones; services
# covering the scope or an area containing it (the same for every municipality); services
# local to each municipality (covering it or a region between it and the scope, or with a site
# in it); referrals to the scope's municipalities grouped by their needs. Python joins them.
NEED_SETS: LiteralString = """
UNWIND $needs AS code
MATCH (asked:Need {code: code})
RETURN code, COLLECT { MATCH (n:Need)-[:BROADER*0..]->(asked) RETURN n.code } AS codes
"""

MUNICIPALITIES: LiteralString = """
MATCH (scope:Area {id: $area})
CALL (scope) {
  MATCH (scope)<-[:PART_OF*0..]-(m:Area) WHERE m.level = 'municipality' RETURN m
}
RETURN m.id AS area, m.centroid AS centroid
ORDER BY area
"""

# What counts as supply is graph/supply.py's one definition; the reads below list active
# services and say of each whether it counts and, if not, why.

SUPPLY_ABOVE: LiteralString = (
    """
MATCH (scope:Area {id: $area})
CALL (scope) { MATCH (scope)-[:PART_OF*0..]->(a:Area) RETURN a }
CALL (a) { MATCH (a)<-[:COVERS]-(s:Service) WHERE s.status = 'active' RETURN s }
WITH DISTINCT s
// need_codes is the search fact kept on every service (graph/services/writes.py): no expansion.
WITH s, [c IN coalesce(s.need_codes, []) WHERE c IN $codes] AS codes
WHERE codes <> []
RETURN s.id AS id, """
    + CAN_TAKE_REFERRAL
    + """ AS counted, """
    + NOT_COUNTED_BECAUSE
    + """ AS why, codes
"""
)

# Counted in the database: a country's municipalities have tens of thousands of local
# (municipality, service) pairs, and carrying each one to Python cost more than finding it.
# Services that cover the scope or an area above it are counted once, in Python, for every
# municipality (`$above`), so they are left out here.
SUPPLY_LOCAL: LiteralString = (
    """
MATCH (scope:Area {id: $area})
CALL (scope) {
  MATCH path = (scope)<-[:PART_OF*0..]-(m:Area) WHERE m.level = 'municipality'
  RETURN m, nodes(path)[1..] AS below
}
// COVERS and DELIVERED_AT only ever start at a Service, IN at a Location and PART_OF joins
// areas (graph/services/writes.py, graph/areas.py): the patterns leave out labels the types imply,
// which spares a label check on each of the tens of thousands of rows of a country.
CALL (m, below) {
  UNWIND below AS a
  MATCH (a)<-[:COVERS]-(s)
  WHERE s.status = 'active'
  RETURN s
  UNION
  MATCH (m)<-[:PART_OF*0..]-()<-[:IN]-()<-[:DELIVERED_AT]-(s)
  WHERE s.status = 'active'
  RETURN s
}
WITH m, s WHERE NOT s.id IN $above
UNWIND $needs AS need
WITH m, need, s WHERE any(c IN coalesce(s.need_codes, []) WHERE c IN need.codes)
RETURN m.id AS area, need.code AS need, count(s) AS listed,
       count(CASE WHEN """
    + CAN_TAKE_REFERRAL
    + """ THEN 1 END) AS supply,
       collect("""
    + NOT_COUNTED_BECAUSE
    + """) AS why
"""
)

DEMAND: LiteralString = """
MATCH (scope:Area {id: $area})
CALL (scope) {
  MATCH (scope)<-[:PART_OF*0..]-(m:Area) WHERE m.level = 'municipality' RETURN m
}
CALL (m) {
  MATCH (m)<-[:PART_OF*0..]-(:Area)<-[:DESTINATION]-(r:Referral)
  WHERE r.status <> 'draft'
    AND ((r.sent_at >= $since AND r.sent_at < $until)
         OR (r.sent_at < $since AND r.planned_arrival >= date($since)
             AND r.planned_arrival < date($until)))
  // need_codes is kept on every referral (graph/referrals/lifecycle.py): no expansion.
  RETURN r.need_codes AS codes, count(*) AS referrals
}
RETURN m.id AS area, codes, sum(referrals) AS referrals
"""

# The nearest site (within `$radius` metres, through the point index) of an active service
# for the need, outside the municipality, that the asked sending country may use.
NEAREST: LiteralString = """
UNWIND $cells AS cell
MATCH (m:Area {id: cell.area})
CALL (m, cell) {
  MATCH (l:Location)
  WHERE point.distance(l.point, m.centroid) < $radius AND NOT EXISTS { (l)-[:IN]->(m) }
  MATCH (l)<-[:DELIVERED_AT]-(s:Service {status: 'active'})
  WHERE EXISTS { (s)-[:ADDRESSES]->(n:Need) WHERE n.code IN cell.codes }
    AND NOT s.id IN $not_eligible
  WITH s, min(point.distance(l.point, m.centroid)) AS metres
  ORDER BY metres, s.id LIMIT 1
  MATCH (o:Organisation)-[:PROVIDES]->(s)
  RETURN s.id AS service, s.name AS name, o.name AS organisation, metres
}
RETURN cell.area AS area, cell.need AS need, service, name, organisation, metres
"""
NEAREST_RADIUS_KM = 150


class NearestPartner(BaseModel):
    service_id: str
    service_name: str
    organisation_name: str
    distance_km: float


class GapCell(BaseModel):
    area_id: str
    lat: float | None
    lon: float | None
    need: str
    # None below the disclosure threshold (see `service_gaps`); a hidden cell has demand.
    demand: int | None
    supply: int
    # Active services that cover the area but cannot take a referral now (graph/supply.py),
    # and how many for each reason.
    listed_not_counted: int
    not_counted: dict[str, int] = Field(default_factory=dict)
    # None with the demand it would give back.
    gap_score: float | None
    nearest_partner: NearestPartner | None

    @property
    def unmet(self) -> bool:
        # A cell is hidden only with someone in it (core.disclosure): hidden demand is demand.
        return (self.demand is None or self.demand > 0) and self.supply == 0


def gap_score(demand: int | None, supply: int) -> float | None:
    """Demand per available service, with one imaginary service so that an area with demand
    and no supply scores its whole demand; 0 without demand."""
    return None if demand is None else round(demand / (supply + 1), 3)


async def service_gaps(
    tx: AsyncManagedTransaction,
    *,
    area_id: str,
    needs: list[str],
    since: datetime,
    until: datetime,
    stale_after_days: int,
    now: datetime,
    minimum_count: int,
    sending_country: str | None = None,
) -> list[GapCell]:
    """The gap matrix of a country or region: per municipality and need, demand against
    supply. Cells with demand and no supply come first, then by gap score; hidden ones after
    the shown ones of their group, by area, so that the order gives nothing away. Asked for
    returnees from one sending country, supply counts only the services the eligibility
    rule opens to them; the others are listed as `not eligible`.

    Each need's demand across the municipalities is one breakdown of the referrals for it
    (which the coordinators' statistics total): small cells are hidden with the cells they
    could be recovered from (`core.disclosure.suppress`)."""
    await _require_area(tx, area_id)
    await _require_needs(tx, needs)
    not_eligible = await closed_to(tx, country=sending_country)
    expanded = {r["code"]: set(r["codes"]) async for r in await tx.run(NEED_SETS, needs=needs)}
    municipalities = [r async for r in await tx.run(MUNICIPALITIES, area=area_id)]
    # Only services for one of the asked needs (or a narrower one) come back.
    codes = sorted(set().union(*expanded.values()))
    fresh_after = now - timedelta(days=stale_after_days)
    # Services of the whole scope or above: (counted, codes), the same for every municipality.
    above = {
        r["id"]: (r["counted"], set(r["codes"]), r["why"])
        async for r in await tx.run(
            SUPPLY_ABOVE,
            area=area_id,
            codes=codes,
            fresh_after=fresh_after,
            not_eligible=not_eligible,
        )
    }
    local: dict[tuple[str, str], tuple[int, int, list[str]]] = {}
    result = await tx.run(
        SUPPLY_LOCAL,
        area=area_id,
        above=list(above),
        needs=[{"code": need, "codes": sorted(expanded[need])} for need in needs],
        fresh_after=fresh_after,
        not_eligible=not_eligible,
    )
    async for r in result:
        local[(r["area"], r["need"])] = (r["listed"], r["supply"], r["why"])
    referrals: dict[str, list[tuple[set[str], int]]] = {}
    async for r in await tx.run(DEMAND, area=area_id, since=since, until=until):
        referrals.setdefault(r["area"], []).append((set(r["codes"]), r["referrals"]))
    above_counts = {
        need: (
            sum(1 for _, codes, _ in above.values() if codes & expanded[need]),
            sum(1 for counted, codes, _ in above.values() if counted and codes & expanded[need]),
            [why for counted, codes, why in above.values() if codes & expanded[need] and why],
        )
        for need in needs
    }
    rows = []
    for m in municipalities:
        for need in needs:
            wanted = expanded[need]
            listed, supply, why = local.get((m["area"], need), (0, 0, []))
            listed += above_counts[need][0]
            supply += above_counts[need][1]
            why = [*why, *above_counts[need][2]]
            demand = sum(n for codes, n in referrals.get(m["area"], []) if codes & wanted)
            rows.append(
                {
                    "area": m["area"],
                    "centroid": m["centroid"],
                    "need": need,
                    "supply": supply,
                    "listed": listed,
                    "demand": demand,
                    "why": dict(sorted(Counter(w for w in why if w).items())),
                }
            )
    missing = [
        {"area": r["area"], "need": r["need"], "codes": sorted(expanded[r["need"]])}
        for r in rows
        if r["supply"] == 0
    ]
    nearest: dict[tuple[str, str], NearestPartner] = {}
    if missing:
        result = await tx.run(
            NEAREST,
            cells=missing,
            radius=NEAREST_RADIUS_KM * 1000,
            not_eligible=not_eligible,
        )
        async for r in result:
            if r["service"] is not None:
                nearest[(r["area"], r["need"])] = NearestPartner(
                    service_id=r["service"],
                    service_name=r["name"],
                    organisation_name=r["organisation"],
                    distance_km=round(r["metres"] / 1000, 1),
                )
    published: dict[tuple[str, str], int | None] = {}
    for need in needs:
        of_need = {r["area"]: r["demand"] for r in rows if r["need"] == need}
        column = suppress(of_need, minimum_count)
        published |= {(area, need): count for area, count in column.items()}
    cells = [
        GapCell(
            area_id=r["area"],
            lat=r["centroid"].y if r["centroid"] is not None else None,
            lon=r["centroid"].x if r["centroid"] is not None else None,
            need=r["need"],
            demand=published[(r["area"], r["need"])],
            supply=r["supply"],
            listed_not_counted=r["listed"] - r["supply"],
            not_counted=r["why"],
            gap_score=gap_score(published[(r["area"], r["need"])], r["supply"]),
            nearest_partner=nearest.get((r["area"], r["need"])),
        )
        for r in rows
    ]
    return sorted(
        cells,
        key=lambda c: (
            not c.unmet,
            c.gap_score is None,
            -(c.gap_score or 0.0),
            c.area_id,
            c.need,
        ),
    )


# --- unequal support ----------------------------------------------------------------------

SUPPORT: LiteralString = (
    """
MATCH (d:Area {id: $destination})
MATCH (asked:Need {code: $need})
CALL (d, asked) {
  MATCH (n:Need)-[:BROADER*0..]->(asked)
  MATCH (d)-[:PART_OF*0..]->(:Area)<-[:COVERS]-(s:Service)-[:ADDRESSES]->(n)
  RETURN s
  UNION
  MATCH (n:Need)-[:BROADER*0..]->(asked)
  MATCH (d)<-[:PART_OF*0..]-(:Area)<-[:IN]-(:Location)<-[:DELIVERED_AT]-(s:Service)
        -[:ADDRESSES]->(n)
  RETURN s
}
WITH DISTINCT s WHERE s.status IN ['active', 'temporarily_closed']
MATCH (o:Organisation)-[:PROVIDES]->(s)
RETURN s.id AS id, s.name AS name, o.name AS organisation,
       """
    + RESTRICTED_TO
    + """ AS countries,
       COLLECT { MATCH (s)-[:FUNDED_BY]->(p:Programme)
                 RETURN {id: p.id, name: p.name, countries: coalesce(p.sending_countries, [])} }
         AS programmes
ORDER BY s.name, s.id
"""
)


class SupportService(BaseModel):
    id: str
    name: str
    organisation: str


class SupportRow(BaseModel):
    """What a returnee from `sending_country` can use at the destination for the need."""

    sending_country: str
    services: list[SupportService]
    programmes: list[str]
    # Services open to returnees from anywhere, included in `services`.
    open_to_all: int


class SupportComparison(BaseModel):
    destination_id: str
    need: str
    rows: list[SupportRow]


async def support_comparison(
    tx: AsyncManagedTransaction,
    *,
    destination_id: str,
    need: str,
    sending_countries: list[str],
) -> SupportComparison:
    """Per sending country, the services and programmes open to its returnees for the need
    at the destination. A service restricted to some countries (or funded only by
    programmes for some countries) is open to those only. Without a list of countries, every
    country some service or programme names is compared."""
    await _require_area(tx, destination_id)
    await _require_needs(tx, [need])
    services = [r async for r in await tx.run(SUPPORT, destination=destination_id, need=need)]
    named = {c for r in services for c in r["countries"]} | {
        c for r in services for p in r["programmes"] for c in p["countries"]
    }
    countries = sorted({c.upper() for c in sending_countries} or named)
    rows = []
    for country in countries:
        open_services: list[SupportService] = []
        programmes: set[str] = set()
        everyone = 0
        for r in services:
            funding = r["programmes"]
            # The eligibility rule, applied by the query (graph/eligibility.py).
            restricted: list[str] = r["countries"]
            if not open_to([country], restricted):
                continue
            everyone += not restricted
            open_services.append(
                SupportService(id=r["id"], name=r["name"], organisation=r["organisation"])
            )
            programmes |= {
                p["name"] for p in funding if not p["countries"] or country in p["countries"]
            }
        rows.append(
            SupportRow(
                sending_country=country,
                services=open_services,
                programmes=sorted(programmes),
                open_to_all=everyone,
            )
        )
    return SupportComparison(destination_id=destination_id, need=need, rows=rows)


# --- 3W: who does what where ---------------------------------------------------------------------

# One row per active or temporarily closed service, need and area it covers (or its site's
# area), within the country. Names come as stored per language; the caller picks one.
THREE_W: LiteralString = """
MATCH (country:Area {id: $country})
MATCH (o:Organisation)-[:PROVIDES]->(s:Service)-[:ADDRESSES]->(n:Need)
WHERE s.status IN ['active', 'temporarily_closed']
CALL (s, country) {
  MATCH (s)-[:COVERS]->(a:Area)-[:PART_OF*0..]->(country)
  RETURN a
  UNION
  MATCH (s)-[:DELIVERED_AT]->(:Location)-[:IN]->(a:Area)-[:PART_OF*0..]->(country)
  RETURN a
}
OPTIONAL MATCH (a)-[:PART_OF]->(parent:Area)
RETURN o.name AS organisation, o.kind AS kind, o.acronym AS acronym,
       s.id AS service_id, s.name AS service, s.status AS status,
       s.capacity AS capacity, s.created_at AS start,
       n.code AS need, properties(n) AS need_props,
       a.id AS area_id, a.level AS level, properties(a) AS area_props,
       parent.id AS parent_id, parent.level AS parent_level, properties(parent) AS parent_props,
       COLLECT { MATCH (s)-[:SERVES]->(t:TargetGroup) RETURN properties(t) ORDER BY t.code }
         AS target_groups
ORDER BY organisation, service, need, area_id
"""


async def three_w(tx: AsyncManagedTransaction, *, country: str) -> list[dict[str, Any]]:
    await _require_area(tx, country)
    return [dict(r) async for r in await tx.run(THREE_W, country=country)]
