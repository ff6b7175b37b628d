"""Monitoring visits after arrival, recorded by either side once the receiver has accepted;
the sending counsellor finds a notice of a visit someone else recorded."""

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
from graph.users import Actor

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
