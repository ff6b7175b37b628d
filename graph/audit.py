"""Audit trail: who changed what, when, with the before and after of every changed field.

Modelled on HSDS 3.0's field-level `metadata` (resource, field, previous and replacement
value, who and when). An event is written in the same transaction as the change it records,
so there is never a change without its event or an event without its change.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.errors import ValidationFailed
from graph.pagination import Page, decode_cursor, paginate
from graph.users import Actor


class FieldChange(BaseModel):
    field: str
    previous: Any
    replacement: Any


class AuditEvent(BaseModel):
    id: str
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    organisation_id: str | None
    changes: list[FieldChange]


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[FieldChange]:
    """The fields whose values differ; everything is a change when there was no before."""
    before = before or {}
    return [
        FieldChange(field=k, previous=_jsonable(before.get(k)), replacement=_jsonable(v))
        for k, v in after.items()
        if _jsonable(before.get(k)) != _jsonable(v)
    ]


RECORD: LiteralString = """
CREATE (e:AuditEvent {id: $id, at: datetime(), actor: $actor, action: $action,
                      entity: $entity, entity_id: $entity_id,
                      organisation_id: $organisation_id, changes: $changes})
"""


async def record_event(
    tx: AsyncManagedTransaction,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str,
    organisation_id: str | None,
    changes: list[FieldChange],
) -> None:
    await tx.run(
        RECORD,
        id=str(uuid.uuid4()),
        actor=actor.label,
        action=action,
        entity=entity,
        entity_id=entity_id,
        organisation_id=organisation_id,
        # A JSON string: changes hold values of any type, which Neo4j maps cannot.
        changes=json.dumps([c.model_dump() for c in changes], ensure_ascii=False),
    )


LIST: LiteralString = """
MATCH (e:AuditEvent)
WHERE ($entity_id IS NULL OR e.entity_id = $entity_id)
  AND ($organisations IS NULL OR e.organisation_id IN $organisations)
  AND ($after_at = '' OR e.at < datetime($after_at)
       OR (e.at = datetime($after_at) AND e.id < $after_id))
WITH e ORDER BY e.at DESC, e.id DESC LIMIT $limit
RETURN e
"""


async def list_events(
    tx: AsyncManagedTransaction,
    *,
    entity_id: str | None,
    organisations: list[str] | None,
    first: int,
    after: str | None,
) -> Page[AuditEvent]:
    """Newest first; `organisations` None means every organisation (admins)."""
    after_at, after_id = decode_cursor(after)
    if after_at:
        # The cursor's instant goes to Cypher's datetime(), which fails the whole query on
        # text it cannot read; a crafted cursor is the caller's mistake, not a server error.
        try:
            aware = datetime.fromisoformat(after_at).tzinfo is not None
        except ValueError:
            aware = False
        if not aware:
            raise ValidationFailed.single("after", "not a cursor returned by this API")
    result = await tx.run(
        LIST,
        entity_id=entity_id,
        organisations=organisations,
        after_at=after_at,
        after_id=after_id,
        limit=first + 1,
    )
    events = []
    async for r in result:
        props = dict(r["e"])
        events.append(
            AuditEvent(
                id=props["id"],
                at=props["at"].to_native(),
                actor=props["actor"],
                action=props["action"],
                entity=props["entity"],
                entity_id=props["entity_id"],
                organisation_id=props.get("organisation_id"),
                changes=[FieldChange(**c) for c in json.loads(props["changes"])],
            )
        )
    return paginate([(e.at.isoformat(), e.id, e) for e in events], first)
