"""Reading services: one, some by id, a page of an organisation's or an area's, the next
batch for an export, and the ids an import finds services by.
"""

from __future__ import annotations

from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from core.errors import NotFound
from graph.areas import GeoPoint
from graph.eligibility import RESTRICTED_TO, RESTRICTING_PROGRAMMES
from graph.pagination import (
    Page,
    ParentPage,
    pages_by_parent,
    parent_cursors,
)
from graph.services.models import (
    Capacity,
    DeliveryMode,
    Location,
    OpeningHours,
    Responsiveness,
    ReturnType,
    Service,
    ServiceStatus,
)
from graph.temporal import day, native

# One query per page or batch: related ids are collected here and resolved by DataLoaders.
# Instants as ISO text (graph/temporal.py says why); every other property as stored.
RETURN_SERVICE: LiteralString = (
    """
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
            RETURN {location: l, area: a.id} ORDER BY l.id } AS locations,
  """
    + RESTRICTED_TO
    + """ AS restricted_to,
  """
    + RESTRICTING_PROGRAMMES
    + """ AS restricting_programmes
"""
)


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
        opening_hours=[OpeningHours.from_stored(h) for h in props.get("opening_hours") or []],
        hsds_id=props.get("hsds_id"),
        hsds_extra=props.get("hsds_extra"),
    )


def service_from_record(record: Any) -> Service:
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
        phone=props.get("phone"),
        email=props.get("email"),
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
        restricted_to=record["restricted_to"],
        # Programmes name countries without restricting a service another one opens to all.
        restricting_programmes=record["restricting_programmes"] if record["restricted_to"] else [],
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
    return [service_from_record(r) async for r in result]


async def services_by_ids(tx: AsyncManagedTransaction, *, ids: list[str]) -> dict[str, Service]:
    result = await tx.run(BY_IDS, ids=ids)
    return {s.id: s for s in [service_from_record(r) async for r in result]}


async def get_service(tx: AsyncManagedTransaction, *, id: str) -> Service:
    found = await services_by_ids(tx, ids=[id])
    if id not in found:
        raise NotFound("service", id)
    return found[id]


# The pages of many organisations or areas at once, so that a list of them nested in a query
# costs one read per level rather than one per parent.
OF_ORGANISATIONS: LiteralString = (
    """
UNWIND $wanted AS w
CALL (w) {
  MATCH (:Organisation {id: w.parent})-[:PROVIDES]->(s:Service)
  WHERE s.name > w.after_name OR (s.name = w.after_name AND s.id > w.after_id)
  WITH s ORDER BY s.name, s.id LIMIT $limit
  RETURN s
}
WITH w, s
"""
    + RETURN_SERVICE
    + ", w.parent AS parent, w.after AS after"
)


async def services_of_organisations(
    tx: AsyncManagedTransaction, *, wanted: list[ParentPage], first: int
) -> dict[ParentPage, Page[Service]]:
    result = await tx.run(OF_ORGANISATIONS, wanted=parent_cursors(wanted), limit=first + 1)
    rows = [(r["parent"], r["after"], service_from_record(r)) async for r in result]
    return pages_by_parent(wanted, [(p, a, s.name, s.id, s) for p, a, s in rows], first)


IN_AREAS: LiteralString = (
    """
UNWIND $wanted AS w
CALL (w) {
  MATCH (a:Area {id: w.parent})
  WITH COLLECT { MATCH (a)-[:PART_OF*0..]->(:Area)<-[:COVERS]-(s:Service) RETURN s }
     + COLLECT { MATCH (a)<-[:PART_OF*0..]-(:Area)<-[:IN]-(:Location)<-[:DELIVERED_AT]-(s:Service)
                 RETURN s } AS found
  UNWIND found AS s
  WITH DISTINCT s
  WHERE s.name > w.after_name OR (s.name = w.after_name AND s.id > w.after_id)
  WITH s ORDER BY s.name, s.id LIMIT $limit
  RETURN s
}
WITH w, s
"""
    + RETURN_SERVICE
    + ", w.parent AS parent, w.after AS after"
)


async def services_in_areas(
    tx: AsyncManagedTransaction, *, wanted: list[ParentPage], first: int
) -> dict[ParentPage, Page[Service]]:
    result = await tx.run(IN_AREAS, wanted=parent_cursors(wanted), limit=first + 1)
    rows = [(r["parent"], r["after"], service_from_record(r)) async for r in result]
    return pages_by_parent(wanted, [(p, a, s.name, s.id, s) for p, a, s in rows], first)


async def services_of_organisation(
    tx: AsyncManagedTransaction, *, organisation_id: str, first: int, after: str | None
) -> Page[Service]:
    pages = await services_of_organisations(tx, wanted=[(organisation_id, after)], first=first)
    return pages[(organisation_id, after)]


async def services_in_area(
    tx: AsyncManagedTransaction, *, area_id: str, first: int, after: str | None
) -> Page[Service]:
    """Covering an area covers everything PART_OF it; a site in an area or below it also
    counts."""
    pages = await services_in_areas(tx, wanted=[(area_id, after)], first=first)
    return pages[(area_id, after)]


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
