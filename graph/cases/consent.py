"""The returnee's one consent for a return case: one signed form naming the organisations it
may go to (categories x recipients x purpose, expiry, evidence, revocation). It covers every
referral of the case to a recipient it names; adding a recipient extends that form instead of
starting a second one, and revoking it withdraws every recipient at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import LiteralString

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from core.errors import FieldProblem, NotFound, ValidationFailed
from graph.cases.announcements import announce, changes
from graph.cases.models import CaseConsentRecipients
from graph.cases.reads import case_owners
from graph.referrals.models import CaseConsentInput, Consent
from graph.referrals.reads import consent_from
from graph.users import Actor
from graph.webhooks import WebhookEvent

# Organisations the case refers to (a draft counts, a cancelled referral does not).
REFERRED_TO: LiteralString = """
  COLLECT { MATCH (r:Referral)-[:IN_CASE]->(c)
            MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(o:Organisation)
            WHERE r.status <> 'cancelled'
            RETURN DISTINCT o.id } AS referred_to
"""

CASE_TARGET: LiteralString = (
    """
MATCH (c:ReturnCase {id: $case})-[:OWNED_BY]->(owner:Organisation)
RETURN c.reference AS reference, owner.id AS owner,
  COLLECT { MATCH (k:Consent {case_reference: c.reference})-[:RECORDED_BY]->(owner)
            WHERE k.revoked_at IS NULL AND k.expires_on > $today
            RETURN k.id ORDER BY k.recorded_at } AS valid,
"""
    + REFERRED_TO
)

GRANT_CASE: LiteralString = """
MATCH (owner:Organisation {id: $owner})
CREATE (k:Consent {id: $consent_id})
SET k += $props
CREATE (k)-[:RECORDED_BY]->(owner)
WITH k
UNWIND $recipients AS recipient
MATCH (o:Organisation {id: recipient})
CREATE (k)-[:GIVEN_TO {added_at: $now, added_by: $actor}]->(o)
"""


def _not_referred(
    recipients: list[str], referred_to: list[str], field: str = "recipients"
) -> list[FieldProblem]:
    return [
        FieldProblem(
            f"{field}.{i}",
            f"the case has no referral to organisation {recipient!r}; create the referral first",
        )
        for i, recipient in enumerate(recipients)
        if recipient not in referred_to
    ]


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
    that a consent never names an organisation nobody means to share with. While the case has
    a valid consent, a further recipient extends it (`extend_case_consent`) instead."""
    if data.expires_on <= now.date():
        raise ValidationFailed.single("expires_on", "must be in the future")
    target = await (await tx.run(CASE_TARGET, case=data.case_id, today=now.date())).single()
    if target is None or target["owner"] not in case_owners(actor):
        raise NotFound("return case", data.case_id)
    if target["valid"]:
        raise ValidationFailed.single(
            "case_id",
            f"the case already has a valid consent ({target['valid'][0]}): add recipients to "
            "it, or revoke it before recording a new form",
        )
    problems = _not_referred(data.recipients, target["referred_to"])
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
    recipients = sorted(data.recipients)
    await tx.run(
        GRANT_CASE,
        owner=target["owner"],
        consent_id=id,
        props=props,
        recipients=recipients,
        now=now,
        actor=actor.label,
    )
    await announce(
        tx,
        case_id=data.case_id,
        action="grant_consent",
        event=WebhookEvent.CASE_CONSENT_CHANGED,
        changed=changes(
            None,
            {
                "consent_id": id,
                "recipients": recipients,
                "categories": props["categories"],
                "expires_on": data.expires_on,
                "purpose": data.purpose,
                "evidence_reference": data.evidence_reference,
            },
        ),
        actor=actor,
        now=now,
        also=recipients,
    )
    return consent_from(props, recipients[0], cipher, recipients)


EXTEND_TARGET: LiteralString = (
    """
MATCH (k:Consent {id: $id})-[:RECORDED_BY]->(owner:Organisation)
MATCH (c:ReturnCase {reference: k.case_reference})-[:OWNED_BY]->(owner)
WHERE owner.id IN $owners
RETURN k, c.id AS case,
  COLLECT { MATCH (k)-[:GIVEN_TO]->(o:Organisation) RETURN o.id ORDER BY o.id } AS recipients,
"""
    + REFERRED_TO
)

# Touching the consent first takes its write lock: two extensions at once both land, once.
EXTEND: LiteralString = """
MATCH (k:Consent {id: $id})
SET k.extended_at = $now
WITH k
UNWIND $recipients AS recipient
MATCH (o:Organisation {id: recipient})
MERGE (k)-[g:GIVEN_TO]->(o)
ON CREATE SET g.added_at = $now, g.added_by = $actor
"""


async def extend_case_consent(
    tx: AsyncManagedTransaction,
    *,
    data: CaseConsentRecipients,
    actor: Actor,
    now: datetime,
    cipher: DataCipher,
) -> Consent:
    """Name further organisations on the case's consent (the household agreed to share with
    them too): the same categories, purpose, evidence and expiry now cover the case's
    referrals to them. Naming one already named changes nothing; a revoked or expired consent
    is not extended (the household signs a new form)."""
    target = await (
        await tx.run(EXTEND_TARGET, id=data.consent_id, owners=sorted(case_owners(actor)))
    ).single()
    if target is None:
        raise NotFound("consent", data.consent_id)
    props = dict(target["k"])
    before = list(target["recipients"])
    current = consent_from(props, (before or [""])[0], cipher, before)
    if not current.valid_at(now):
        raise ValidationFailed.single(
            "consent_id", "is revoked or expired; record a new consent for the case"
        )
    problems = _not_referred(data.recipients, target["referred_to"])
    if problems:
        raise ValidationFailed(problems)
    added = [r for r in data.recipients if r not in before]
    after = sorted([*before, *added])
    if added:
        await tx.run(EXTEND, id=data.consent_id, recipients=added, now=now, actor=actor.label)
        await announce(
            tx,
            case_id=target["case"],
            action="extend_consent",
            event=WebhookEvent.CASE_CONSENT_CHANGED,
            changed=changes(
                {"consent_id": data.consent_id, "recipients": before},
                {"consent_id": data.consent_id, "recipients": after},
            ),
            actor=actor,
            now=now,
            also=added,
        )
    return consent_from(props, after[0], cipher, after)


REVOKE_CASE: LiteralString = """
MATCH (k:Consent {id: $id})-[:RECORDED_BY]->(owner:Organisation)
MATCH (c:ReturnCase {reference: k.case_reference})-[:OWNED_BY]->(owner)
WHERE owner.id IN $owners
WITH k, c, k.revoked_at IS NULL AS first
SET k.revoked_at = coalesce(k.revoked_at, $now), k.revoked_by = coalesce(k.revoked_by, $actor)
RETURN k, c.id AS case, first,
  COLLECT { MATCH (k)-[:GIVEN_TO]->(o:Organisation) RETURN o.id ORDER BY o.id } AS recipients
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
    if record["first"]:
        await announce(
            tx,
            case_id=record["case"],
            action="revoke_consent",
            event=WebhookEvent.CASE_CONSENT_CHANGED,
            changed=changes(
                {"consent_id": id, "revoked_at": None}, {"consent_id": id, "revoked_at": now}
            ),
            actor=actor,
            now=now,
            also=recipients,
        )
    return consent_from(dict(record["k"]), recipients[0], cipher, recipients)
