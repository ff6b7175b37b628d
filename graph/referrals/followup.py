"""Monitoring visits after arrival, recorded by either side once the receiver has accepted;
the sending counsellor finds a notice of a visit someone else recorded, and one when a visit
falls due and is not recorded yet."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import LiteralString

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from core.errors import IllegalTransition, ValidationFailed
from graph.notifications import NotificationKind, notify
from graph.referrals.lifecycle import LOCK
from graph.referrals.models import FOLLOW_UP_STATUSES, FollowUpInput, Policy, Referral, Side
from graph.referrals.reads import get_referral
from graph.users import SYSTEM, Actor

FOLLOW_UP: LiteralString = """
MATCH (r:Referral {id: $referral})
CREATE (f:FollowUp {id: $id})
SET f += $props
CREATE (f)-[:OF]->(r)
"""


async def record_follow_up(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: FollowUpInput,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> Referral:
    """A monitoring visit after arrival, by either side, once the receiver has accepted."""
    await (await tx.run(LOCK, id=data.referral_id)).single()
    current = await get_referral(
        tx, id=data.referral_id, actor=actor, cipher=cipher, now=now, policy=policy
    )
    if current.status not in FOLLOW_UP_STATUSES:
        raise IllegalTransition("record a follow-up for", current.status.value, [])
    if data.visited_on > now.date():
        raise ValidationFailed.single("visited_on", "cannot be in the future")
    organisation = (
        current.from_organisation_id
        if current.viewer_side is Side.SENDER
        else current.receiving_organisation_id
    )
    props = {
        "months_after_arrival": data.months_after_arrival,
        "visited_on": data.visited_on,
        "employment": data.employment,
        "schooling": data.schooling,
        "health_care_access": data.health_care_access,
        "housing": data.housing,
        "feels_safe": data.feels_safe,
        "intends_to_leave": data.intends_to_leave,
        "note_enc": cipher.encrypt(data.note),
        "recorded_at": now,
        "recorded_by": actor.label,
        "recorded_by_organisation": organisation,
    }
    props = {k: (v.value if isinstance(v, StrEnum) else v) for k, v in props.items()}
    await tx.run(FOLLOW_UP, referral=data.referral_id, id=id, props=props)
    await notify(
        tx,
        kind=NotificationKind.VISIT_RECORDED,
        referral_id=data.referral_id,
        actor_id=actor.label,
        at=now,
        status=current.status.value,
    )
    return await get_referral(
        tx, id=data.referral_id, actor=actor, cipher=cipher, now=now, policy=policy
    )


# A visit is announced once, when it falls due; one already recorded is not. Visits due more
# than DUE_WINDOW_DAYS ago are left alone, so that the first run on an old directory does not
# announce every visit ever missed.
DUE_WINDOW_DAYS = 30

FOLLOW_UPS_DUE: LiteralString = """
MATCH (r:Referral)
WHERE r.status IN ['accepted', 'in_progress', 'completed'] AND r.planned_arrival IS NOT NULL
WITH r, [m IN $schedule WHERE r.planned_arrival + duration({months: m}) <= date($now)
          AND r.planned_arrival + duration({months: m}) > date($now) - duration({days: $window})
          AND NOT m IN coalesce(r.follow_ups_announced, [])
          AND NOT EXISTS { MATCH (:FollowUp {months_after_arrival: m})-[:OF]->(r) }] AS due
WHERE size(due) > 0
WITH r, due LIMIT $batch
SET r.follow_ups_announced = coalesce(r.follow_ups_announced, []) + due
RETURN r.id AS id, r.status AS status
"""


async def announce_follow_ups_due(
    tx: AsyncManagedTransaction, *, now: datetime, schedule: tuple[int, ...], batch: int = 200
) -> int:
    """Tell the sending counsellor of each monitoring visit that fell due (at `schedule`
    months after arrival) and is not recorded; returns how many referrals had one."""
    result = await tx.run(
        FOLLOW_UPS_DUE, now=now, schedule=list(schedule), window=DUE_WINDOW_DAYS, batch=batch
    )
    rows = [r async for r in result]
    for r in rows:
        await notify(
            tx,
            kind=NotificationKind.FOLLOW_UP_DUE,
            referral_id=r["id"],
            actor_id=SYSTEM.label,
            at=now,
            status=r["status"],
        )
    return len(rows)
