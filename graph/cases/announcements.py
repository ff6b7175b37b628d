"""What every change of a return case leaves behind besides itself, in its own transaction:
an audit event (who changed which fields) and a webhook notification to each organisation
working on the case. Neither carries personal data: the audit trail names a personal field
that changed without its values, and a notification carries ids, the reference and the phase.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from graph.audit import FieldChange, diff, record_event
from graph.users import Actor
from graph.webhooks import WebhookEvent, enqueue

# Fields of a case whose values say something about the household; an audit event records
# that they changed, never what they were or became.
PERSONAL = frozenset(
    {
        # The organisation's own file number leads to its file on the household.
        "file_number",
        "members",
        "languages",
        "need_codes",
        "target_group_codes",
        "documents",
        "note",
        "sending_country",
        "purpose",
        "evidence_reference",
    }
)


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[FieldChange]:
    """The changed fields, with their values unless the field is personal."""
    return [
        FieldChange(field=c.field, previous=None, replacement=None) if c.field in PERSONAL else c
        for c in diff(before, after)
    ]


PARTIES: LiteralString = """
MATCH (c:ReturnCase {id: $id})-[:OWNED_BY]->(owner:Organisation)
RETURN c.reference AS reference, c.phase AS phase, owner.id AS owner,
  COLLECT { MATCH (r:Referral)-[:IN_CASE]->(c) WHERE r.status <> 'draft'
            MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(o:Organisation)
            RETURN DISTINCT o.id ORDER BY o.id } AS receivers
"""


async def announce(
    tx: AsyncManagedTransaction,
    *,
    case_id: str,
    action: str,
    event: WebhookEvent,
    changed: list[FieldChange],
    actor: Actor,
    now: datetime,
    previous_phase: str | None = None,
    also: Iterable[str] = (),
) -> None:
    """Record `action` on the case in the audit trail (under the owning organisation) and
    tell the owner and every organisation a sent referral of the case is addressed to, plus
    `also` (the recipients a consent names before any referral reached them)."""
    case = await (await tx.run(PARTIES, id=case_id)).single(strict=True)
    await record_event(
        tx,
        actor=actor,
        action=action,
        entity="return_case",
        entity_id=case_id,
        organisation_id=case["owner"],
        changes=changed,
    )
    for organisation in dict.fromkeys([case["owner"], *case["receivers"], *also]):
        await enqueue(
            tx,
            organisation_id=organisation,
            event=event,
            payload={
                "case_id": case_id,
                "reference": case["reference"],
                "organisation_id": organisation,
                "phase": case["phase"],
                "previous_phase": previous_phase,
                "occurred_at": now,
            },
            at=now,
        )
