"""Partner search: services for a returnee's needs near the place of return, ranked with
reasons. The matching rules and the score are documented in docs/search.md; this module is
their single implementation, and one cohesive thing: the four queries, the score and the
reasons are one pass over one set of facts, so they stay in one module.

A search is at most four Cypher queries in one read transaction, whatever the size of the
directory:
1. the destination (an area by id or by any spelling of its name, or the municipality
   nearest to a point), with the chain of areas containing it;
2. the requested needs with their narrower terms (unknown codes get suggestions);
3. only with a free-text query: the full-text index;
4. the ranked page: candidates filtered and scored in the database, sorted, cut to the page,
   with the total and the needs answered as aggregates of the same pass;
and, for the API (`with_services`), the page's services and their organisations.
The chain of an area and the expansion of a need come from the gazetteer and the taxonomy,
so `graph.reference.ReferenceCache` keeps them per process and queries 1 and 2 mostly
disappear.

Query 4 is where the time goes on a large directory (thousands of candidates in a capital),
so it reads only list properties kept on each service (set by `graph.services.writes.UPSERT`)
instead of expanding relationships per candidate, computes the score there, and returns
the facts the reasons need for the page rows only; Python words nothing but the page. The
score's constants live here and reach the query as parameters. Distances are Neo4j's
`point.distance` (great-circle on WGS-84) both for the radius filter and for the figure shown.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, LiteralString, NoReturn, Protocol

from neo4j import AsyncManagedTransaction
from neo4j.spatial import WGS84Point
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.errors import FieldProblem, ValidationFailed
from core.languages import iso639_codes
from core.text import close_matches, did_you_mean, fold
from graph.areas import (
    Area,
    AreaLevel,
    GeoPoint,
    PlaceResolution,
    area_containing,
    area_from_record,
    resolve_place,
    suggest_places,
)
from graph.eligibility import RESTRICTED_TO, RESTRICTING_PROGRAMMES
from graph.organisations import Organisation, organisations_by_ids
from graph.pagination import MAX_PAGE_SIZE, decode_cursor, encode_cursor
from graph.reference import ReferenceCache
from graph.services import (
    Capacity,
    DeliveryMode,
    Freshness,
    ReturnType,
    Service,
    ServiceStatus,
    freshness,
    services_by_ids,
)
from graph.temporal import native

DEFAULT_RADIUS_KM = 25.0
MAX_RADIUS_KM = 200.0


class PartnerSearch(BaseModel):
    """What a counsellor asks for. Hard filters: needs, geography, status, eligibility
    (sending country, return type). Everything else only ranks."""

    model_config = ConfigDict(str_strip_whitespace=True)

    needs: list[str] = Field(min_length=1, max_length=10)
    area_id: str | None = Field(default=None, max_length=64)
    place: str | None = Field(default=None, min_length=1, max_length=120)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_km: float = Field(default=DEFAULT_RADIUS_KM, gt=0, le=MAX_RADIUS_KM)
    target_groups: list[str] = Field(default_factory=list, max_length=20)
    languages: list[str] = Field(default_factory=list, max_length=10)
    sending_country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    programme: str | None = Field(default=None, max_length=80)
    return_type: ReturnType | None = None
    include_remote: bool = True
    text: str | None = Field(default=None, max_length=200)
    include_full: bool = True
    include_temporarily_closed: bool = False

    @field_validator("needs", "target_groups")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return list(dict.fromkeys(v.strip() for v in values if v.strip()))

    @field_validator("needs")
    @classmethod
    def _some_need(cls, values: list[str]) -> list[str]:
        # Blank codes are dropped above; a search must still ask for something, or every
        # need filter (the ranked query's and the index's) has nothing to match on.
        if not values:
            raise ValueError("give at least one need code")
        return values

    @field_validator("languages")
    @classmethod
    def _iso639(cls, values: list[str]) -> list[str]:
        return iso639_codes(values)

    @field_validator("sending_country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @model_validator(mode="after")
    def _one_destination(self) -> PartnerSearch:
        given = [
            self.area_id is not None,
            self.place is not None,
            self.lat is not None or self.lon is not None,
        ]
        if sum(given) != 1:
            raise ValueError("give exactly one destination: areaId, place, or lat and lon")
        if (self.lat is None) != (self.lon is None):
            raise ValueError("lat and lon go together")
        return self


# --- 1. destination ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Destination:
    area: Area
    chain: list[Area]  # the area and every area containing it, smallest first
    point: GeoPoint


CHAIN: LiteralString = """
MATCH (dest:Area {id: $id})
MATCH path = (dest)-[:PART_OF*0..]->(a:Area)
WITH a, length(path) AS depth ORDER BY depth
OPTIONAL MATCH (a)-[:PART_OF]->(p:Area)
RETURN a, p.id AS parent_id
"""

# A point outside every boundary the gazetteer has (outside Kosovo) is placed by the nearest
# centroid of a municipality or settlement that no boundary speaks for.
NEAREST_UNBOUNDED: LiteralString = """
MATCH (a:Area)
WHERE a.level IN ['municipality', 'settlement'] AND a.centroid IS NOT NULL
  AND a.boundary_sw IS NULL
  AND point.distance(a.centroid, $point) <= $within_m
  AND NOT EXISTS { (a)-[:PART_OF]->(p:Area) WHERE p.boundary_sw IS NOT NULL }
RETURN a.id AS id ORDER BY point.distance(a.centroid, $point), a.id LIMIT 1
"""


async def _chain(
    tx: AsyncManagedTransaction, area_id: str, cache: ReferenceCache | None
) -> list[Area]:
    if cache is not None and (known := cache.chains.get(area_id)) is not None:
        return known
    result = await tx.run(CHAIN, id=area_id)
    chain = [area_from_record(r["a"], r["parent_id"]) async for r in result]
    if cache is not None and chain:
        cache.chains.put(area_id, chain)
        # The reasons name these areas; the API's area loader finds them here.
        for area in chain:
            cache.areas.put(area.id, area)
    return chain


async def _place_point(
    tx: AsyncManagedTransaction, lat: float, lon: float, radius_km: float
) -> str:
    """The area a `lat`/`lon` destination lies in: the municipality whose boundary contains
    it, else (where the gazetteer has no boundaries) the nearest municipality or settlement
    within the radius."""
    inside = await area_containing(tx, point=GeoPoint(lat=lat, lon=lon))
    if inside is not None:
        return inside
    record = await (
        await tx.run(
            NEAREST_UNBOUNDED,
            point=_cypher_point(lat, lon),
            within_m=radius_km * 1000,
        )
    ).single()
    if record is None:
        raise ValidationFailed.single(
            "lat",
            "this point lies outside every municipality boundary in the gazetteer, and no "
            f"other municipality is within {radius_km:g} km of it",
        )
    return str(record["id"])


def _unknown(field: str, wanted: str, suggestions: dict[str, str]) -> NoReturn:
    named = tuple(f"{label} [{id}]" for id, label in suggestions.items())
    raise ValidationFailed(
        [FieldProblem(field, f"unknown place {wanted!r}{did_you_mean(named)}", tuple(suggestions))]
    )


async def resolve_destination(
    tx: AsyncManagedTransaction, *, search: PartnerSearch, cache: ReferenceCache | None = None
) -> Destination:
    if search.lat is not None and search.lon is not None:
        area_id = await _place_point(tx, search.lat, search.lon, search.radius_km)
        chain = await _chain(tx, area_id, cache)
        return Destination(chain[0], chain, GeoPoint(lat=search.lat, lon=search.lon))

    if search.area_id is not None:
        field, wanted = "areaId", search.area_id
        chain = await _chain(tx, search.area_id, cache)
        if not chain:
            _unknown(field, wanted, await suggest_places(tx, name=wanted))
    else:
        assert search.place is not None
        field, wanted = "place", search.place
        known = cache.places.get(wanted) if cache is not None else None
        place = PlaceResolution(area=known) if known else await resolve_place(tx, name=wanted)
        if place.area is not None and cache is not None:
            cache.places.put(wanted, place.area)
        if place.choices:
            # Suggestions are ids (they go back as `areaId`); the message names the places.
            raise ValidationFailed(
                [
                    FieldProblem(
                        field,
                        f"{wanted!r} names {len(place.choices)} places: "
                        f"{'; '.join(place.choices.values())}; "
                        "give one with its municipality, or its area id",
                        tuple(place.choices),
                    )
                ]
            )
        if place.area is None:
            _unknown(field, wanted, place.suggestions)
        assert place.area is not None
        chain = await _chain(tx, place.area.id, cache)
    area = chain[0]
    point = area.centroid or next((a.centroid for a in chain if a.centroid), None)
    if point is None:
        raise ValidationFailed.single(field, f"{area.id} has no coordinates to search around")
    return Destination(area, chain, point)


def _cypher_point(lat: float, lon: float) -> WGS84Point:
    return WGS84Point((lon, lat))


# --- 2. needs ------------------------------------------------------------------------------

EXPAND_NEEDS: LiteralString = """
UNWIND $codes AS requested
OPTIONAL MATCH (:Need {code: requested})<-[:BROADER*0..]-(n:Need)
RETURN requested, collect(n.code) AS codes
"""
NEED_CODES: LiteralString = "MATCH (n:Need) RETURN n.code AS code, n.search_keys AS keys"


async def expand_needs(
    tx: AsyncManagedTransaction, *, codes: list[str], cache: ReferenceCache | None = None
) -> dict[str, list[str]]:
    """Each requested need with itself and every narrower need (a broad need finds services
    for its narrower ones); unknown codes are a validation error with close matches."""
    known = {c: found for c in codes if cache and (found := cache.narrower.get(c)) is not None}
    missing = [c for c in codes if c not in known]
    if missing:
        result = await tx.run(EXPAND_NEEDS, codes=missing)
        known |= {r["requested"]: r["codes"] async for r in result if r["codes"]}
        if cache is not None:
            for code in missing:
                if code in known:
                    cache.narrower.put(code, known[code])
    # In the order asked: the first need is the household's first concern.
    expanded = {c: known[c] for c in codes if c in known}
    unknown = [c for c in codes if c not in expanded]
    if unknown:
        terms = [(r["code"], r["keys"] or []) async for r in await tx.run(NEED_CODES)]
        by_key = {fold(code): code for code, _ in terms} | {
            key: code for code, keys in terms for key in keys
        }
        problems = []
        for code in unknown:
            suggestions = close_matches(code, by_key)
            problems.append(
                FieldProblem(
                    f"needs.{codes.index(code)}",
                    f"unknown need code {code!r}{did_you_mean(suggestions)}",
                    suggestions,
                )
            )
        raise ValidationFailed(problems)
    return expanded


# --- 3. free text --------------------------------------------------------------------------

_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/]|&&|\|\|)')

TEXT: LiteralString = """
CALL db.index.fulltext.queryNodes('directory_text', $terms) YIELD node
WITH node LIMIT 5000
OPTIONAL MATCH (node)-[:PROVIDES]->(provided:Service)
WITH CASE WHEN node:Service THEN node.id ELSE provided.id END AS id
WHERE id IS NOT NULL
RETURN DISTINCT id
"""


def lucene_query(text: str) -> str | None:
    """Every word must occur (folded, so scripts and diacritics do not matter); Lucene's
    operators in the input are escaped and mean nothing."""
    words = [w for w in fold(text).split() if w]
    if not words:
        return None
    return " AND ".join(_LUCENE_SPECIAL.sub(r"\\\1", w) for w in words)


async def text_matches(tx: AsyncManagedTransaction, *, text: str) -> list[str]:
    query = lucene_query(text)
    if query is None:
        return []
    return [r["id"] async for r in await tx.run(TEXT, terms=query)]


# --- 4. the ranked page --------------------------------------------------------------------

# The score: documented in docs/search.md; change both together. RANKED computes it from the
# weights below, passed as the parameter `$w`.
NEED_EXACT, NEED_NARROWER, NEED_EACH_FURTHER, NEED_FURTHER_CAP = 30.0, 20.0, 10.0, 20.0
COVERS_DESTINATION = 25.0
COVERS_BY_LEVEL = {AreaLevel.MUNICIPALITY: 22.0, AreaLevel.REGION: 18.0, AreaLevel.COUNTRY: 12.0}
NEARBY_BASE, NEARBY_RANGE = 5.0, 20.0
REMOTE = 8.0
TARGET_GROUP, LANGUAGE_ANY, LANGUAGE_ALL = 8.0, 6.0, 2.0
FRESHNESS_POINTS = {Freshness.FRESH: 8.0, Freshness.AGEING: 4.0}
CAPACITY_POINTS = {Capacity.AVAILABLE: 5.0, Capacity.LIMITED: 2.0, Capacity.FULL: -15.0}
TEMPORARILY_CLOSED = -20.0
# Response: the acknowledgement time measured over the service's referrals when there are
# enough of them, else the time the service states.
RESPONSE_FAST, RESPONSE_WEEK = 4.0, 2.0
RESPONSE_FAST_DAYS, RESPONSE_WEEK_DAYS = 3, 7
PROGRAMME = 3.0
# Responsiveness counts only from this many referrals received, so that one referral that
# went well or badly does not decide a ranking.
MIN_REFERRALS = 3
ACCEPTANCE, FEEDBACK = 3.0, 2.0  # times the acceptance rate and the feedback rate (0..1)

WEIGHTS: dict[str, Any] = {
    "need_exact": NEED_EXACT,
    "need_narrower": NEED_NARROWER,
    "need_further": NEED_EACH_FURTHER,
    "need_further_cap": NEED_FURTHER_CAP,
    "near_base": NEARBY_BASE,
    "near_range": NEARBY_RANGE,
    "remote": REMOTE,
    "group": TARGET_GROUP,
    "language_any": LANGUAGE_ANY,
    "language_all": LANGUAGE_ANY + LANGUAGE_ALL,
    "fresh": FRESHNESS_POINTS[Freshness.FRESH],
    "ageing": FRESHNESS_POINTS[Freshness.AGEING],
    "capacity": {c.value: points for c, points in CAPACITY_POINTS.items()},
    "temporarily_closed": TEMPORARILY_CLOSED,
    "response_fast": RESPONSE_FAST,
    "response_week": RESPONSE_WEEK,
    "fast_days": RESPONSE_FAST_DAYS,
    "week_days": RESPONSE_WEEK_DAYS,
    "fast_hours": RESPONSE_FAST_DAYS * 24,
    "week_hours": RESPONSE_WEEK_DAYS * 24,
    "programme": PROGRAMME,
    "min_referrals": MIN_REFERRALS,
    "acceptance": ACCEPTANCE,
    "feedback": FEEDBACK,
}

# The facts of a service that the reasons of a page row name, with the eligibility rule's
# restriction (graph/eligibility.py).
ROW_FACTS: LiteralString = (
    """s {
    .id, .delivery, .status, .capacity, .expected_response_days,
    last_verified_at: toString(s.last_verified_at),
    .languages, .sending_countries, .need_codes, .target_group_codes, .programme_ids,
    .referrals_received, .ack_median_hours, .acceptance_rate, .feedback_rate,
    restricted_to: """
    + RESTRICTED_TO
    + """,
    restricting_programmes: """
    + RESTRICTING_PROGRAMMES
    + """
  }"""
)

# Geography first (it is the selective part): services covering the destination or an area
# containing it, and services with a site within the radius (the point index answers the
# bounding box). Then the hard filters and the score, on the service's own properties only:
# one property read per fact instead of one relationship expansion per fact and candidate.
# `covered` holds positions in `$chain` (most local first), `fits` the requested needs the
# service answers. Everything is sorted once; the total, the needs answered and the page come
# out of that one pass, and only the page rows carry the facts that the reasons name.
RANKED: LiteralString = (
    """
CALL () {
  // COVERS and DELIVERED_AT only ever start at a Service (graph/services/writes.py): no label check
  // on each of the thousands of services that cover a country.
  UNWIND $chain AS area_id
  MATCH (:Area {id: area_id})<-[:COVERS]-(s)
  RETURN s
  UNION
  MATCH (l:Location)
  WHERE point.withinBBox(l.point, $south_west, $north_east)
    AND point.distance(l.point, $point) <= $radius_m
  MATCH (s)-[:DELIVERED_AT]->(l)
  RETURN s
}
WITH DISTINCT s
WHERE s.status IN $statuses
  AND any(code IN s.need_codes WHERE code IN $need_codes)
  AND ($include_full OR coalesce(s.capacity, 'unknown') <> 'full')
  AND ($sending_country IS NULL
       OR any(only IN ["""
    + RESTRICTED_TO
    + """] WHERE only = [] OR $sending_country IN only))
  AND ($return_type IS NULL OR size(coalesce(s.return_types, [])) = 0
       OR $return_type IN s.return_types)
  AND ($text_ids IS NULL OR s.id IN $text_ids)
// A record confirmed as a duplicate shows once, as its canonical record. Checked after the
// property filters (a clause of its own keeps the planner from doing it first): expanding
// every candidate's relationships costs more than all the rest of the query together.
WITH s WHERE NOT EXISTS { (s)-[:SAME_AS]->(:Service) }
WITH s,
     [i IN range(0, size($chain) - 1) WHERE $chain[i] IN s.covered_area_ids] AS covered,
     reduce(m = null, d IN [p IN s.site_points | point.distance(p, $point)] |
            CASE WHEN m IS NULL OR d < m THEN d ELSE m END) AS distance,
     any(d IN s.delivery WHERE d <> 'remote') AS physical,
     'remote' IN s.delivery AND $include_remote AS remote
WITH s, covered, distance, physical AND distance <= $radius_m AS within,
     CASE WHEN physical AND size(covered) > 0 THEN $chain_points[covered[0]] ELSE 0.0 END
       AS covers,
     CASE WHEN remote AND size(covered) > 0 THEN $w.remote ELSE 0.0 END AS remote
WHERE covers > 0 OR within OR remote > 0
WITH s, covered, distance,
     [r IN $requested WHERE any(code IN r.codes WHERE code IN s.need_codes) | r.code] AS fits,
     reduce(geo = covers, points IN [
         CASE WHEN within THEN $w.near_base + $w.near_range * (1 - distance / $radius_m)
              ELSE 0.0 END,
         remote] | CASE WHEN points > geo THEN points ELSE geo END) AS geo,
     size([lang IN $languages WHERE lang IN s.languages]) AS spoken,
     coalesce(s.referrals_received, 0) >= $w.min_referrals AS measured
WITH s, covered, fits, round(distance / 1000.0, 1) AS km,
     round(
       CASE WHEN any(code IN fits WHERE code IN s.need_codes) THEN $w.need_exact
            ELSE $w.need_narrower END
       + CASE WHEN $w.need_further * (size(fits) - 1) > $w.need_further_cap
              THEN $w.need_further_cap ELSE $w.need_further * (size(fits) - 1) END
       + geo
       + CASE WHEN any(g IN $target_groups WHERE g IN s.target_group_codes) THEN $w.group
              ELSE 0.0 END
       + CASE WHEN spoken = 0 THEN 0.0 WHEN spoken = size($languages) THEN $w.language_all
              ELSE $w.language_any END
       + CASE WHEN s.last_verified_at >= $fresh_since THEN $w.fresh
              WHEN s.last_verified_at >= $stale_since THEN $w.ageing ELSE 0.0 END
       + coalesce($w.capacity[s.capacity], 0.0)
       + CASE WHEN s.status = 'temporarily_closed' THEN $w.temporarily_closed ELSE 0.0 END
       + CASE WHEN measured AND s.ack_median_hours IS NOT NULL THEN
                CASE WHEN s.ack_median_hours <= $w.fast_hours THEN $w.response_fast
                     WHEN s.ack_median_hours <= $w.week_hours THEN $w.response_week
                     ELSE 0.0 END
              WHEN s.expected_response_days <= $w.fast_days THEN $w.response_fast
              WHEN s.expected_response_days <= $w.week_days THEN $w.response_week
              ELSE 0.0 END
       + CASE WHEN measured THEN $w.acceptance * coalesce(s.acceptance_rate, 0.0)
                                 + $w.feedback * coalesce(s.feedback_rate, 0.0)
              ELSE 0.0 END
       + CASE WHEN $programme IN s.programme_ids THEN $w.programme ELSE 0.0 END, 2) AS score
ORDER BY score DESC, km, s.id
WITH count(*) AS total, collect(DISTINCT fits) AS answered,
     collect(CASE WHEN $after IS NULL OR score < $after.score
                    OR (score = $after.score
                        AND ((km IS NULL AND $after.km IS NOT NULL) OR km > $after.km
                             OR ((km = $after.km OR (km IS NULL AND $after.km IS NULL))
                                 AND s.id > $after.id)))
                  THEN {s: s, score: score, km: km, fits: fits, covered: covered} END
     )[..$limit] AS page
CALL (page) {
  UNWIND page AS row
  WITH row, row.s AS s
  RETURN collect(row {.score, .km, .fits, .covered, service: """
    + ROW_FACTS
    + """}) AS rows
}
RETURN total, answered, rows
"""
)

# The facts of a page row, of which `page_match` words the reasons: one projection for
# RANKED and for the search index (graph/search_index.py), which reads them for its page.
PAGE_FACTS: LiteralString = (
    "UNWIND $ids AS id MATCH (s:Service {id: id}) RETURN " + ROW_FACTS + " AS service"
)


def bbox(point: GeoPoint, radius_km: float) -> tuple[WGS84Point, WGS84Point]:
    dlat = radius_km / 111.32
    dlon = radius_km / (111.32 * max(math.cos(math.radians(point.lat)), 0.01))
    return (
        _cypher_point(max(point.lat - dlat, -90), max(point.lon - dlon, -180)),
        _cypher_point(min(point.lat + dlat, 90), min(point.lon + dlon, 180)),
    )


def _chain_points(destination: Destination) -> list[float]:
    """Points for covering each area of the chain: the place itself, else what contains it."""
    return [
        COVERS_DESTINATION
        if area.id == destination.area.id
        else COVERS_BY_LEVEL.get(area.level, COVERS_BY_LEVEL[AreaLevel.COUNTRY])
        for area in destination.chain
    ]


@dataclass(frozen=True, slots=True)
class After:
    """Where the previous page ended, in the order of RANKED."""

    score: float
    km: float | None
    id: str


def _cursor_key(score: float, km: float | None) -> str:
    return f"{score:.2f}|{'' if km is None else km}"


def _decode_after(cursor: str | None) -> After | None:
    if cursor is None:
        return None
    key, id = decode_cursor(cursor)
    try:
        score, km = key.split("|")
        return After(score=float(score), km=float(km) if km else None, id=id)
    except ValueError as exc:
        raise ValidationFailed.single("after", "not a cursor returned by this API") from exc


@dataclass(frozen=True, slots=True)
class Resolved:
    """One search with its destination and needs looked up, and the moment it runs at."""

    search: PartnerSearch
    destination: Destination
    expanded: dict[str, list[str]]  # each requested need with its narrower terms
    now: datetime
    ageing_after_days: int
    stale_after_days: int


@dataclass(frozen=True, slots=True)
class Ranked:
    total: int
    answered: set[str]
    rows: list[dict[str, Any]]


class RankedSource(Protocol):
    """Another way to the answer of RANKED (graph/search_index.py): the same total, needs
    answered and rows, or None when it cannot answer now (RANKED then does)."""

    async def ranked(
        self,
        tx: AsyncManagedTransaction,
        *,
        asked: Resolved,
        text_ids: list[str] | None,
        after: After | None,
        limit: int,
    ) -> Ranked | None: ...

    async def page_models(
        self, tx: AsyncManagedTransaction, *, ids: list[str]
    ) -> tuple[dict[str, Service], dict[str, Organisation]]:
        """The page's services and organisations, as `services_by_ids` and
        `organisations_by_ids` read them; asked only after `ranked` answered."""
        ...


async def ranked(
    tx: AsyncManagedTransaction,
    *,
    asked: Resolved,
    text_ids: list[str] | None,
    after: After | None,
    limit: int,
) -> Ranked:
    search, destination, expanded = asked.search, asked.destination, asked.expanded
    statuses = [ServiceStatus.ACTIVE.value]
    if search.include_temporarily_closed:
        statuses.append(ServiceStatus.TEMPORARILY_CLOSED.value)
    south_west, north_east = bbox(destination.point, search.radius_km)
    result = await tx.run(
        RANKED,
        chain=[a.id for a in destination.chain],
        chain_points=_chain_points(destination),
        point=_cypher_point(destination.point.lat, destination.point.lon),
        south_west=south_west,
        north_east=north_east,
        radius_m=search.radius_km * 1000,
        statuses=statuses,
        include_full=search.include_full,
        include_remote=search.include_remote,
        sending_country=search.sending_country,
        return_type=search.return_type.value if search.return_type else None,
        text_ids=text_ids,
        need_codes=sorted({code for codes in expanded.values() for code in codes}),
        requested=[{"code": code, "codes": codes} for code, codes in expanded.items()],
        target_groups=search.target_groups,
        languages=search.languages,
        programme=search.programme,
        # Freshness as two instants, so the query compares dates instead of ages.
        fresh_since=asked.now - timedelta(days=asked.ageing_after_days),
        stale_since=asked.now - timedelta(days=asked.stale_after_days),
        w=WEIGHTS,
        after=None if after is None else {"score": after.score, "km": after.km, "id": after.id},
        limit=limit,
    )
    record = await result.single(strict=True)
    return Ranked(
        total=record["total"],
        answered={code for fits in record["answered"] for code in fits},
        rows=record["rows"],
    )


# --- reasons -------------------------------------------------------------------------------


# Reasons, matches and the result are plain dataclasses: a page makes some 200 reasons per
# search, and nothing here comes from outside to be validated.
@dataclass(slots=True)
class Reason:
    """One human-readable reason, as a kind and its parameters; the API words it in the
    caller's language."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Match:
    service_id: str
    score: float
    distance_km: float | None
    matched_area_ids: list[str]
    matched_needs: list[str]
    reasons: list[Reason]


# The reasons `responsiveness_reasons` gives: what a service's referrals show.
RESPONSIVENESS_REASONS = frozenset({"answers_hours", "answers_days", "accepts", "reports_outcomes"})


def responsiveness_reasons(facts: dict[str, Any]) -> list[Reason]:
    """What the service's referrals show, once there are enough of them to say anything."""
    received = facts.get("referrals_received") or 0
    if received < MIN_REFERRALS:
        return []
    reasons = []
    hours = facts.get("ack_median_hours")
    if hours is not None:
        # Hours while under two days, whole days after: "in 5 hours", "in 4 days".
        if hours < 48:
            params = {"hours": max(round(hours), 1), "count": received}
            reasons.append(Reason(kind="answers_hours", params=params))
        else:
            params = {"days": round(hours / 24), "count": received}
            reasons.append(Reason(kind="answers_days", params=params))
    if (rate := facts.get("acceptance_rate")) is not None:
        reasons.append(Reason(kind="accepts", params={"percent": round(rate * 100)}))
    if (rate := facts.get("feedback_rate")) is not None:
        reasons.append(Reason(kind="reports_outcomes", params={"percent": round(rate * 100)}))
    return reasons


REMOTE_ONLY = frozenset({DeliveryMode.REMOTE.value})


def page_match(row: dict[str, Any], asked: Resolved) -> Match:
    """One row of RANKED with its reasons. The score comes from the query; the reasons say
    which of its parts this service earned."""
    search, destination = asked.search, asked.destination
    facts: dict[str, Any] = row["service"]
    needs: list[str] = facts["need_codes"] or []
    reasons: list[Reason] = []

    # Exact answers first, like the need fit of the score.
    fits = sorted(row["fits"], key=lambda code: code not in needs)
    for requested in fits:
        if requested in needs:
            reasons.append(Reason(kind="offers", params={"need": requested}))
        else:
            offered = next(code for code in needs if code in asked.expanded[requested])
            reasons.append(Reason(kind="offers_part", params={"need": offered, "of": requested}))

    delivery = facts["delivery"] or []
    physical = bool(set(delivery) - REMOTE_ONLY)
    covered = [destination.chain[i].id for i in row["covered"]]
    if physical and covered:
        reasons.append(Reason(kind="covers", params={"area": covered[0]}))
    km = row["km"]
    if km is not None:
        reasons.append(Reason(kind="distance", params={"km": km, "area": destination.area.id}))
    if not physical and covered:
        # Only remote help reaches a candidate without a place of its own there.
        reasons.append(Reason(kind="remote", params={"area": covered[-1]}))

    groups = [g for g in search.target_groups if g in (facts["target_group_codes"] or [])]
    if groups:
        reasons.append(Reason(kind="serves", params={"groups": groups}))
    spoken = [lang for lang in search.languages if lang in (facts["languages"] or [])]
    if spoken:
        reasons.append(Reason(kind="speaks", params={"languages": spoken}))

    verified = native(facts["last_verified_at"])
    if verified is None:
        reasons.append(Reason(kind="unverified"))
    else:
        state = freshness(
            verified,
            now=asked.now,
            ageing_after_days=asked.ageing_after_days,
            stale_after_days=asked.stale_after_days,
        )
        days = max((asked.now - verified).days, 0)
        reasons.append(Reason(kind="verified", params={"days": days, "state": state.value}))

    # Compared as stored rather than made a `Capacity` on every row of every page.
    capacity = facts["capacity"] or Capacity.UNKNOWN.value
    if capacity != Capacity.UNKNOWN.value:
        reasons.append(Reason(kind="capacity", params={"capacity": capacity}))
    if facts["status"] == ServiceStatus.TEMPORARILY_CLOSED:
        reasons.append(Reason(kind="temporarily_closed"))
    if facts["expected_response_days"] is not None:
        reasons.append(Reason(kind="response", params={"days": facts["expected_response_days"]}))
    reasons += responsiveness_reasons(facts)
    if search.programme is not None and search.programme in (facts["programme_ids"] or []):
        reasons.append(Reason(kind="programme", params={"programme": search.programme}))
    # The eligibility rule's restriction (graph/eligibility.py), with the programmes that
    # make it when it comes from the funding: "only for returnees from Germany (REAG/GARP)".
    if facts["restricted_to"]:
        countries = facts["restricted_to"]
        if facts["restricting_programmes"]:
            programmes = ", ".join(facts["restricting_programmes"])
            params = {"countries": countries, "programmes": programmes}
            reasons.append(Reason(kind="only_from_programmes", params=params))
        else:
            reasons.append(Reason(kind="only_from", params={"countries": countries}))

    return Match(
        service_id=facts["id"],
        score=row["score"],
        distance_km=km,
        matched_area_ids=covered,
        matched_needs=fits,
        reasons=reasons,
    )


@dataclass(slots=True)
class SearchResult:
    destination_id: str
    matches: list[Match]
    total: int
    has_next_page: bool
    unmatched_needs: list[str]
    cursors: list[str]
    # With `with_services`: the page's services and their organisations.
    services: dict[str, Service] = field(default_factory=dict)
    organisations: dict[str, Organisation] = field(default_factory=dict)
    # Whether the in-process index answered instead of RANKED (for tests and metrics).
    by_index: bool = False


async def search_partners(
    tx: AsyncManagedTransaction,
    *,
    search: PartnerSearch,
    first: int,
    after: str | None,
    now: datetime,
    ageing_after_days: int,
    stale_after_days: int,
    cache: ReferenceCache | None = None,
    with_services: bool = False,
    index: RankedSource | None = None,
) -> SearchResult:
    """The queries of the module docstring, in one read transaction. `with_services` adds
    the page's services and their organisations to the same transaction (two batches), so
    that the API answers a page without opening more transactions for them. `index`, when
    given and able, answers query 4 in this process instead of the database."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ValidationFailed.single("first", f"must be between 1 and {MAX_PAGE_SIZE}")
    resume = _decode_after(after)
    asked = Resolved(
        search=search,
        destination=await resolve_destination(tx, search=search, cache=cache),
        expanded=await expand_needs(tx, codes=search.needs, cache=cache),
        now=now,
        ageing_after_days=ageing_after_days,
        stale_after_days=stale_after_days,
    )
    text_ids = await text_matches(tx, text=search.text) if search.text else None
    # One more row than the page says whether another page follows.
    found = None
    if index is not None:
        found = await index.ranked(
            tx, asked=asked, text_ids=text_ids, after=resume, limit=first + 1
        )
    by_index = found is not None
    if found is None:
        found = await ranked(tx, asked=asked, text_ids=text_ids, after=resume, limit=first + 1)
    page = [page_match(row, asked) for row in found.rows[:first]]
    services: dict[str, Service] = {}
    organisations: dict[str, Organisation] = {}
    if with_services and page and by_index:
        assert index is not None
        services, organisations = await index.page_models(tx, ids=[m.service_id for m in page])
    elif with_services and page:
        services = await services_by_ids(tx, ids=[m.service_id for m in page])
        owners = sorted({s.organisation_id for s in services.values()})
        organisations = await organisations_by_ids(tx, ids=owners)
    return SearchResult(
        destination_id=asked.destination.area.id,
        matches=page,
        total=found.total,
        has_next_page=len(found.rows) > first,
        unmatched_needs=[n for n in search.needs if n not in found.answered],
        cursors=[encode_cursor(_cursor_key(m.score, m.distance_km), m.service_id) for m in page],
        services=services,
        organisations=organisations,
        by_index=by_index,
    )
