"""Services: one offer of an organisation, where and for whom it is delivered.

Field names follow HSDS 3.0's `service` where HSDS has the concept (name, description,
status, eligibility_description, minimum_age, maximum_age, fees_description); the rest is
what referral work needs (needs, coverage, languages, sending countries, response time,
capacity, verification).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from core.errors import FieldProblem, Forbidden, NotFound, ValidationFailed, VersionConflict
from core.languages import iso639_codes
from core.text import distinct, fold
from graph.areas import GeoPoint
from graph.audit import diff, record_event
from graph.duplicates import PossibleDuplicates, service_candidates, service_features
from graph.hsds_ids import hsds_id, rekey_services_at, site_key
from graph.pagination import Page, decode_cursor, paginate
from graph.temporal import day, native
from graph.users import Actor

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ServiceStatus(StrEnum):
    ACTIVE = "active"
    TEMPORARILY_CLOSED = "temporarily_closed"
    INACTIVE = "inactive"
    DEFUNCT = "defunct"


class DeliveryMode(StrEnum):
    IN_PERSON = "in_person"
    REMOTE = "remote"
    OUTREACH = "outreach"


class Capacity(StrEnum):
    AVAILABLE = "available"
    LIMITED = "limited"
    FULL = "full"
    UNKNOWN = "unknown"


class ReturnType(StrEnum):
    VOLUNTARY = "voluntary"
    MANDATORY = "mandatory"
    FORCED = "forced"


class LocationInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=80)
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    area: str = Field(min_length=1, max_length=64, description="Area the site lies in.")
    point: GeoPoint | None = None


class HsdsIdentity(BaseModel):
    """What an HSDS import kept of a record: its HSDS id and the HSDS content Homeward has no
    field for (JSON), given back by an export."""

    hsds_id: str | None = None
    hsds_extra: str | None = None


class Location(HsdsIdentity):
    id: str
    name: str | None
    address: str | None
    area_id: str | None
    point: GeoPoint | None
    # 'given', or 'area centroid' for a site placed at its area's centroid.
    point_source: str | None = None


class ServiceInput(BaseModel):
    """Everything a registration or an import may say about a service; the single source of
    the rules that every entry path (GraphQL, seed, importers) applies."""

    model_config = ConfigDict(str_strip_whitespace=True)

    organisation_id: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    status: ServiceStatus = ServiceStatus.ACTIVE
    delivery: list[DeliveryMode] = Field(min_length=1)
    needs: list[str] = Field(min_length=1, max_length=30)
    target_groups: list[str] = Field(default_factory=list, max_length=30)
    covers: list[str] = Field(default_factory=list, max_length=200)
    locations: list[LocationInput] = Field(
        default_factory=list, max_length=50, validate_default=True
    )
    languages: list[str] = Field(default_factory=list, max_length=20)
    eligibility_description: str | None = Field(default=None, max_length=2000)
    minimum_age: int | None = Field(default=None, ge=0, le=120)
    maximum_age: int | None = Field(default=None, ge=0, le=120)
    sending_countries: list[str] = Field(default_factory=list)
    programmes: list[str] = Field(default_factory=list)
    return_types: list[ReturnType] = Field(default_factory=list)
    fees_description: str | None = Field(default=None, max_length=1000)
    referral_method: str | None = Field(default=None, max_length=1000)
    expected_response_days: int | None = Field(default=None, ge=0, le=365)
    # Capacity has its own mutation; on an edit, None leaves the current capacity as it is.
    # Verification is never part of an edit (an edit is not a confirmation that all is true).
    capacity: Capacity | None = None
    capacity_note: str | None = Field(default=None, max_length=500)
    capacity_date: date | None = None

    @field_validator("needs", "target_groups", "covers", "programmes")
    @classmethod
    def _distinct_codes(cls, values: list[str]) -> list[str]:
        return distinct(values)

    @field_validator("languages")
    @classmethod
    def _iso639(cls, values: list[str]) -> list[str]:
        return iso639_codes(values)

    @field_validator("sending_countries")
    @classmethod
    def _countries(cls, values: list[str]) -> list[str]:
        codes = distinct([v.upper() for v in values])
        for code in codes:
            if len(code) != 2 or not code.isalpha():
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
        return codes

    # Field validators (not a model validator) so that the error names the field at fault.
    @field_validator("maximum_age")
    @classmethod
    def _age_range(cls, maximum: int | None, info: ValidationInfo) -> int | None:
        minimum = info.data.get("minimum_age")
        if maximum is not None and minimum is not None and minimum > maximum:
            raise ValueError(f"minimum_age {minimum} is above maximum_age {maximum}")
        return maximum

    @field_validator("locations")
    @classmethod
    def _in_person_has_a_place(
        cls, locations: list[LocationInput], info: ValidationInfo
    ) -> list[LocationInput]:
        delivery = info.data.get("delivery") or []
        if DeliveryMode.IN_PERSON in delivery and not (locations or info.data.get("covers")):
            raise ValueError("an in-person service needs a location or a covered area")
        return locations


class Service(HsdsIdentity):
    id: str
    organisation_id: str
    name: str
    description: str | None
    status: ServiceStatus
    delivery: list[DeliveryMode]
    need_codes: list[str]
    target_group_codes: list[str]
    covered_area_ids: list[str]
    locations: list[Location]
    programme_ids: list[str]
    languages: list[str]
    eligibility_description: str | None
    minimum_age: int | None
    maximum_age: int | None
    sending_countries: list[str]
    return_types: list[ReturnType]
    fees_description: str | None
    referral_method: str | None
    expected_response_days: int | None
    capacity: Capacity
    capacity_note: str | None
    capacity_date: date | None
    last_verified_at: datetime | None
    last_verified_by: str | None
    reverification_reason: str | None
    responsiveness: Responsiveness | None = None
    version: int
    created_at: datetime
    updated_at: datetime


class Responsiveness(BaseModel):
    """How the service answers referrals, kept current by graph/referrals/lifecycle.py."""

    referrals_received: int
    ack_median_hours: float | None
    acceptance_rate: float | None
    feedback_rate: float | None


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
     WHERE NOT EXISTS { MATCH (:Programme {id: $programmes[i]}) }] AS bad_programmes
"""


async def reference_problems(
    tx: AsyncManagedTransaction, *, data: ServiceInput
) -> list[FieldProblem]:
    """Every reference in `data` that names nothing in the graph, with its field path."""
    result = await tx.run(
        REFERENCES,
        organisation=data.organisation_id,
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
  SET l.name = site.name, l.address = site.address,
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


async def upsert_services(tx: AsyncManagedTransaction, *, rows: list[dict[str, Any]]) -> int:
    """Bulk write of rows made by `upsert_row`; references must have been checked."""
    result = await tx.run(UPSERT, rows=await _with_hsds_keys(tx, rows))
    record = await result.single(strict=True)
    # A shared site given a new HSDS id changes the keys of the other services' links to it.
    rekeyed = sorted({id for ids in record["rekeyed"] for id in ids})
    if rekeyed:
        await rekey_services_at(tx, locations=rekeyed)
    return int(record["written"])


def _check_scope(organisation_id: str, allowed: set[str] | None) -> None:
    """`allowed` comes from the access policy: None is every organisation (admins)."""
    if allowed is not None and organisation_id not in allowed:
        raise Forbidden(f"you may not change the services of organisation {organisation_id!r}")


_UNAUDITED = {"id", "version", "created_at", "updated_at"}


async def register_service(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: ServiceInput,
    actor: Actor,
    allowed_organisations: set[str] | None,
    confirm_not_duplicate: bool = False,
) -> Service:
    """Check scope, every reference and probable duplicates, then write the service and its
    audit event, all in one transaction. An id that exists already is returned unchanged
    (a retried registration)."""
    _check_scope(data.organisation_id, allowed_organisations)
    existing = await services_by_ids(tx, ids=[id])
    if id in existing:
        return existing[id]
    problems = await reference_problems(tx, data=data)
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
    await upsert_services(tx, rows=[upsert_row(id, data, {})])
    created = await get_service(tx, id=id)
    await record_event(
        tx,
        actor=actor,
        action="register",
        entity="service",
        entity_id=id,
        organisation_id=data.organisation_id,
        changes=diff(None, created.model_dump(exclude=_UNAUDITED)),
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
    _check_scope(before.organisation_id, allowed_organisations)
    _check_scope(data.organisation_id, allowed_organisations)
    if record["previous"] != expected_version:
        raise VersionConflict("service", id, expected_version, record["previous"])
    problems = await reference_problems(tx, data=data)
    if problems:
        raise ValidationFailed(problems)
    if data.organisation_id != before.organisation_id:
        await tx.run(MOVE_SERVICE, id=id)
    await upsert_services(tx, rows=[upsert_row(id, data, {})])
    after = await get_service(tx, id=id)
    await record_event(
        tx,
        actor=actor,
        action="update",
        entity="service",
        entity_id=id,
        organisation_id=after.organisation_id,
        changes=diff(
            before.model_dump(exclude=_UNAUDITED),
            after.model_dump(exclude=_UNAUDITED),
        ),
    )
    return after


# --- reads -------------------------------------------------------------------------------

# One query per page or batch: related ids are collected here and resolved by DataLoaders.
# Instants as ISO text (graph/temporal.py says why); every other property as stored.
RETURN_SERVICE: LiteralString = """
RETURN s {.*, capacity_date: toString(s.capacity_date),
          last_verified_at: toString(s.last_verified_at),
          created_at: toString(s.created_at), updated_at: toString(s.updated_at)} AS s,
  COLLECT { MATCH (o:Organisation)-[:PROVIDES]->(s) RETURN o.id }[0] AS organisation_id,
  COLLECT { MATCH (s)-[:ADDRESSES]->(n:Need) RETURN n.code ORDER BY n.code } AS needs,
  COLLECT { MATCH (s)-[:SERVES]->(t:TargetGroup) RETURN t.code ORDER BY t.code } AS groups,
  COLLECT { MATCH (s)-[:COVERS]->(a:Area) RETURN a.id ORDER BY a.id } AS covers,
  COLLECT { MATCH (s)-[:FUNDED_BY]->(p:Programme) RETURN p.id ORDER BY p.id } AS programmes,
  COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location)
            OPTIONAL MATCH (l)-[:IN]->(a:Area)
            RETURN {location: l, area: a.id} ORDER BY l.id } AS locations
"""


def _location(entry: dict[str, Any]) -> Location:
    props = dict(entry["location"])
    point = props.get("point")
    return Location(
        id=props["id"],
        name=props.get("name"),
        address=props.get("address"),
        area_id=entry["area"],
        point=GeoPoint(lat=point.y, lon=point.x) if point is not None else None,
        point_source=props.get("point_source"),
        hsds_id=props.get("hsds_id"),
        hsds_extra=props.get("hsds_extra"),
    )


def _service(record: Any) -> Service:
    props = dict(record["s"])
    return Service(
        id=props["id"],
        organisation_id=record["organisation_id"],
        name=props["name"],
        description=props.get("description"),
        status=ServiceStatus(props["status"]),
        delivery=[DeliveryMode(d) for d in props.get("delivery") or []],
        need_codes=record["needs"],
        target_group_codes=record["groups"],
        covered_area_ids=record["covers"],
        locations=[_location(e) for e in record["locations"]],
        programme_ids=record["programmes"],
        languages=list(props.get("languages") or []),
        eligibility_description=props.get("eligibility_description"),
        minimum_age=props.get("minimum_age"),
        maximum_age=props.get("maximum_age"),
        sending_countries=list(props.get("sending_countries") or []),
        return_types=[ReturnType(t) for t in props.get("return_types") or []],
        fees_description=props.get("fees_description"),
        referral_method=props.get("referral_method"),
        expected_response_days=props.get("expected_response_days"),
        capacity=Capacity(props.get("capacity") or "unknown"),
        capacity_note=props.get("capacity_note"),
        capacity_date=day(props.get("capacity_date")),
        last_verified_at=native(props.get("last_verified_at")),
        last_verified_by=props.get("last_verified_by"),
        reverification_reason=props.get("reverification_reason"),
        responsiveness=Responsiveness(
            referrals_received=props["referrals_received"],
            ack_median_hours=props.get("ack_median_hours"),
            acceptance_rate=props.get("acceptance_rate"),
            feedback_rate=props.get("feedback_rate"),
        )
        if props.get("referrals_received")
        else None,
        hsds_id=props.get("hsds_id"),
        hsds_extra=props.get("hsds_extra"),
        version=props["version"],
        created_at=native(props["created_at"]),
        updated_at=native(props["updated_at"]),
    )


BY_IDS: LiteralString = "UNWIND $ids AS id MATCH (s:Service {id: id}) " + RETURN_SERVICE

AFTER: LiteralString = (
    "MATCH (s:Service) WHERE s.id > $after WITH s ORDER BY s.id LIMIT $limit " + RETURN_SERVICE
)


async def services_after(tx: AsyncManagedTransaction, *, after: str, limit: int) -> list[Service]:
    """Every service in id order, a page at a time (exports)."""
    result = await tx.run(AFTER, after=after, limit=limit)
    return [_service(r) async for r in result]


async def services_by_ids(tx: AsyncManagedTransaction, *, ids: list[str]) -> dict[str, Service]:
    result = await tx.run(BY_IDS, ids=ids)
    return {s.id: s for s in [_service(r) async for r in result]}


async def get_service(tx: AsyncManagedTransaction, *, id: str) -> Service:
    found = await services_by_ids(tx, ids=[id])
    if id not in found:
        raise NotFound("service", id)
    return found[id]


OF_ORGANISATION: LiteralString = (
    """
MATCH (:Organisation {id: $organisation})-[:PROVIDES]->(s:Service)
WHERE s.name > $after_name OR (s.name = $after_name AND s.id > $after_id)
WITH s ORDER BY s.name, s.id LIMIT $limit
"""
    + RETURN_SERVICE
)


async def services_of_organisation(
    tx: AsyncManagedTransaction, *, organisation_id: str, first: int, after: str | None
) -> Page[Service]:
    name, id = decode_cursor(after)
    result = await tx.run(
        OF_ORGANISATION,
        organisation=organisation_id,
        after_name=name,
        after_id=id,
        limit=first + 1,
    )
    rows = [(s.name, s.id, s) for s in [_service(r) async for r in result]]
    return paginate(rows, first)


# Covering an area covers everything PART_OF it; a site in an area or below it also counts.
IN_AREA: LiteralString = (
    """
MATCH (a:Area {id: $area})
WITH COLLECT { MATCH (a)-[:PART_OF*0..]->(:Area)<-[:COVERS]-(s:Service) RETURN s }
   + COLLECT { MATCH (a)<-[:PART_OF*0..]-(:Area)<-[:IN]-(:Location)<-[:DELIVERED_AT]-(s:Service)
               RETURN s } AS found
UNWIND found AS s
WITH DISTINCT s
WHERE s.name > $after_name OR (s.name = $after_name AND s.id > $after_id)
WITH s ORDER BY s.name, s.id LIMIT $limit
"""
    + RETURN_SERVICE
)


async def services_in_area(
    tx: AsyncManagedTransaction, *, area_id: str, first: int, after: str | None
) -> Page[Service]:
    name, id = decode_cursor(after)
    result = await tx.run(IN_AREA, area=area_id, after_name=name, after_id=id, limit=first + 1)
    rows = [(s.name, s.id, s) for s in [_service(r) async for r in result]]
    return paginate(rows, first)


# --- verification, freshness and capacity --------------------------------------------------


class Freshness(StrEnum):
    FRESH = "fresh"
    AGEING = "ageing"
    STALE = "stale"
    UNVERIFIED = "unverified"


def freshness(
    last_verified_at: datetime | None,
    *,
    now: datetime,
    ageing_after_days: int,
    stale_after_days: int,
) -> Freshness:
    """How much to trust an entry, from the time since someone confirmed it."""
    if last_verified_at is None:
        return Freshness.UNVERIFIED
    age = now - last_verified_at
    if age > timedelta(days=stale_after_days):
        return Freshness.STALE
    if age > timedelta(days=ageing_after_days):
        return Freshness.AGEING
    return Freshness.FRESH


ORGANISATION_OF: LiteralString = """
MATCH (o:Organisation)-[:PROVIDES]->(s:Service {id: $id}) RETURN o.id AS organisation
"""


async def _organisation_of(tx: AsyncManagedTransaction, id: str) -> str:
    record = await (await tx.run(ORGANISATION_OF, id=id)).single()
    if record is None:
        raise NotFound("service", id)
    return str(record["organisation"])


VERIFY: LiteralString = """
MATCH (s:Service {id: $id})
SET s.last_verified_at = $at, s.last_verified_by = $by,
    s.reverification_reason = null, s.reverification_flagged_at = null
"""


async def verify_service(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    at: datetime,
    actor: Actor,
    allowed_organisations: set[str] | None,
) -> Service:
    """Someone confirmed that the entry is correct as it stands. Not an edit: the version
    and `updated_at` stay, so a verification never conflicts with a pending edit."""
    return await _audited_change(
        tx,
        id=id,
        action="verify",
        statement=VERIFY,
        params={"at": at, "by": actor.email or actor.label},
        actor=actor,
        allowed_organisations=allowed_organisations,
    )


async def _audited_change(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    action: str,
    statement: LiteralString,
    params: dict[str, Any],
    actor: Actor,
    allowed_organisations: set[str] | None,
) -> Service:
    """A change outside the versioned description (verification, capacity): scope check,
    the statement, and an audit event with the fields it changed."""
    organisation = await _organisation_of(tx, id)
    _check_scope(organisation, allowed_organisations)
    before = await get_service(tx, id=id)
    await tx.run(statement, params, id=id)
    after = await get_service(tx, id=id)
    await record_event(
        tx,
        actor=actor,
        action=action,
        entity="service",
        entity_id=id,
        organisation_id=organisation,
        changes=diff(before.model_dump(exclude=_UNAUDITED), after.model_dump(exclude=_UNAUDITED)),
    )
    return after


FLAG: LiteralString = """
MATCH (s:Service {id: $id})
SET s.reverification_reason = $reason, s.reverification_flagged_at = $at
"""


async def flag_for_reverification(
    tx: AsyncManagedTransaction, *, id: str, reason: str, at: datetime
) -> None:
    """Ask for the entry to be confirmed again, e.g. after a referral came back with
    "could not contact" or "no capacity". The next verification clears the flag."""
    await tx.run(FLAG, id=id, reason=reason, at=at)


CAPACITY: LiteralString = """
MATCH (s:Service {id: $id})
SET s.capacity = $capacity, s.capacity_note = $note, s.capacity_date = $as_of,
    s.updated_at = datetime()
"""


async def set_service_capacity(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    capacity: Capacity,
    note: str | None,
    as_of: date,
    actor: Actor,
    allowed_organisations: set[str] | None,
) -> Service:
    """Capacity changes often and stands apart from the description, so it does not bump the
    version that edits are checked against."""
    return await _audited_change(
        tx,
        id=id,
        action="set capacity",
        statement=CAPACITY,
        params={"capacity": capacity.value, "note": note, "as_of": as_of},
        actor=actor,
        allowed_organisations=allowed_organisations,
    )


# Active and temporarily closed services whose confirmation is older than the ageing
# threshold, never given, or asked for again.
DUE: LiteralString = (
    """
MATCH (o:Organisation)-[:PROVIDES]->(s:Service)
WHERE s.status IN ['active', 'temporarily_closed']
  AND ($organisation IS NULL OR o.id = $organisation)
  AND (s.last_verified_at IS NULL OR s.last_verified_at < $due_before
       OR s.reverification_reason IS NOT NULL)
WITH s, o ORDER BY o.name, s.last_verified_at, s.name
"""
    + RETURN_SERVICE
)


async def verification_due(
    tx: AsyncManagedTransaction, *, due_before: datetime, organisation_id: str | None
) -> list[Service]:
    result = await tx.run(DUE, due_before=due_before, organisation=organisation_id)
    return [_service(r) async for r in result]


BY_NAME_KEYS: LiteralString = """
UNWIND $wanted AS w
MATCH (:Organisation {id: w.organisation})-[:PROVIDES]->(s:Service {name_key: w.key})
RETURN w.organisation AS organisation, w.key AS key, collect(s.id) AS ids
"""


async def service_ids_by_names(
    tx: AsyncManagedTransaction, *, wanted: list[tuple[str, str]]
) -> dict[tuple[str, str], list[str]]:
    """Ids of the services each (organisation id, folded service name) pair names, so that
    an import finds a service registered by other means instead of adding it again."""
    result = await tx.run(BY_NAME_KEYS, wanted=[{"organisation": o, "key": k} for o, k in wanted])
    return {(r["organisation"], r["key"]): sorted(r["ids"]) async for r in result}
