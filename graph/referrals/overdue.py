"""Sent referrals the receiver has not answered in time, announced once to both sides."""

from __future__ import annotations

from datetime import datetime
from typing import LiteralString

from neo4j import AsyncManagedTransaction

from graph.referrals.models import ReferralStatus
from graph.webhooks import WebhookEvent, enqueue

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
    """Queue `referral.overdue` once per referral for both organisations; returns how many
    referrals became overdue since the last run."""
    result = await tx.run(OVERDUE, now=now, batch=batch)
    rows = [r async for r in result]
    for r in rows:
        for organisation in (r["sender"], r["receiver"]):
            await enqueue(
                tx,
                organisation_id=organisation,
                event=WebhookEvent.REFERRAL_OVERDUE,
                payload={
                    "referral_id": r["id"],
                    "reference": r["reference"],
                    "service_id": r["service"],
                    "organisation_id": organisation,
                    "status": ReferralStatus.SENT.value,
                    "due_at": r["due_at"].to_native(),
                    "occurred_at": now,
                },
                at=now,
            )
    return len(rows)
