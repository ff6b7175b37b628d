"""Keeping a service's entry true over time: how fresh its last confirmation is, confirming
it, asking for it to be confirmed again, its current capacity, and the entries due for a
check.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from core.errors import NotFound
from graph.audit import diff, record_event
from graph.search_changes import services_changed
from graph.services.models import Capacity, Service
from graph.services.reads import RETURN_SERVICE, get_service, service_from_record
from graph.services.writes import UNAUDITED, check_scope
from graph.users import Actor


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
    check_scope(organisation, allowed_organisations)
    before = await get_service(tx, id=id)
    await tx.run(statement, params, id=id)
    await services_changed(tx, ids=[id])
    after = await get_service(tx, id=id)
    await record_event(
        tx,
        actor=actor,
        action=action,
        entity="service",
        entity_id=id,
        organisation_id=organisation,
        changes=diff(before.model_dump(exclude=UNAUDITED), after.model_dump(exclude=UNAUDITED)),
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
    # Not a search fact, but the service as a search page shows it (graph/search_cache.py).
    await services_changed(tx, ids=[id])


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
    return [service_from_record(r) async for r in result]
