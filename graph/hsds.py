"""Reads for HSDS import, export and the `/hsds/` API: the facts an import is checked
against, and pages of services and organisations with the filters of the HSDS API.

Writes go through the bulk writes of each concept (`upsert_organisations`,
`upsert_services`, ...), so an import follows the same rules as every other entry path.
"""

from __future__ import annotations

from datetime import datetime
from typing import LiteralString

from neo4j import AsyncManagedTransaction
from neo4j.spatial import WGS84Point
from pydantic import BaseModel

from graph.areas import GeoPoint
from graph.duplicates import (
    DuplicateCandidate,
    OrganisationFeatures,
    ServiceFeatures,
    organisation_candidates,
    service_candidates,
)
from graph.search import bbox


class AreaFact(BaseModel):
    id: str
    level: str
    parent: str | None
    keys: list[str]
    name: str | None
    lat: float | None = None
    lon: float | None = None
    # GeoJSON text of the area's boundary where the gazetteer has one (municipalities).
    boundary: str | None = None


class DirectoryFacts(BaseModel):
    needs: list[str]
    target_groups: list[str]
    programmes: list[str]
    areas: list[AreaFact]


FACTS: LiteralString = """
CALL () { MATCH (n:Need) RETURN collect(n.code) AS needs }
CALL () { MATCH (t:TargetGroup) RETURN collect(t.code) AS groups }
CALL () { MATCH (p:Programme) RETURN collect(p.id) AS programmes }
CALL () {
  MATCH (a:Area)
  OPTIONAL MATCH (a)-[:PART_OF]->(p:Area)
  RETURN collect({id: a.id, level: a.level, parent: p.id, keys: coalesce(a.search_keys, []),
                  name: a.name, lat: a.centroid.y, lon: a.centroid.x,
                  boundary: a.boundary}) AS areas
}
RETURN needs, groups, programmes, areas
"""


async def directory_facts(tx: AsyncManagedTransaction) -> DirectoryFacts:
    """Needs, target groups, programmes and areas: small sets, read once per import."""
    record = await (await tx.run(FACTS)).single(strict=True)
    return DirectoryFacts(
        needs=record["needs"],
        target_groups=record["groups"],
        programmes=record["programmes"],
        areas=[AreaFact.model_validate(a) for a in record["areas"]],
    )


class OrganisationRef(BaseModel):
    ref: str
    id: str
    country: str


# A record is known by its Homeward id, the HSDS id it was imported with and the HSDS id
# Homeward gives it (`hsds_key`, graph/hsds_ids.py); when several claim one ref, the lowest
# Homeward id answers, the same every time.
ORGANISATIONS_BY_REFS: LiteralString = """
UNWIND $refs AS ref
CALL (ref) {
  MATCH (o:Organisation {id: ref}) RETURN o
  UNION
  MATCH (o:Organisation {hsds_id: ref}) RETURN o
  UNION
  MATCH (o:Organisation {hsds_key: toLower(ref)}) RETURN o
}
WITH ref, o ORDER BY o.id
WITH ref, collect(o)[0] AS o
RETURN ref, o.id AS id, o.country AS country
"""


async def organisations_by_refs(
    tx: AsyncManagedTransaction, *, refs: list[str]
) -> list[OrganisationRef]:
    """Existing organisations an import names by any of their ids."""
    result = await tx.run(ORGANISATIONS_BY_REFS, refs=refs)
    return [OrganisationRef.model_validate(dict(r)) async for r in result]


class LocationRef(BaseModel):
    ref: str
    id: str
    area: str | None
    # One service delivered there (the lowest id), whose record holds the site's.
    service: str | None = None


LOCATIONS_BY_REFS: LiteralString = """
UNWIND $refs AS ref
CALL (ref) {
  MATCH (l:Location {id: ref}) RETURN l
  UNION
  MATCH (l:Location {hsds_id: ref}) RETURN l
  UNION
  MATCH (l:Location {hsds_key: toLower(ref)}) RETURN l
}
WITH ref, l ORDER BY l.id
WITH ref, collect(l)[0] AS l
RETURN ref, l.id AS id, COLLECT { MATCH (l)-[:IN]->(a:Area) RETURN a.id }[0] AS area,
       COLLECT { MATCH (s:Service)-[:DELIVERED_AT]->(l) RETURN s.id ORDER BY s.id }[0]
         AS service
"""


async def locations_by_refs(tx: AsyncManagedTransaction, *, refs: list[str]) -> list[LocationRef]:
    """Existing sites an import names by any of their ids, with the area they are in."""
    result = await tx.run(LOCATIONS_BY_REFS, refs=refs)
    return [LocationRef.model_validate(dict(r)) async for r in result]


class ServiceRef(BaseModel):
    ref: str
    id: str


SERVICES_BY_REFS: LiteralString = """
UNWIND $refs AS ref
CALL (ref) {
  MATCH (s:Service {id: ref}) RETURN s
  UNION
  MATCH (s:Service {hsds_id: ref}) RETURN s
  UNION
  MATCH (s:Service {hsds_key: toLower(ref)}) RETURN s
}
WITH ref, s ORDER BY s.id
WITH ref, collect(s)[0] AS s
RETURN ref, s.id AS id
"""


async def services_by_refs(tx: AsyncManagedTransaction, *, refs: list[str]) -> list[ServiceRef]:
    """Existing services an import names by any of their ids."""
    result = await tx.run(SERVICES_BY_REFS, refs=refs)
    return [ServiceRef.model_validate(dict(r)) async for r in result]


class ProbableDuplicate(BaseModel):
    """A record an import would create that probably repeats one of the directory."""

    entity: str
    id: str
    candidates: list[DuplicateCandidate]


EXISTING: LiteralString = """
CALL () {
  UNWIND $organisations AS id MATCH (o:Organisation {id: id}) RETURN collect(o.id) AS orgs
}
CALL () { UNWIND $services AS id MATCH (s:Service {id: id}) RETURN collect(s.id) AS services }
CALL () { MATCH (o:Organisation) RETURN count(o) > 0 AS any }
RETURN orgs, services, any
"""


async def probable_duplicates(
    tx: AsyncManagedTransaction,
    *,
    organisations: list[OrganisationFeatures],
    services: list[ServiceFeatures],
) -> list[ProbableDuplicate]:
    """The registration check, for the records of an import that are new: those that the
    duplicate scorer says probably exist already under another id. An empty directory is
    not searched at all, so that loading one costs nothing more."""
    record = await (
        await tx.run(
            EXISTING,
            organisations=[o.id for o in organisations],
            services=[s.id for s in services],
        )
    ).single(strict=True)
    if not record["any"]:
        return []
    found: list[ProbableDuplicate] = []
    existing = set(record["orgs"])
    for organisation in organisations:
        if organisation.id not in existing:
            candidates = await organisation_candidates(tx, record=organisation)
            if candidates:
                found.append(
                    ProbableDuplicate(
                        entity="organisation", id=organisation.id, candidates=candidates
                    )
                )
    existing = set(record["services"])
    for service in services:
        if service.id not in existing:
            candidates = await service_candidates(tx, record=service)
            if candidates:
                found.append(
                    ProbableDuplicate(entity="service", id=service.id, candidates=candidates)
                )
    return found


# --- the /hsds/ read API --------------------------------------------------------------------


class ServiceFilter(BaseModel):
    """The filters of the HSDS API's lists, in Homeward's terms (ids already resolved)."""

    # Lucene query of `graph.search.lucene_query`; None: no text filter.
    terms: str | None = None
    organisation_id: str | None = None
    need: str | None = None
    target_group: str | None = None
    # 'needs', 'groups', 'any' (a taxonomy every service has terms of), 'none' (unknown).
    taxonomy: str | None = None
    modified_after: datetime | None = None
    # Sites within `radius_m` metres of `near`.
    near: GeoPoint | None = None
    radius_m: float | None = None


class PageKeys(BaseModel):
    """One page of a list: how many match in all, and the keys of this page in order."""

    total: int
    keys: list[list[str]]


# Sources of the service lists; the conditions of the filter are appended as one WHERE.
# Without a condition the whole list is read in id order from the id constraint's index,
# and a page stops after its last row.
_SERVICES_ALL: LiteralString = "MATCH (s:Service)\nWHERE s.id IS NOT NULL"
_SERVICES_OF: LiteralString = (
    "MATCH (:Organisation {id: $organisation})-[:PROVIDES]->(s:Service)\nWHERE true"
)
_SERVICES_TEXT: LiteralString = """
CALL db.index.fulltext.queryNodes('directory_text', $terms) YIELD node
CALL (node) {
  WITH node WHERE node:Service RETURN node AS s
  UNION
  MATCH (node:Organisation)-[:PROVIDES]->(s:Service) RETURN s
}
WITH DISTINCT s WHERE true"""
# Through the point index on sites: only sites in the bounding box are looked at.
_SERVICES_NEAR: LiteralString = """
MATCH (l:Location) WHERE point.withinBBox(l.point, $south_west, $north_east)
  AND point.distance(l.point, $here) <= $radius_m
MATCH (s:Service)-[:DELIVERED_AT]->(l)
WITH DISTINCT s WHERE true"""
_IN_ORGANISATION: LiteralString = "EXISTS { (:Organisation {id: $organisation})-[:PROVIDES]->(s) }"
_HAS_NEED: LiteralString = "$need IN s.need_codes"
_HAS_GROUP: LiteralString = "$group IN s.target_group_codes"
_HAS_GROUPS: LiteralString = "size(s.target_group_codes) > 0"
_MODIFIED: LiteralString = "s.updated_at >= $modified_after"


# The distance to the nearest site, when a place is given.
_SERVICE_DISTANCE: LiteralString = """
WITH s, CASE WHEN $here IS NULL THEN null ELSE
  reduce(d = null, p IN coalesce(s.site_points, []) |
         CASE WHEN d IS NULL OR point.distance(p, $here) < d THEN point.distance(p, $here)
              ELSE d END) END AS distance
WHERE $here IS NULL OR distance <= $radius_m
"""
# A service delivered at several sites is one row per site.
_SITES: LiteralString = """
MATCH (s)-[:DELIVERED_AT]->(l:Location)
WITH s, l, CASE WHEN $here IS NULL THEN null ELSE point.distance(l.point, $here) END AS distance
WHERE $here IS NULL OR distance <= $radius_m
"""
# Nearest first when a place is given; then by id, so that pages never overlap. Without a
# place the order is the id's alone, which Neo4j reads in order from the id constraint's
# index and stops after the page.
_COUNT: LiteralString = "RETURN count(*) AS total"
_SERVICES_BY_ID: LiteralString = "WITH s ORDER BY s.id SKIP $skip LIMIT $limit RETURN [s.id] AS key"
_SERVICES_BY_DISTANCE: LiteralString = (
    "WITH s, distance ORDER BY distance, s.id SKIP $skip LIMIT $limit RETURN [s.id] AS key"
)
_SITES_BY_ID: LiteralString = (
    "WITH s, l ORDER BY s.id, l.id SKIP $skip LIMIT $limit RETURN [s.id, l.id] AS key"
)
_SITES_BY_DISTANCE: LiteralString = (
    "WITH s, l, distance ORDER BY distance, s.id, l.id SKIP $skip LIMIT $limit "
    "RETURN [s.id, l.id] AS key"
)


def _service_rows(where: ServiceFilter) -> LiteralString:
    """The Cypher that yields `s` for every service the filter keeps, in no order."""
    conditions: list[LiteralString] = []
    if where.terms is not None:
        source = _SERVICES_TEXT
    elif where.near is not None:
        source = _SERVICES_NEAR
    elif where.organisation_id is not None:
        source = _SERVICES_OF
    else:
        source = _SERVICES_ALL
    if where.organisation_id is not None and source is not _SERVICES_OF:
        conditions.append(_IN_ORGANISATION)
    if where.need is not None:
        conditions.append(_HAS_NEED)
    if where.target_group is not None:
        conditions.append(_HAS_GROUP)
    if where.taxonomy == "groups":
        conditions.append(_HAS_GROUPS)
    if where.modified_after is not None:
        conditions.append(_MODIFIED)
    return source + "".join(" AND " + c for c in conditions) + "\n"


def _filter_params(where: ServiceFilter) -> dict[str, object]:
    here = south_west = north_east = None
    if where.near is not None and where.radius_m is not None:
        here = WGS84Point((where.near.lon, where.near.lat))
        south_west, north_east = bbox(where.near, where.radius_m / 1000)
    return {
        "terms": where.terms,
        "organisation": where.organisation_id,
        "need": where.need,
        "group": where.target_group,
        "taxonomy": where.taxonomy,
        "modified_after": where.modified_after,
        "here": here,
        "south_west": south_west,
        "north_east": north_east,
        "radius_m": where.radius_m,
    }


async def _page(
    tx: AsyncManagedTransaction,
    rows: LiteralString,
    order: LiteralString,
    params: dict[str, object],
    *,
    skip: int,
    limit: int,
) -> PageKeys:
    """How many rows match, and the keys of one page of them, in one transaction."""
    counted = await (await tx.run(rows + _COUNT, params)).single(strict=True)
    result = await tx.run(rows + order, params | {"skip": skip, "limit": limit})
    return PageKeys(total=counted["total"], keys=[r["key"] async for r in result])


async def service_page(
    tx: AsyncManagedTransaction, *, where: ServiceFilter, skip: int, limit: int
) -> PageKeys:
    """Service ids of one page, ordered by id (by distance first near a place). The queries
    read ids only; the page's records are read afterwards in one go."""
    near = where.near is not None
    rows = _service_rows(where) + (_SERVICE_DISTANCE if near else "")
    order = _SERVICES_BY_DISTANCE if near else _SERVICES_BY_ID
    return await _page(tx, rows, order, _filter_params(where), skip=skip, limit=limit)


async def site_page(
    tx: AsyncManagedTransaction, *, where: ServiceFilter, skip: int, limit: int
) -> PageKeys:
    """(service id, site id) pairs of one page of HSDS `service_at_location`s."""
    order = _SITES_BY_DISTANCE if where.near is not None else _SITES_BY_ID
    rows = _service_rows(where) + _SITES
    return await _page(tx, rows, order, _filter_params(where), skip=skip, limit=limit)


_ORGANISATIONS_ALL: LiteralString = "MATCH (o:Organisation)\n"
_ORGANISATIONS_TEXT: LiteralString = """
CALL db.index.fulltext.queryNodes('directory_text', $terms) YIELD node
CALL (node) {
  WITH node WHERE node:Organisation RETURN node AS o
  UNION
  MATCH (o:Organisation)-[:PROVIDES]->(node:Service) RETURN o
}
WITH DISTINCT o
"""
_ORGANISATIONS_BY_ID: LiteralString = (
    "WITH o ORDER BY o.id SKIP $skip LIMIT $limit RETURN [o.id] AS key"
)


async def organisation_page(
    tx: AsyncManagedTransaction, *, terms: str | None, skip: int, limit: int
) -> PageKeys:
    """Organisation ids of one page, by id; with `terms`, those whose name or description
    or one of whose services matches."""
    rows = _ORGANISATIONS_ALL if terms is None else _ORGANISATIONS_TEXT
    return await _page(tx, rows, _ORGANISATIONS_BY_ID, {"terms": terms}, skip=skip, limit=limit)


SERVICES_OF: LiteralString = """
UNWIND $ids AS id
MATCH (:Organisation {id: id})-[:PROVIDES]->(s:Service)
RETURN s.id AS id ORDER BY s.id
"""


async def service_ids_of(tx: AsyncManagedTransaction, *, organisation_ids: list[str]) -> list[str]:
    """Every service of these organisations, by id."""
    return [r["id"] async for r in await tx.run(SERVICES_OF, ids=organisation_ids)]
