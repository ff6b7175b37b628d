"""HSDS ids of directory records: what `/hsds/` clients and HSDS files call them.

A record imported from HSDS keeps the id it came with (`hsds_id`); any other record is known
by a UUID derived from its Homeward id, `uuid5(NAMESPACE, "<kind>:<id>")`, the same every
time. A service delivered at a site is one HSDS `service_at_location`, whose id is derived
from the HSDS ids of both.

Every write that creates organisations, services or sites also stores the id they are known
by, lower-cased, as `hsds_key` (on the `DELIVERED_AT` relationship for a service at a site),
so that the read API finds a record by its HSDS id with one indexed lookup; migration 11 gave
records written before it theirs.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, LiteralString

from neo4j import AsyncManagedTransaction

from graph.driver import Graph

NAMESPACE: Final = uuid.UUID("6f1c5a0e-4b7e-5d2a-9c1e-8a3b2f4d6e70")


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def hsds_id(kind: str, our_id: str) -> str:
    """The UUID an export gives a record: its own id when that is a UUID already."""
    if is_uuid(our_id):
        return our_id.lower()
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{our_id}"))


def site_id(service_hsds_id: str, location_hsds_id: str) -> str:
    """The HSDS id of a `service_at_location`: the same in the export and the API."""
    return str(uuid.uuid5(NAMESPACE, f"service_at_location:{service_hsds_id}:{location_hsds_id}"))


def hsds_key(kind: str, our_id: str, stored: str | None) -> str:
    """The key a record is looked up by: its HSDS id, lower-cased (HSDS ids are UUIDs, which
    compare without regard to case)."""
    return (stored or hsds_id(kind, our_id)).lower()


def site_key(service: tuple[str, str | None], location: tuple[str, str | None]) -> str:
    """The key of a service at a site, from (Homeward id, stored HSDS id) of each."""
    service_hsds = service[1] or hsds_id("service", service[0])
    return site_id(service_hsds, location[1] or hsds_id("location", location[0])).lower()


# --- lookups by HSDS id (the /hsds/ read API) --------------------------------------------------

# Several records could claim one HSDS id (an import may repeat another's); the lowest
# Homeward id answers, the same every time.
ORGANISATION_BY_KEY: LiteralString = """
MATCH (o:Organisation {hsds_key: $key}) RETURN [o.id] AS found ORDER BY o.id LIMIT 1
"""
SERVICE_BY_KEY: LiteralString = """
MATCH (s:Service {hsds_key: $key}) RETURN [s.id] AS found ORDER BY s.id LIMIT 1
"""
SITE_BY_KEY: LiteralString = """
MATCH (s:Service)-[:DELIVERED_AT {hsds_key: $key}]->(l:Location)
RETURN [s.id, l.id] AS found ORDER BY s.id, l.id LIMIT 1
"""
BY_KEY: dict[str, LiteralString] = {
    "organization": ORGANISATION_BY_KEY,
    "service": SERVICE_BY_KEY,
    "service_at_location": SITE_BY_KEY,
}


async def find_by_hsds_id(tx: AsyncManagedTransaction, *, kind: str, id: str) -> list[str] | None:
    """The Homeward id of the organization or service (one element) or the (service, site)
    ids of the service_at_location with this HSDS id; None when there is none."""
    record = await (await tx.run(BY_KEY[kind], key=id.lower())).single()
    return None if record is None else list(record["found"])


# --- migration 11: keys of records written before it -------------------------------------------

BACKFILL_BATCH = 5_000

_ORGANISATIONS_AFTER: LiteralString = """
MATCH (o:Organisation) WHERE o.id > $after
RETURN o.id AS id, o.hsds_id AS stored ORDER BY o.id LIMIT $limit
"""
_LOCATIONS_AFTER: LiteralString = """
MATCH (l:Location) WHERE l.id > $after
RETURN l.id AS id, l.hsds_id AS stored ORDER BY l.id LIMIT $limit
"""
_SERVICES_AFTER: LiteralString = """
MATCH (s:Service) WHERE s.id > $after
RETURN s.id AS id, s.hsds_id AS stored,
       COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location) RETURN [l.id, l.hsds_id] } AS sites
ORDER BY s.id LIMIT $limit
"""
_SERVICES_AT: LiteralString = """
UNWIND $locations AS id
MATCH (s:Service)-[:DELIVERED_AT]->(:Location {id: id})
WITH DISTINCT s
RETURN s.id AS id, s.hsds_id AS stored,
       COLLECT { MATCH (s)-[:DELIVERED_AT]->(l:Location) RETURN [l.id, l.hsds_id] } AS sites
"""
_SET_ORGANISATIONS: LiteralString = """
UNWIND $rows AS row MATCH (o:Organisation {id: row.id}) SET o.hsds_key = row.key
"""
_SET_LOCATIONS: LiteralString = """
UNWIND $rows AS row MATCH (l:Location {id: row.id}) SET l.hsds_key = row.key
"""
_SET_SERVICES: LiteralString = """
UNWIND $rows AS row
MATCH (s:Service {id: row.id})
SET s.hsds_key = row.key
WITH s, row
UNWIND row.sites AS site
MATCH (s)-[at:DELIVERED_AT]->(:Location {id: site.id})
SET at.hsds_key = site.key
"""
_BACKFILL: dict[str, tuple[LiteralString, LiteralString]] = {
    "organization": (_ORGANISATIONS_AFTER, _SET_ORGANISATIONS),
    "location": (_LOCATIONS_AFTER, _SET_LOCATIONS),
    "service": (_SERVICES_AFTER, _SET_SERVICES),
}


async def _page(
    tx: AsyncManagedTransaction, *, query: LiteralString, after: str, limit: int
) -> list[dict[str, Any]]:
    return [dict(r) async for r in await tx.run(query, after=after, limit=limit)]


async def _write(tx: AsyncManagedTransaction, *, query: LiteralString, rows: list[Any]) -> None:
    await (await tx.run(query, rows=rows)).consume()


def _keyed(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": record["id"],
        "key": hsds_key(kind, record["id"], record["stored"]),
    }
    if kind == "service":
        service = (record["id"], record["stored"])
        row["sites"] = [
            {"id": lid, "key": site_key(service, (lid, stored))} for lid, stored in record["sites"]
        ]
    return row


async def rekey_services_at(tx: AsyncManagedTransaction, *, locations: list[str]) -> None:
    """Recompute, as the backfill does, the keys of every service delivered at these sites
    and of its links: a write that gives a shared site a new HSDS id re-keys the links of
    the services it wrote, and this those of the others there."""
    records = [dict(r) async for r in await tx.run(_SERVICES_AT, locations=locations)]
    await _write(tx, query=_SET_SERVICES, rows=[_keyed("service", r) for r in records])


async def backfill_hsds_keys(graph: Graph, *, batch: int = BACKFILL_BATCH) -> int:
    """Set the HSDS keys of every organisation, site and service (and service at a site),
    recomputing any already set: a page of ids is read, its keys computed here (the UUIDs
    are SHA-1 based, which Cypher cannot compute) and written, one transaction per page, so
    that a large directory needs no huge transaction. Returns how many records it keyed."""
    done = 0
    for kind, (read, write) in _BACKFILL.items():
        after = ""
        while page := await graph.read(_page, query=read, after=after, limit=batch):
            await graph.write(_write, query=write, rows=[_keyed(kind, r) for r in page])
            done += len(page)
            after = page[-1]["id"]
    return done
