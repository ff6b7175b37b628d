"""Partner search: services for a returnee's needs near the place of return, ranked with
reasons. The matching rules and the score are documented in docs/search.md; this module is
their single implementation.

A search is at most five Cypher queries, whatever the size of the directory:
1. the destination (an area by id or by any spelling of its name, or the municipality
   nearest to a point), with the chain of areas containing it;
2. the requested needs with their narrower terms (unknown codes get suggestions);
3. only with a free-text query: the full-text index;
4. the candidates with the facts the score needs (one row per matching service);
5. the page's services themselves.
The score is computed here in Python from the facts of query 4, so that it is one readable,
tested function; distances are Neo4j's `point.distance` (great-circle on WGS-84) both for the
radius filter and for the figure shown.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from neo4j.spatial import WGS84Point
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from graph.areas import Area, AreaLevel, GeoPoint, area_from_record, find_areas_by_name
from graph.languages import iso639_codes
from graph.pagination import MAX_PAGE_SIZE, decode_cursor, encode_cursor
from graph.services import Capacity, Freshness, ReturnType, ServiceStatus, freshness
from graph.text import fold
from homeward.errors import FieldProblem, ValidationFailed

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

ALL_NAMES: LiteralString = "MATCH (a:Area) UNWIND a.search_keys AS key RETURN key, a.id AS id"

NEAREST_MUNICIPALITY: LiteralString = """
MATCH (a:Area)
WHERE a.level IN ['municipality', 'settlement'] AND a.centroid IS NOT NULL
  AND point.distance(a.centroid, $point) <= $within_m
RETURN a.id AS id ORDER BY point.distance(a.centroid, $point), a.id LIMIT 1
"""

_LEVEL_ORDER = {
    AreaLevel.SETTLEMENT: 0,
    AreaLevel.MUNICIPALITY: 1,
    AreaLevel.REGION: 2,
    AreaLevel.COUNTRY: 3,
}


async def _chain(tx: AsyncManagedTransaction, area_id: str) -> list[Area]:
    result = await tx.run(CHAIN, id=area_id)
    return [area_from_record(r["a"], r["parent_id"]) async for r in result]


async def _suggest_places(tx: AsyncManagedTransaction, name: str) -> list[str]:
    rows = [(r["key"], r["id"]) async for r in await tx.run(ALL_NAMES)]
    keys = dict(rows)
    close = difflib.get_close_matches(fold(name), list(keys), n=5, cutoff=0.7)
    return list(dict.fromkeys(keys[k] for k in close))


async def resolve_destination(tx: AsyncManagedTransaction, *, search: PartnerSearch) -> Destination:
    if search.lat is not None and search.lon is not None:
        record = await (
            await tx.run(
                NEAREST_MUNICIPALITY,
                point=_cypher_point(search.lat, search.lon),
                within_m=search.radius_km * 1000,
            )
        ).single()
        if record is None:
            raise ValidationFailed.single(
                "lat", f"no municipality within {search.radius_km:g} km of this point"
            )
        chain = await _chain(tx, record["id"])
        return Destination(chain[0], chain, GeoPoint(lat=search.lat, lon=search.lon))

    if search.area_id is not None:
        chain = await _chain(tx, search.area_id)
        field, wanted = "areaId", search.area_id
    else:
        assert search.place is not None
        found = await find_areas_by_name(tx, name=search.place)
        # The most local reading of a name wins: "Prizren" the municipality, not the region.
        found.sort(key=lambda a: (_LEVEL_ORDER[a.level], a.id))
        chain = await _chain(tx, found[0].id) if found else []
        field, wanted = "place", search.place
    if not chain:
        suggestions = await _suggest_places(tx, wanted)
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        raise ValidationFailed(
            [FieldProblem(field, f"unknown place {wanted!r}{hint}", tuple(suggestions))]
        )
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


async def expand_needs(tx: AsyncManagedTransaction, *, codes: list[str]) -> dict[str, list[str]]:
    """Each requested need with itself and every narrower need (a broad need finds services
    for its narrower ones); unknown codes are a validation error with close matches."""
    expanded = {r["requested"]: r["codes"] async for r in await tx.run(EXPAND_NEEDS, codes=codes)}
    unknown = [c for c in codes if not expanded.get(c)]
    if unknown:
        known = [(r["code"], r["keys"] or []) async for r in await tx.run(NEED_CODES)]
        by_key = {fold(code): code for code, _ in known} | {
            key: code for code, keys in known for key in keys
        }
        problems = []
        for code in unknown:
            close = difflib.get_close_matches(fold(code), list(by_key), n=3, cutoff=0.6)
            suggestions = tuple(dict.fromkeys(by_key[k] for k in close))
            hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
            problems.append(
                FieldProblem(
                    f"needs.{codes.index(code)}", f"unknown need code {code!r}{hint}", suggestions
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


# --- 4. candidates -------------------------------------------------------------------------

# Geography first (it is the selective part): services covering the destination or an area
# containing it, and services with a site within the radius (the point index answers the
# bounding box). Then the hard filters, then the facts the score needs.
CANDIDATES: LiteralString = """
CALL () {
  UNWIND $chain AS area_id
  MATCH (:Area {id: area_id})<-[:COVERS]-(s:Service)
  RETURN s
  UNION
  MATCH (l:Location)
  WHERE point.withinBBox(l.point, $south_west, $north_east)
    AND point.distance(l.point, $point) <= $radius_m
  MATCH (s:Service)-[:DELIVERED_AT]->(l)
  RETURN s
}
WITH DISTINCT s
WHERE s.status IN $statuses
  AND ($include_full OR coalesce(s.capacity, 'unknown') <> 'full')
  AND ($sending_country IS NULL OR size(coalesce(s.sending_countries, [])) = 0
       OR $sending_country IN s.sending_countries)
  AND ($return_type IS NULL OR size(coalesce(s.return_types, [])) = 0
       OR $return_type IN s.return_types)
  AND ($text_ids IS NULL OR s.id IN $text_ids)
WITH s, COLLECT { MATCH (s)-[:ADDRESSES]->(n:Need) WHERE n.code IN $need_codes
                  RETURN n.code } AS needs
WHERE size(needs) > 0
RETURN s.id AS id,
       s.delivery AS delivery,
       s.status AS status,
       coalesce(s.capacity, 'unknown') AS capacity,
       s.last_verified_at AS last_verified_at,
       s.expected_response_days AS response_days,
       coalesce(s.languages, []) AS languages,
       coalesce(s.sending_countries, []) AS sending_countries,
       needs,
       COLLECT { MATCH (s)-[:COVERS]->(a:Area) WHERE a.id IN $chain RETURN a.id } AS covered,
       COLLECT { MATCH (s)-[:SERVES]->(t:TargetGroup) WHERE t.code IN $target_groups
                 RETURN t.code } AS groups,
       COLLECT { MATCH (s)-[:FUNDED_BY]->(p:Programme) WHERE p.id = $programme
                 RETURN p.id } AS programmes,
       COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location) WHERE l.point IS NOT NULL
                 RETURN point.distance(l.point, $point) AS d ORDER BY d LIMIT 1 } AS nearest
"""


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    delivery: list[str]
    status: ServiceStatus
    capacity: Capacity
    last_verified_at: datetime | None
    response_days: int | None
    languages: list[str]
    sending_countries: list[str]
    needs: list[str]
    covered: list[str]
    groups: list[str]
    programmes: list[str]
    distance_m: float | None


def _bbox(point: GeoPoint, radius_km: float) -> tuple[WGS84Point, WGS84Point]:
    dlat = radius_km / 111.32
    dlon = radius_km / (111.32 * max(math.cos(math.radians(point.lat)), 0.01))
    return (
        _cypher_point(max(point.lat - dlat, -90), max(point.lon - dlon, -180)),
        _cypher_point(min(point.lat + dlat, 90), min(point.lon + dlon, 180)),
    )


async def candidates(
    tx: AsyncManagedTransaction,
    *,
    search: PartnerSearch,
    destination: Destination,
    need_codes: list[str],
    text_ids: list[str] | None,
) -> list[Candidate]:
    statuses = [ServiceStatus.ACTIVE.value]
    if search.include_temporarily_closed:
        statuses.append(ServiceStatus.TEMPORARILY_CLOSED.value)
    south_west, north_east = _bbox(destination.point, search.radius_km)
    result = await tx.run(
        CANDIDATES,
        chain=[a.id for a in destination.chain],
        point=_cypher_point(destination.point.lat, destination.point.lon),
        south_west=south_west,
        north_east=north_east,
        radius_m=search.radius_km * 1000,
        statuses=statuses,
        include_full=search.include_full,
        sending_country=search.sending_country,
        return_type=search.return_type.value if search.return_type else None,
        text_ids=text_ids,
        need_codes=need_codes,
        target_groups=search.target_groups,
        programme=search.programme,
    )
    found = []
    async for r in result:
        verified = r["last_verified_at"]
        found.append(
            Candidate(
                id=r["id"],
                delivery=list(r["delivery"] or []),
                status=ServiceStatus(r["status"]),
                capacity=Capacity(r["capacity"]),
                last_verified_at=verified.to_native() if verified is not None else None,
                response_days=r["response_days"],
                languages=list(r["languages"]),
                sending_countries=list(r["sending_countries"]),
                needs=list(r["needs"]),
                covered=list(r["covered"]),
                groups=list(r["groups"]),
                programmes=list(r["programmes"]),
                distance_m=r["nearest"][0] if r["nearest"] else None,
            )
        )
    return found


# --- ranking -------------------------------------------------------------------------------


class Reason(BaseModel):
    """One human-readable reason, as a kind and its parameters; the API words it in the
    caller's language."""

    kind: str
    params: dict[str, Any] = Field(default_factory=dict)


class Match(BaseModel):
    service_id: str
    score: float
    distance_km: float | None
    matched_area_ids: list[str]
    matched_needs: list[str]
    reasons: list[Reason]


# The score: documented in docs/search.md; change both together.
NEED_EXACT, NEED_NARROWER, NEED_EACH_FURTHER, NEED_FURTHER_CAP = 30.0, 20.0, 10.0, 20.0
COVERS_DESTINATION = 25.0
COVERS_BY_LEVEL = {AreaLevel.MUNICIPALITY: 22.0, AreaLevel.REGION: 18.0, AreaLevel.COUNTRY: 12.0}
NEARBY_BASE, NEARBY_RANGE = 5.0, 20.0
REMOTE = 8.0
TARGET_GROUP, LANGUAGE_ANY, LANGUAGE_ALL = 8.0, 6.0, 2.0
FRESHNESS_POINTS = {Freshness.FRESH: 8.0, Freshness.AGEING: 4.0}
CAPACITY_POINTS = {Capacity.AVAILABLE: 5.0, Capacity.LIMITED: 2.0, Capacity.FULL: -15.0}
TEMPORARILY_CLOSED = -20.0
RESPONSE_FAST, RESPONSE_WEEK = 4.0, 2.0
PROGRAMME = 3.0


def rank(
    c: Candidate,
    *,
    search: PartnerSearch,
    destination: Destination,
    expanded: dict[str, list[str]],
    now: datetime,
    ageing_after_days: int,
    stale_after_days: int,
) -> Match | None:
    """Score one candidate, or None when it does not match the destination after all
    (a remote service while remote help is not wanted)."""
    reasons: list[Reason] = []
    score = 0.0

    # Need fit: exact over narrower, a little more for each further need it answers.
    fits = []
    for requested, codes in expanded.items():
        offered = [code for code in c.needs if code in codes]
        if offered:
            exact = requested in offered
            fits.append((NEED_EXACT if exact else NEED_NARROWER, requested, offered, exact))
    if not fits:
        return None
    fits.sort(key=lambda f: -f[0])
    score += fits[0][0] + min(NEED_EACH_FURTHER * (len(fits) - 1), NEED_FURTHER_CAP)
    for _, requested, offered, exact in fits:
        if exact:
            reasons.append(Reason(kind="offers", params={"need": requested}))
        else:
            reasons.append(Reason(kind="offers_part", params={"need": offered[0], "of": requested}))

    # Geography: explicit coverage of the place beats coverage of what contains it, which
    # beats a site nearby; remote help counts least.
    physical = any(d != "remote" for d in c.delivery)
    remote = "remote" in c.delivery
    chain_ids = [a.id for a in destination.chain]
    covered = sorted(c.covered, key=chain_ids.index)
    within = c.distance_m is not None and c.distance_m <= search.radius_km * 1000
    geo = 0.0
    if physical and covered:
        area = next(a for a in destination.chain if a.id == covered[0])
        geo = (
            COVERS_DESTINATION
            if area.id == destination.area.id
            else COVERS_BY_LEVEL.get(area.level, COVERS_BY_LEVEL[AreaLevel.COUNTRY])
        )
        reasons.append(Reason(kind="covers", params={"area": area.id}))
    if physical and within:
        assert c.distance_m is not None
        near = NEARBY_BASE + NEARBY_RANGE * (1 - c.distance_m / (search.radius_km * 1000))
        geo = max(geo, near)
    if c.distance_m is not None:
        reasons.append(
            Reason(
                kind="distance",
                params={"km": round(c.distance_m / 1000, 1), "area": destination.area.id},
            )
        )
    if remote and covered and search.include_remote:
        geo = max(geo, REMOTE)
        if not physical:
            reasons.append(Reason(kind="remote", params={"area": covered[-1]}))
    local = physical and (bool(covered) or within)
    if not local and not (remote and covered and search.include_remote):
        return None
    score += geo

    groups = [g for g in search.target_groups if g in c.groups]
    if groups:
        score += TARGET_GROUP
        reasons.append(Reason(kind="serves", params={"groups": groups}))

    spoken = [lang for lang in search.languages if lang in c.languages]
    if spoken:
        score += LANGUAGE_ANY + (LANGUAGE_ALL if len(spoken) == len(search.languages) else 0)
        reasons.append(Reason(kind="speaks", params={"languages": spoken}))

    state = freshness(
        c.last_verified_at,
        now=now,
        ageing_after_days=ageing_after_days,
        stale_after_days=stale_after_days,
    )
    score += FRESHNESS_POINTS.get(state, 0.0)
    if c.last_verified_at is None:
        reasons.append(Reason(kind="unverified"))
    else:
        days = max((now - c.last_verified_at).days, 0)
        reasons.append(Reason(kind="verified", params={"days": days, "state": state.value}))

    score += CAPACITY_POINTS.get(c.capacity, 0.0)
    if c.capacity is not Capacity.UNKNOWN:
        reasons.append(Reason(kind="capacity", params={"capacity": c.capacity.value}))
    if c.status is ServiceStatus.TEMPORARILY_CLOSED:
        score += TEMPORARILY_CLOSED
        reasons.append(Reason(kind="temporarily_closed"))

    if c.response_days is not None:
        if c.response_days <= 3:
            score += RESPONSE_FAST
        elif c.response_days <= 7:
            score += RESPONSE_WEEK
        reasons.append(Reason(kind="response", params={"days": c.response_days}))

    if c.programmes:
        score += PROGRAMME
        reasons.append(Reason(kind="programme", params={"programme": c.programmes[0]}))
    if c.sending_countries:
        reasons.append(Reason(kind="only_from", params={"countries": c.sending_countries}))

    return Match(
        service_id=c.id,
        score=round(score, 2),
        distance_km=round(c.distance_m / 1000, 1) if c.distance_m is not None else None,
        matched_area_ids=covered,
        matched_needs=[f[1] for f in fits],
        reasons=reasons,
    )


def order_key(match: Match) -> tuple[float, float, str]:
    """Best score first, then nearest, then id: a total order, so pages never overlap."""
    distance = match.distance_km if match.distance_km is not None else float("inf")
    return (-match.score, distance, match.service_id)


def _cursor_key(match: Match) -> str:
    return f"{match.score:.2f}|{'' if match.distance_km is None else match.distance_km}"


class SearchResult(BaseModel):
    destination_id: str
    matches: list[Match]
    total: int
    has_next_page: bool
    unmatched_needs: list[str]
    cursors: list[str]


async def search_partners(
    tx: AsyncManagedTransaction,
    *,
    search: PartnerSearch,
    first: int,
    after: str | None,
    now: datetime,
    ageing_after_days: int,
    stale_after_days: int,
) -> SearchResult:
    """Queries 1 to 4 of the module docstring, in one read transaction."""
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise ValidationFailed.single("first", f"must be between 1 and {MAX_PAGE_SIZE}")
    after_key, after_id = decode_cursor(after)
    destination = await resolve_destination(tx, search=search)
    expanded = await expand_needs(tx, codes=search.needs)
    text_ids = await text_matches(tx, text=search.text) if search.text else None
    found = await candidates(
        tx,
        search=search,
        destination=destination,
        need_codes=sorted({code for codes in expanded.values() for code in codes}),
        text_ids=text_ids,
    )
    matches = [
        m
        for c in found
        if (
            m := rank(
                c,
                search=search,
                destination=destination,
                expanded=expanded,
                now=now,
                ageing_after_days=ageing_after_days,
                stale_after_days=stale_after_days,
            )
        )
        is not None
    ]
    matches.sort(key=order_key)
    answered = {need for m in matches for need in m.matched_needs}
    start = 0
    if after:
        start = next(
            (
                i + 1
                for i, m in enumerate(matches)
                if m.service_id == after_id and _cursor_key(m) == after_key
            ),
            len(matches),
        )
    page = matches[start : start + first]
    return SearchResult(
        destination_id=destination.area.id,
        matches=page,
        total=len(matches),
        has_next_page=start + first < len(matches),
        unmatched_needs=[n for n in search.needs if n not in answered],
        cursors=[encode_cursor(_cursor_key(m), m.service_id) for m in page],
    )
