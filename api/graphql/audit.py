"""GraphQL for the audit trail: admins read all of it, others their organisations' part."""

from __future__ import annotations

import json
from datetime import datetime

import strawberry

from api.graphql.context import Info
from api.graphql.pagination import Connection, to_connection
from api.policy import audit_scope
from graph.audit import AuditEvent, list_events
from graph.pagination import page_size


@strawberry.type
class FieldChangeType:
    field: str
    previous: str | None = strawberry.field(description="JSON of the value before.")
    replacement: str | None = strawberry.field(description="JSON of the value after.")


@strawberry.type(name="AuditEvent")
class AuditEventType:
    id: strawberry.ID
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: strawberry.ID
    organisation_id: strawberry.ID | None
    changes: list[FieldChangeType]

    @classmethod
    def from_model(cls, e: AuditEvent) -> AuditEventType:
        return cls(
            id=strawberry.ID(e.id),
            at=e.at,
            actor=e.actor,
            action=e.action,
            entity=e.entity,
            entity_id=strawberry.ID(e.entity_id),
            organisation_id=strawberry.ID(e.organisation_id) if e.organisation_id else None,
            changes=[
                FieldChangeType(
                    field=c.field,
                    previous=json.dumps(c.previous, ensure_ascii=False),
                    replacement=json.dumps(c.replacement, ensure_ascii=False),
                )
                for c in e.changes
            ],
        )


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Newest first; optionally the events of one record.")
    async def audit_events(
        self,
        info: Info,
        entity_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AuditEventType]:
        page = await info.context.graph.read(
            list_events,
            entity_id=str(entity_id) if entity_id is not None else None,
            organisations=audit_scope(info.context.actor),
            first=page_size(first),
            after=after,
        )
        return to_connection(page, AuditEventType.from_model)
