"""The returnee's consent: recorded and revoked by the sending organisation, it decides which
personal categories the receiving organisation may read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from core.errors import FieldProblem, Forbidden, NotFound, ValidationFailed
from graph.referrals.models import CaseConsentInput, Consent, ConsentInput, Side
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


# --- one consent for a whole case ----------------------------------------------------------

CASE_TARGET: LiteralString = """
MATCH (c:ReturnCase {id: $case})-[:OWNED_BY]->(owner:Organisation)
RETURN c.reference AS reference, owner.id AS owner,
  COLLECT { MATCH (r:Referral)-[:IN_CASE]->(c)
            MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(o:Organisation)
            WHERE r.status <> 'cancelled'
            RETURN DISTINCT o.id } AS referred_to
"""

GRANT_CASE: LiteralString = """
MATCH (owner:Organisation {id: $owner})
CREATE (k:Consent {id: $consent_id})
SET k += $props
CREATE (k)-[:RECORDED_BY]->(owner)
WITH k
UNWIND $recipients AS recipient
MATCH (o:Organisation {id: recipient})
CREATE (k)-[:GIVEN_TO]->(o)
"""


def case_owners(actor: Actor) -> set[str]:
    """Organisations whose cases the actor works on: counsellors before departure, partners
    for the walk-ins they opened after arrival."""
    return actor.organisations_with(Role.COUNSELLOR, Role.PARTNER)


async def grant_case_consent(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: CaseConsentInput,
    actor: Actor,
    now: datetime,
    cipher: DataCipher,
) -> Consent:
    """The returnee's one signed form for the case: it covers every referral of the case to
    each recipient it names. A recipient must be one the case refers to (a draft counts), so
    that a consent never names an organisation nobody means to share with."""
    if data.expires_on <= now.date():
        raise ValidationFailed.single("expires_on", "must be in the future")
    target = await (await tx.run(CASE_TARGET, case=data.case_id)).single()
    if target is None or target["owner"] not in case_owners(actor):
        raise NotFound("return case", data.case_id)
    problems = [
        FieldProblem(
            f"recipients.{i}",
            f"the case has no referral to organisation {recipient!r}; create the referral first",
        )
        for i, recipient in enumerate(data.recipients)
        if recipient not in target["referred_to"]
    ]
    if problems:
        raise ValidationFailed(problems)
    props = {
        "id": id,
        "case_reference": target["reference"],
        "categories": sorted(c.value for c in data.categories),
        "purpose_enc": cipher.encrypt(data.purpose),
        "evidence_enc": cipher.encrypt(data.evidence_reference),
        "expires_on": data.expires_on,
        "recorded_at": now,
        "recorded_by": actor.label,
    }
    await tx.run(
        GRANT_CASE, owner=target["owner"], consent_id=id, props=props, recipients=data.recipients
    )
    recipients = sorted(data.recipients)
    return consent_from(props, recipients[0], cipher, recipients)


REVOKE_CASE: LiteralString = """
MATCH (k:Consent {id: $id})-[:RECORDED_BY]->(owner:Organisation)
WHERE owner.id IN $owners
  AND EXISTS { MATCH (:ReturnCase {reference: k.case_reference})-[:OWNED_BY]->(owner) }
SET k.revoked_at = coalesce(k.revoked_at, $now), k.revoked_by = coalesce(k.revoked_by, $actor)
RETURN k, COLLECT { MATCH (k)-[:GIVEN_TO]->(o:Organisation) RETURN o.id ORDER BY o.id }
  AS recipients
"""


async def revoke_case_consent(
    tx: AsyncManagedTransaction, *, id: str, actor: Actor, now: datetime, cipher: DataCipher
) -> Consent:
    """Every recipient the consent named loses the categories at once, for every referral of
    the case it covered. Revoking twice keeps the first time."""
    record = await (
        await tx.run(
            REVOKE_CASE, id=id, owners=sorted(case_owners(actor)), now=now, actor=actor.label
        )
    ).single()
    if record is None:
        raise NotFound("consent", id)
    recipients = list(record["recipients"])
    return consent_from(dict(record["k"]), recipients[0], cipher, recipients)
