"""Writing services: checking an input against the graph, the one statement every entry path
writes services with (`UPSERT`, which also keeps the search facts on each service), and
registration and edits with their audit events.
"""

from __future__ import annotations

from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from core import geometry
from core.errors import FieldProblem, Forbidden, NotFound, ValidationFailed, VersionConflict
from core.text import fold
from graph.areas import area_containing
from graph.audit import FieldChange, diff, record_event
from graph.duplicates import PossibleDuplicates, service_candidates, service_features
from graph.hsds_ids import hsds_id, rekey_services_at, site_key
from graph.search_changes import services_changed
from graph.services.models import (
    LocationInput,
    Service,
    ServiceInput,
)
from graph.services.reads import get_service, services_by_ids
from graph.users import Actor

# --- validation against the graph --------------------------------------------------------

REFERENCES: LiteralString = """
RETURN
  EXISTS { MATCH (:Organisation {id: $organisation}) } AS organisation_found,
  [i IN range(0, size($needs) - 1) WHERE NOT EXISTS { MATCH (:Need {code: $needs[i]}) }]
    AS bad_needs,
  [i IN range(0, size($groups) - 1) WHERE NOT EXISTS { MATCH (:TargetGroup {code: $groups[i]}) }]
    AS bad_groups,
  [i IN range(0, size($covers) - 1) WHERE NOT EXISTS { MATCH (:Area {id: $covers[i]}) }]
    AS bad_covers,
  [i IN range(0, size($sites) - 1) WHERE NOT EXISTS { MATCH (:Area {id: $sites[i]}) }]
    AS bad_sites,
  [i IN range(0, size($countries) - 1)
     WHERE NOT EXISTS { MATCH (:Area {id: $countries[i], level: 'country'}) }] AS bad_countries,
  [i IN range(0, size($programmes) - 1)
     WHERE NOT EXISTS { MATCH (:Programme {id: $programmes[i]}) }] AS bad_programmes,
  [i IN range(0, size($sites_given) - 1)
     WHERE EXISTS {
       MATCH (l:Location {id: $sites_given[i].id})<-[:DELIVERED_AT]-(other:Service)
             <-[:PROVIDES]-(owner:Organisation)
       WHERE owner.id <> $organisation AND other.id <> $service
         AND (coalesce(l.name, '') <> coalesce($sites_given[i].name, '')
              OR coalesce(l.address, '') <> coalesce($sites_given[i].address, '')
              OR NOT EXISTS { (l)-[:IN]->(:Area {id: $sites_given[i].area}) }
              OR coalesce(l.opening_hours, []) <> $sites_given[i].hours
              OR CASE WHEN $sites_given[i].lat IS NULL THEN l.point_source <> 'area centroid'
                      ELSE l.point <> point({latitude: $sites_given[i].lat,
                                             longitude: $sites_given[i].lon}) END) }]
    AS foreign_sites
"""


async def reference_problems(
    tx: AsyncManagedTransaction, *, data: ServiceInput, service_id: str | None = None
) -> list[FieldProblem]:
    """Every reference in `data` that names nothing in the graph, with its field path.

    A site belongs to the organisations whose services are delivered there: a site of another
    organisation's services may be named as it is (a shared public place, an airport), but a
    write that would rename or move it under them is refused (a site without an id is a new
    site of this service)."""
    result = await tx.run(
        REFERENCES,
        organisation=data.organisation_id,
        service=service_id,
        sites_given=[
            {
                "id": loc.id,
                "name": loc.name,
                "address": loc.address,
                "area": loc.area,
                "lat": loc.point.lat if loc.point else None,
                "lon": loc.point.lon if loc.point else None,
                "hours": [h.stored() for h in loc.opening_hours],
            }
            for loc in data.locations
        ],
        needs=data.needs,
        groups=data.target_groups,
        covers=data.covers,
        sites=[loc.area for loc in data.locations],
        countries=data.sending_countries,
        programmes=data.programmes,
    )
    r = await result.single(strict=True)
    problems: list[FieldProblem] = []
    if not r["organisation_found"]:
        problems.append(
            FieldProblem("organisation_id", f"unknown organisation {data.organisation_id!r}")
        )
    # Each message says where the valid values are listed.
    checks: list[tuple[str, str, str, list[str]]] = [
        ("bad_needs", "needs", "unknown need code {!r}; the needs query lists them", data.needs),
        (
            "bad_groups",
            "target_groups",
            "unknown target group code {!r}; the targetGroups query lists them",
            data.target_groups,
        ),
        ("bad_covers", "covers", "unknown area {!r}; the areas query finds ids", data.covers),
        (
            "bad_countries",
            "sending_countries",
            "unknown country {!r}; use ISO 3166-1 alpha-2 codes, XK for Kosovo",
            data.sending_countries,
        ),
        ("bad_programmes", "programmes", "unknown programme {!r}", data.programmes),
    ]
    for key, field, message, values in checks:
        problems += [FieldProblem(f"{field}.{i}", message.format(values[i])) for i in r[key]]
    problems += [
        FieldProblem(
            f"locations.{i}.area",
            f"unknown area {data.locations[i].area!r}; the areas query finds ids",
        )
        for i in r["bad_sites"]
    ]
    problems += await site_point_problems(
        tx, sites=[(i, loc) for i, loc in enumerate(data.locations) if i not in r["bad_sites"]]
    )
    problems += [
        FieldProblem(
            f"locations.{i}.id",
            f"site {data.locations[i].id!r} is also used by another organisation; "
            "give it unchanged, or leave the id out to add a site of your own",
        )
        for i in r["foreign_sites"]
    ]
    return problems


# How far outside its area's boundary a site's point may lie: the boundaries are simplified
# (graph/areas.py), so a site on a municipal border may fall just across the line.
BORDER_TOLERANCE_KM = 1.0

# The boundary that speaks for a site's area: its own or the one of the municipality above
# it (a settlement), and whether areas within it have boundaries (a country of the gazetteer).
SITE_BOUNDARY: LiteralString = """
MATCH (a:Area {id: $area})
OPTIONAL MATCH path = (a)-[:PART_OF*0..]->(b:Area) WHERE b.boundary IS NOT NULL
WITH a, b ORDER BY length(path) LIMIT 1
RETURN b.id AS bounded_by, b.boundary AS boundary,
       EXISTS { (a)<-[:PART_OF*]-(c:Area) WHERE c.boundary_sw IS NOT NULL } AS bounded_within
"""


async def site_point_problems(
    tx: AsyncManagedTransaction, *, sites: list[tuple[int, LocationInput]]
) -> list[FieldProblem]:
    """A site's point must lie in the area it names, where the gazetteer has a boundary for
    it (the municipality holding a settlement speaks for it): a site in Prizren with the
    coordinates of Gjakova would be found by searches around the wrong town. The same
    polygons place a point given alone (graph/areas.py `area_containing`, as the HSDS import
    and the search do)."""
    problems: list[FieldProblem] = []
    for i, site in sites:
        if site.point is None:
            continue
        found = await (await tx.run(SITE_BOUNDARY, area=site.area)).single()
        if found is None:
            continue
        lat, lon = site.point.lat, site.point.lon
        if found["boundary"] is not None:
            shape = geometry.boundary_from_text(found["boundary"])
            if shape.distance_km(lat, lon) <= BORDER_TOLERANCE_KM:
                continue
        elif not found["bounded_within"]:
            continue  # no boundary speaks for this area (a town abroad)
        holder = await area_containing(tx, point=site.point)
        if holder is not None and found["boundary"] is None:
            continue  # a country or region of the gazetteer, and the point is in it
        where = (
            f"lies in {holder}"
            if holder is not None
            else "lies outside every municipality boundary of the gazetteer"
        )
        problems.append(
            FieldProblem(
                f"locations.{i}.point",
                f"({lat:g}, {lon:g}) {where}, not in {site.area}; correct the point, or name "
                f"the area it lies in",
            )
        )
    return problems


# --- writes ------------------------------------------------------------------------------


def service_properties(data: ServiceInput) -> dict[str, Any]:
    capacity = (
        {
            "capacity": data.capacity.value,
            "capacity_note": data.capacity_note,
            "capacity_date": data.capacity_date,
        }
        if data.capacity is not None
        else {}
    )
    return capacity | {
        "name": data.name,
        "description": data.description,
        "status": data.status.value,
        "delivery": [d.value for d in data.delivery],
        "languages": data.languages,
        "eligibility_description": data.eligibility_description,
        "minimum_age": data.minimum_age,
        "maximum_age": data.maximum_age,
        "sending_countries": data.sending_countries,
        "return_types": [t.value for t in data.return_types],
        "fees_description": data.fees_description,
        "referral_method": data.referral_method,
        "phone": data.phone,
        "email": data.email.lower() if data.email else None,
        "expected_response_days": data.expected_response_days,
        "search_text": fold(f"{data.name} {data.description or ''}"),
        "name_key": fold(data.name),
    }


def location_rows(service_id: str, data: ServiceInput) -> list[dict[str, Any]]:
    return [
        {
            # A site without an id gets a stable one, so that writing the same service twice
            # finds the same Location again.
            "id": loc.id or f"{service_id}.site-{index}",
            "name": loc.name,
            "address": loc.address,
            "area": loc.area,
            "lat": loc.point.lat if loc.point else None,
            "lon": loc.point.lon if loc.point else None,
            "hours": [h.stored() for h in loc.opening_hours],
        }
        for index, loc in enumerate(data.locations)
    ]


# The relationships a search would otherwise expand for every candidate, kept as list
# properties on the service (`need_codes`, `target_group_codes`, `covered_area_ids`,
# `programme_ids`, `site_points`): graph/search.py filters and scores on them. UPSERT sets
# them from what it links in the same statement (what matched in the graph, sorted by code or
# id), so the two cannot disagree; migration 9 set them once for services written before.
# This reads them back from the relationships, for a site shared by other services.
SITE_POINTS: LiteralString = """COLLECT { MATCH (sharing)-[:DELIVERED_AT]->(x:Location)
                              WHERE x.point IS NOT NULL RETURN x.point ORDER BY x.id }"""

# The input is the full description of the service: relationships it no longer names are
# deleted and those it names are merged, so rewriting an unchanged service touches no
# relationship, and a new one has nothing to delete.
# A site without coordinates is placed at its area's centroid and says so (point_source).
# Sites are shared by the services of one organisation, so a site that moved also refreshes
# the `site_points` of the other services delivered there.
# `hsds_key` (graph/hsds_ids.py): the HSDS id a record is found by; an HSDS id given now
# replaces the one kept, without one the kept one stays.
UPSERT: LiteralString = (
    """
UNWIND $rows AS row
MATCH (o:Organisation {id: row.organisation})
MERGE (s:Service {id: row.id})
ON CREATE SET s.version = 1, s.created_at = datetime(), s.updated_at = datetime()
SET s += row.props
SET s.hsds_key = toLower(coalesce(s.hsds_id, row.derived_hsds_id))
MERGE (o)-[:PROVIDES]->(s)
WITH s, row
CALL (s, row) {
  MATCH (s)-[old:ADDRESSES|SERVES|COVERS|FUNDED_BY|DELIVERED_AT]->(x)
  WHERE NOT CASE type(old)
    WHEN 'ADDRESSES' THEN x.code IN row.needs
    WHEN 'SERVES' THEN x.code IN row.groups
    WHEN 'COVERS' THEN x.id IN row.covers
    WHEN 'FUNDED_BY' THEN x.id IN row.programmes
    ELSE x.id IN [site IN row.locations | site.id] END
  DELETE old
}
CALL (s, row) {
  UNWIND row.needs AS code
  MATCH (n:Need {code: code})
  MERGE (s)-[:ADDRESSES]->(n)
  WITH DISTINCT code ORDER BY code
  RETURN collect(code) AS need_codes
}
CALL (s, row) {
  UNWIND row.groups AS code
  MATCH (t:TargetGroup {code: code})
  MERGE (s)-[:SERVES]->(t)
  WITH DISTINCT code ORDER BY code
  RETURN collect(code) AS group_codes
}
CALL (s, row) {
  UNWIND row.covers AS id
  MATCH (a:Area {id: id})
  MERGE (s)-[:COVERS]->(a)
  WITH DISTINCT id ORDER BY id
  RETURN collect(id) AS area_ids
}
CALL (s, row) {
  UNWIND row.programmes AS id
  MATCH (p:Programme {id: id})
  MERGE (s)-[:FUNDED_BY]->(p)
  WITH DISTINCT id ORDER BY id
  RETURN collect(id) AS programme_ids
}
CALL (s, row) {
  UNWIND row.locations AS site
  MATCH (a:Area {id: site.area})
  MERGE (l:Location {id: site.id})
  WITH s, l, a, site, l.point AS before, l.hsds_key AS key_before
  SET l.name = site.name, l.address = site.address, l.opening_hours = site.hours,
      l.point = CASE WHEN site.lat IS NULL THEN a.centroid
                     ELSE point({latitude: site.lat, longitude: site.lon}) END,
      l.point_source = CASE WHEN site.lat IS NULL THEN 'area centroid' ELSE 'given' END
  SET l += coalesce(site.extra, {})
  SET l.hsds_key = toLower(coalesce(l.hsds_id, site.derived_hsds_id))
  MERGE (s)-[at:DELIVERED_AT]->(l)
  SET at.hsds_key = site.hsds_key
  WITH s, l, a, before, key_before
  CALL (l, a) {
    MATCH (l)-[oldIn:IN]->(other:Area) WHERE other <> a
    DELETE oldIn
  }
  MERGE (l)-[:IN]->(a)
  WITH DISTINCT s, l, before, key_before
  CALL (s, l, before) {
    WITH * WHERE before IS NOT NULL AND before <> l.point
    MATCH (l)<-[:DELIVERED_AT]-(sharing:Service) WHERE sharing <> s
    SET sharing.site_points = """
    + SITE_POINTS
    + """
  }
  WITH l, key_before ORDER BY l.id
  RETURN collect(l.point) AS site_points,
         collect(CASE WHEN key_before <> l.hsds_key THEN l.id END) AS rekeyed
}
SET s.need_codes = need_codes, s.target_group_codes = group_codes,
    s.covered_area_ids = area_ids, s.programme_ids = programme_ids,
    s.site_points = site_points
RETURN count(s) AS written, collect(rekeyed) AS rekeyed
"""
)


def upsert_row(service_id: str, data: ServiceInput, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": service_id,
        "organisation": data.organisation_id,
        "props": service_properties(data) | extra,
        "needs": data.needs,
        "groups": data.target_groups,
        "covers": data.covers,
        "programmes": data.programmes,
        "locations": location_rows(service_id, data),
    }


STORED_HSDS_IDS: LiteralString = """
CALL () {
  UNWIND $services AS id MATCH (s:Service {id: id}) WHERE s.hsds_id IS NOT NULL
  RETURN collect([id, s.hsds_id]) AS services
}
CALL () {
  UNWIND $locations AS id MATCH (l:Location {id: id}) WHERE l.hsds_id IS NOT NULL
  RETURN collect([id, l.hsds_id]) AS locations
}
RETURN services, locations
"""


async def _with_hsds_keys(
    tx: AsyncManagedTransaction, rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`rows` with what UPSERT needs to store HSDS ids: the derived ids of services and sites,
    and the key of each service at a site, which is derived from the HSDS ids of both (kept
    ones, read here, when the row brings none: an import brings them all)."""
    missing_services = [r["id"] for r in rows if not r["props"].get("hsds_id")]
    missing_sites = [
        site["id"]
        for r in rows
        for site in r["locations"]
        if not (site.get("extra") or {}).get("hsds_id")
    ]
    stored: dict[str, dict[str, str]] = {"services": {}, "locations": {}}
    if missing_services or missing_sites:
        record = await (
            await tx.run(STORED_HSDS_IDS, services=missing_services, locations=missing_sites)
        ).single(strict=True)
        stored = {kind: dict(record[kind]) for kind in stored}
    out = []
    for row in rows:
        service = (row["id"], row["props"].get("hsds_id") or stored["services"].get(row["id"]))
        sites = []
        for site in row["locations"]:
            given = (site.get("extra") or {}).get("hsds_id")
            location = (site["id"], given or stored["locations"].get(site["id"]))
            sites.append(
                site
                | {
                    "derived_hsds_id": hsds_id("location", site["id"]),
                    "hsds_key": site_key(service, location),
                }
            )
        out.append(row | {"derived_hsds_id": hsds_id("service", row["id"]), "locations": sites})
    return out


# Services sharing a site with the written ones; cheap (sites are shared within one
# organisation), and a moved site is rare enough that stamping them all costs nothing.
SHARING_AT: LiteralString = """
UNWIND $ids AS id
MATCH (:Service {id: id})-[:DELIVERED_AT]->(:Location)<-[:DELIVERED_AT]-(other:Service)
WHERE NOT other.id IN $ids
RETURN collect(DISTINCT other.id) AS ids
"""


async def upsert_services(tx: AsyncManagedTransaction, *, rows: list[dict[str, Any]]) -> int:
    """Bulk write of rows made by `upsert_row`; references must have been checked."""
    result = await tx.run(UPSERT, rows=await _with_hsds_keys(tx, rows))
    record = await result.single(strict=True)
    # A moved site changes the site points of the other services delivered there: stamped
    # with them (SHARING_AT reads them after the write).
    sharing = await (await tx.run(SHARING_AT, ids=[r["id"] for r in rows])).single(strict=True)
    await services_changed(tx, ids=[r["id"] for r in rows] + list(sharing["ids"]))
    # A shared site given a new HSDS id changes the keys of the other services' links to it.
    rekeyed = sorted({id for ids in record["rekeyed"] for id in ids})
    if rekeyed:
        await rekey_services_at(tx, locations=rekeyed)
    return int(record["written"])


def check_scope(organisation_id: str, allowed: set[str] | None) -> None:
    """`allowed` comes from the access policy: None is every organisation (admins)."""
    if allowed is not None and organisation_id not in allowed:
        raise Forbidden(f"you may not change the services of organisation {organisation_id!r}")


# The eligibility verdict is derived from the service and its programmes, each audited
# where it changes.
UNAUDITED = {
    "id",
    "version",
    "created_at",
    "updated_at",
    "restricted_to",
    "restricting_programmes",
}

SHARING_SERVICES: LiteralString = """
UNWIND $sites AS site
MATCH (:Location {id: site})<-[:DELIVERED_AT]-(other:Service)
WHERE other.id <> $service
RETURN collect(DISTINCT other.id) AS ids
"""

BUMP_SHARING: LiteralString = """
MATCH (s:Service {id: $id})
SET s.version = s.version + 1, s.updated_at = datetime()
"""


async def _sharing_services(
    tx: AsyncManagedTransaction, *, service_id: str, data: ServiceInput
) -> dict[str, Service]:
    """The other services delivered at the sites `data` names, as they are before the write."""
    sites = [loc.id for loc in data.locations if loc.id]
    if not sites:
        return {}
    record = await (await tx.run(SHARING_SERVICES, sites=sites, service=service_id)).single(
        strict=True
    )
    return await services_by_ids(tx, ids=list(record["ids"]))


async def _record_shared_site_changes(
    tx: AsyncManagedTransaction, *, actor: Actor, before: dict[str, Service]
) -> None:
    """A site is part of the description of every service delivered there: a write that
    renamed or moved it changed those services too, so each gets a new version (an edit
    based on the old site is then a conflict) and an audit event of its own."""
    if not before:
        return
    after = await services_by_ids(tx, ids=list(before))
    for id, old in before.items():
        new = after[id]
        changes = diff(old.model_dump(exclude=UNAUDITED), new.model_dump(exclude=UNAUDITED))
        if not changes:
            continue
        await tx.run(BUMP_SHARING, id=id)
        await record_event(
            tx,
            actor=actor,
            action="update",
            entity="service",
            entity_id=id,
            organisation_id=new.organisation_id,
            changes=changes,
        )


async def register_service(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: ServiceInput,
    actor: Actor,
    allowed_organisations: set[str] | None,
    confirm_not_duplicate: bool = False,
    not_duplicate_reason: str | None = None,
) -> Service:
    """Check scope, every reference and probable duplicates, then write the service and its
    audit event, all in one transaction. An id that exists already is returned unchanged
    (a retried registration). Why the registration is not a duplicate, when someone says so
    over the check's candidates, is kept in the audit event for the reviewers."""
    check_scope(data.organisation_id, allowed_organisations)
    existing = await services_by_ids(tx, ids=[id])
    if id in existing:
        return existing[id]
    problems = await reference_problems(tx, data=data, service_id=id)
    if problems:
        raise ValidationFailed(problems)
    if not confirm_not_duplicate:
        record = service_features(
            id=id,
            name=data.name,
            organisation_id=data.organisation_id,
            needs=data.needs,
            groups=data.target_groups,
            areas=[*data.covers, *(loc.area for loc in data.locations)],
            points=[(loc.point.lat, loc.point.lon) for loc in data.locations if loc.point],
        )
        candidates = await service_candidates(tx, record=record)
        if candidates:
            raise PossibleDuplicates("service", candidates)
    sharing = await _sharing_services(tx, service_id=id, data=data)
    await upsert_services(tx, rows=[upsert_row(id, data, {})])
    await _record_shared_site_changes(tx, actor=actor, before=sharing)
    created = await get_service(tx, id=id)
    changes = diff(None, created.model_dump(exclude=UNAUDITED))
    if confirm_not_duplicate and not_duplicate_reason:
        changes.append(
            FieldChange(
                field="not_duplicate_reason", previous=None, replacement=not_duplicate_reason
            )
        )
    await record_event(
        tx,
        actor=actor,
        action="register",
        entity="service",
        entity_id=id,
        organisation_id=data.organisation_id,
        changes=changes,
    )
    return created


# Taking the write lock first (by bumping the version) serialises concurrent updates: the
# second waits, then sees a version it did not expect and is refused instead of overwriting.
BUMP_VERSION: LiteralString = """
MATCH (s:Service {id: $id})
SET s.version = s.version + 1, s.updated_at = datetime()
RETURN s.version - 1 AS previous
"""

MOVE_SERVICE: LiteralString = "MATCH (:Organisation)-[p:PROVIDES]->(:Service {id: $id}) DELETE p"


async def update_service(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    expected_version: int,
    data: ServiceInput,
    actor: Actor,
    allowed_organisations: set[str] | None,
) -> Service:
    """Replace a service's description if the caller saw its current version."""
    record = await (await tx.run(BUMP_VERSION, id=id)).single()
    if record is None:
        raise NotFound("service", id)
    before = await get_service(tx, id=id)
    check_scope(before.organisation_id, allowed_organisations)
    check_scope(data.organisation_id, allowed_organisations)
    if record["previous"] != expected_version:
        raise VersionConflict("service", id, expected_version, record["previous"])
    problems = await reference_problems(tx, data=data, service_id=id)
    if problems:
        raise ValidationFailed(problems)
    if data.organisation_id != before.organisation_id:
        await tx.run(MOVE_SERVICE, id=id)
    sharing = await _sharing_services(tx, service_id=id, data=data)
    await upsert_services(tx, rows=[upsert_row(id, data, {})])
    await _record_shared_site_changes(tx, actor=actor, before=sharing)
    after = await get_service(tx, id=id)
    await record_event(
        tx,
        actor=actor,
        action="update",
        entity="service",
        entity_id=id,
        organisation_id=after.organisation_id,
        changes=diff(
            before.model_dump(exclude=UNAUDITED),
            after.model_dump(exclude=UNAUDITED),
        ),
    )
    return after
