"""The returnee's consent for one referral: recorded and revoked by the sending organisation,
it decides which personal categories the receiving organisation may read. A return case's
one consent for all its recipients is graph/cases/consent.py's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from core.errors import Forbidden, NotFound, ValidationFailed
from graph.referrals.models import Consent, ConsentInput, Side
from graph.referrals.reads import consent_from, side_of
from graph.users import Actor, Role

CONSENT_TARGET: LiteralString = """
MATCH (r:Referral {id: $id})-[:FROM]->(sender:Organisation)
MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(receiver:Organisation)
RETURN r.case_reference AS case, sender.id AS sender, receiver.id AS receiver
"""

GRANT: LiteralString = """
MATCH (sender:Organisation {id: $sender}), (receiver:Organisation {id: $receiver})
CREATE (c:Consent {id: $consent_id})
SET c += $props
CREATE (c)-[:GIVEN_TO]->(receiver), (c)-[:RECORDED_BY]->(sender)
"""


async def _sender_side(tx: AsyncManagedTransaction, referral_id: str, actor: Actor) -> Any:
    target = await (await tx.run(CONSENT_TARGET, id=referral_id)).single()
    if target is None:
        raise NotFound("referral", referral_id)
    side = side_of(actor, sender=target["sender"], receiver=target["receiver"])
    if side is None:
        raise NotFound("referral", referral_id)
    if side is not Side.SENDER:
        raise Forbidden("consent is recorded and revoked by the sending organisation")
    return target


async def grant_consent(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: ConsentInput,
    actor: Actor,
    now: datetime,
    cipher: DataCipher,
) -> Consent:
    """The returnee's consent to share these categories with the receiving organisation of
    the referral, for the whole case (every referral of the household to that organisation)."""
    if data.expires_on <= now.date():
        raise ValidationFailed.single("expires_on", "must be in the future")
    target = await _sender_side(tx, data.referral_id, actor)
    props = {
        "id": id,
        "case_reference": target["case"],
        "categories": sorted(c.value for c in data.categories),
        # Free text about the returnee: encrypted like the referral's personal categories,
        # and erased with them (graph/referrals/retention.py).
        "purpose_enc": cipher.encrypt(data.purpose),
        "evidence_enc": cipher.encrypt(data.evidence_reference),
        "expires_on": data.expires_on,
        "recorded_at": now,
        "recorded_by": actor.label,
    }
    await tx.run(
        GRANT, sender=target["sender"], receiver=target["receiver"], consent_id=id, props=props
    )
    return consent_from(props, target["receiver"], cipher)


REVOKE: LiteralString = """
MATCH (c:Consent {id: $id})-[:GIVEN_TO]->(receiver:Organisation)
MATCH (c)-[:RECORDED_BY]->(sender:Organisation)
WHERE sender.id IN $senders
SET c.revoked_at = coalesce(c.revoked_at, $now), c.revoked_by = coalesce(c.revoked_by, $actor)
RETURN c, receiver.id AS receiver
"""


async def revoke_consent(
    tx: AsyncManagedTransaction, *, id: str, actor: Actor, now: datetime, cipher: DataCipher
) -> Consent:
    """From now on the receiving organisation reads none of the categories this consent
    covered (unless another valid consent covers them). Revoking twice keeps the first time."""
    record = await (
        await tx.run(
            REVOKE,
            id=id,
            senders=sorted(actor.organisations_with(Role.COUNSELLOR)),
            now=now,
            actor=actor.label,
        )
    ).single()
    if record is None:
        raise NotFound("consent", id)
    return consent_from(dict(record["c"]), record["receiver"], cipher)
