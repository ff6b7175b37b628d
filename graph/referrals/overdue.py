"""Sent referrals the receiver has not answered in time, announced once to both sides (and
to the sending counsellor as a notice)."""

from __future__ import annotations

from datetime import datetime
from typing import LiteralString

from neo4j import AsyncManagedTransaction

from graph.referrals.announce import announce
from graph.referrals.models import ReferralStatus
from graph.users import SYSTEM
from graph.webhooks import WebhookEvent

# Sent referrals past their response time that have not been announced as overdue yet.
OVERDUE: LiteralString = """
MATCH (r:Referral {status: 'sent'})-[:FROM]->(sender:Organisation)
WHERE r.response_due_at < $now AND r.overdue_announced_at IS NULL
MATCH (r)-[:TO]->(s:Service)<-[:PROVIDES]-(receiver:Organisation)
WITH r, sender, receiver, s LIMIT $batch
SET r.overdue_announced_at = $now
RETURN r.id AS id, r.reference AS reference, r.response_due_at AS due_at, s.id AS service,
       sender.id AS sender, receiver.id AS receiver
"""


async def announce_overdue(tx: AsyncManagedTransaction, *, now: datetime, batch: int = 200) -> int:
    """Queue `referral.overdue` once per referral for both organisations and tell the
    sending counsellor; returns how many referrals became overdue since the last run."""
    result = await tx.run(OVERDUE, now=now, batch=batch)
    rows = [r async for r in result]
    for r in rows:
        await announce(
            tx,
            event=WebhookEvent.REFERRAL_OVERDUE,
            referral_id=r["id"],
            reference=r["reference"],
            service_id=r["service"],
            organisations=[r["sender"], r["receiver"]],
            status=ReferralStatus.SENT.value,
            previous_status=None,
            actor_id=SYSTEM.label,
            at=now,
            due_at=r["due_at"].to_native(),
        )
    return len(rows)
