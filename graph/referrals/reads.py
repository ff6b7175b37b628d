"""What each viewer may see of a referral: which side a person stands on, one referral or a
page of them as that side may read it. The receiving organisation reads a personal category
only while a valid consent covers it.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, Field

from core.crypto import DataCipher
from core.errors import NotFound
from graph.access import RETURN_NOTICES, notices_from
from graph.pagination import Page, newest_first
from graph.referrals.models import (
    FOLLOW_UP_STATUSES,
    Access,
    Consent,
    DataCategory,
    DeclineReason,
    DocumentKind,
    Employment,
    FollowUp,
    Household,
    Housing,
    Intention,
    Outcome,
    Policy,
    Referral,
    ReferralEvent,
    ReferralStatus,
    Schooling,
    Side,
)
from graph.services import ReturnType
from graph.temporal import native
from graph.users import Actor, Role

# --- who stands where ----------------------------------------------------------------------


def side_of(actor: Actor, *, sender: str, receiver: str) -> Side | None:
    """Counsellors of the sending organisation and partners of the receiving one; nobody else
    (coordinators and admins see referrals only as counts)."""
    if sender in actor.organisations_with(Role.COUNSELLOR):
        return Side.SENDER
    if receiver in actor.organisations_with(Role.PARTNER):
        return Side.RECEIVER
    return None


# --- reading ---------------------------------------------------------------------------------

RETURN_REFERRAL: LiteralString = (
    """
RETURN r,
  COLLECT { MATCH (r)-[:FROM]->(o:Organisation) RETURN o.id }[0] AS sender,
  COLLECT { MATCH (r)-[:TO]->(s:Service) RETURN s.id }[0] AS service,
  COLLECT { MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(o:Organisation) RETURN o.id }[0]
    AS receiver,
  COLLECT { MATCH (r)-[:DESTINATION]->(a:Area) RETURN a.id }[0] AS destination,
  COLLECT { MATCH (r)-[:UNDER]->(p:Programme) RETURN p.id }[0] AS programme,
  COLLECT { MATCH (r)-[:IN_CASE]->(c:ReturnCase) RETURN c.id }[0] AS return_case,
  COLLECT { MATCH (r)-[:CONTINUES]->(p:Referral) RETURN p.id }[0] AS continues,
  COLLECT { MATCH (r)-[:FOR]->(n:Need) RETURN n.code ORDER BY n.code } AS needs,
  COLLECT { MATCH (r)-[:CONCERNS]->(t:TargetGroup) RETURN t.code ORDER BY t.code } AS groups,
  COLLECT { MATCH (e:ReferralEvent)-[:OF]->(r) RETURN e ORDER BY e.at, e.seq } AS events,
  COLLECT { MATCH (f:FollowUp)-[:OF]->(r) RETURN f ORDER BY f.months_after_arrival, f.visited_on }
    AS follow_ups,
  COLLECT { MATCH (c:Consent {case_reference: r.case_reference})-[:GIVEN_TO]->(o:Organisation)
            WHERE EXISTS { (r)-[:TO]->(:Service)<-[:PROVIDES]-(o) }
            RETURN c ORDER BY c.recorded_at } AS consents,
  """
    + RETURN_NOTICES
    + """ AS access_notices
"""
)


def _opt(enum: type[Any], value: Any) -> Any:
    return enum(value) if value is not None else None


def _consent_text(props: dict[str, Any], key: str, legacy: str, cipher: DataCipher) -> str:
    """Decrypted; a consent recorded before its free text was encrypted has it in plain;
    erased (after the retention period) it is empty."""
    if props.get(key) is not None:
        return cipher.decrypt(props[key]) or ""
    return str(props.get(legacy) or "")


def consent_from(
    props: dict[str, Any], recipient: str, cipher: DataCipher, recipients: list[str] | None = None
) -> Consent:
    return Consent(
        id=props["id"],
        case_reference=props["case_reference"],
        recipient_organisation_id=recipient,
        recipient_organisation_ids=recipients or [recipient],
        categories=[DataCategory(c) for c in props["categories"]],
        purpose=_consent_text(props, "purpose_enc", "purpose", cipher),
        evidence_reference=_consent_text(props, "evidence_enc", "evidence_reference", cipher),
        expires_on=native(props["expires_on"]),
        recorded_at=native(props["recorded_at"]),
        recorded_by=props["recorded_by"],
        revoked_at=native(props.get("revoked_at")),
        revoked_by=props.get("revoked_by"),
    )


def follow_ups_due(
    *,
    status: ReferralStatus,
    planned_arrival: date | None,
    recorded: set[int],
    today: date,
    schedule: tuple[int, ...],
) -> list[int]:
    """Months after arrival at which a monitoring visit is due and not yet recorded."""
    if planned_arrival is None or status not in FOLLOW_UP_STATUSES:
        return []
    return [m for m in schedule if m not in recorded and add_months(planned_arrival, m) <= today]


def add_months(day: date, months: int) -> date:
    """Like Cypher's `date + duration({months: n})`: the 31st of a shorter month becomes
    its last day, so Python and the list filter agree on when a visit is due."""
    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def view(
    record: Any, *, actor: Actor, cipher: DataCipher, now: datetime, policy: Policy
) -> Referral | None:
    """The referral as `actor` may see it, or None when the actor stands on neither side
    (or is the receiver of a draft, which is not shared yet)."""
    props = dict(record["r"])
    sender, receiver = record["sender"], record["receiver"]
    side = side_of(actor, sender=sender, receiver=receiver)
    status = ReferralStatus(props["status"])
    if side is None or (side is Side.RECEIVER and status is ReferralStatus.DRAFT):
        return None
    consents = [consent_from(dict(c), receiver, cipher) for c in record["consents"]]
    if side is Side.SENDER:
        readable = set(DataCategory)
    else:
        readable = {cat for c in consents if c.valid_at(now) for cat in c.categories}
    events = [dict(e) for e in record["events"]]
    follow_up_rows = [dict(f) for f in record["follow_ups"]]

    def personal(category: DataCategory, value: Any, empty: Any = None) -> Any:
        return value if category in readable else empty

    def secret(category: DataCategory, token: str | None) -> str | None:
        return cipher.decrypt(token) if category in readable else None

    household = (
        Household(adults=props["household_adults"], children=props.get("household_children") or [])
        if props.get("household_adults") is not None
        else None
    )
    planned = native(props.get("planned_arrival"))
    return Referral(
        id=props["id"],
        reference=props["reference"],
        case_reference=props["case_reference"],
        return_case_id=record["return_case"],
        continues_id=record["continues"],
        status=status,
        viewer_side=side,
        from_organisation_id=sender,
        service_id=record["service"],
        receiving_organisation_id=receiver,
        destination_id=record["destination"],
        return_type=ReturnType(props["return_type"]),
        planned_arrival=planned,
        programme_id=record["programme"],
        need_codes=personal(DataCategory.NEEDS, record["needs"], []),
        target_group_codes=personal(DataCategory.HOUSEHOLD, record["groups"], []),
        household=personal(DataCategory.HOUSEHOLD, household),
        languages=personal(DataCategory.HOUSEHOLD, list(props.get("languages") or []), []),
        documents=personal(
            DataCategory.DOCUMENTS, [DocumentKind(d) for d in props.get("documents") or []], []
        ),
        note=secret(DataCategory.NOTES, props.get("note_enc")),
        contact=secret(DataCategory.CONTACT, props.get("contact_enc")),
        health=secret(DataCategory.HEALTH, props.get("health_enc")),
        withheld_categories=sorted(set(DataCategory) - readable),
        decline_reason=_opt(DeclineReason, props.get("decline_reason")),
        outcome=_opt(Outcome, props.get("outcome")),
        response_due_at=native(props.get("response_due_at")),
        created_at=native(props["created_at"]),
        updated_at=native(props["updated_at"]),
        sent_at=native(props.get("sent_at")),
        acknowledged_at=native(props.get("acknowledged_at")),
        accepted_at=native(props.get("accepted_at")),
        closed_at=native(props.get("closed_at")),
        purged_at=native(props.get("purged_at")),
        version=props["version"],
        events=[
            ReferralEvent(
                at=native(e["at"]),
                actor=e["actor"],
                action=e["action"],
                from_status=_opt(ReferralStatus, e.get("from_status")),
                to_status=ReferralStatus(e["to_status"]),
                note=secret(DataCategory.NOTES, e.get("note_enc")),
                reason=_opt(DeclineReason, e.get("reason")),
                outcome=_opt(Outcome, e.get("outcome")),
            )
            for e in events
        ],
        follow_ups=[
            FollowUp(
                id=f["id"],
                months_after_arrival=f["months_after_arrival"],
                visited_on=native(f["visited_on"]),
                employment=_opt(Employment, f.get("employment")),
                schooling=_opt(Schooling, f.get("schooling")),
                health_care_access=_opt(Access, f.get("health_care_access")),
                housing=_opt(Housing, f.get("housing")),
                feels_safe=_opt(Access, f.get("feels_safe")),
                intends_to_leave=_opt(Intention, f.get("intends_to_leave")),
                note=secret(DataCategory.NOTES, f.get("note_enc")),
                recorded_at=native(f["recorded_at"]),
                recorded_by=f["recorded_by"],
                recorded_by_organisation_id=f["recorded_by_organisation"],
            )
            for f in follow_up_rows
        ],
        consents=consents,
        access_notices=notices_from(record["access_notices"]),
        follow_ups_due=follow_ups_due(
            status=status,
            planned_arrival=planned,
            recorded={f["months_after_arrival"] for f in follow_up_rows},
            today=now.date(),
            schedule=policy.follow_up_months,
        ),
    )


BY_ID: LiteralString = "MATCH (r:Referral {id: $id}) " + RETURN_REFERRAL


async def get_referral(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> Referral:
    """NotFound both when it does not exist and when the actor may not see it: a referral's
    existence is itself something other organisations must not learn."""
    record = await (await tx.run(BY_ID, id=id)).single()
    found = view(record, actor=actor, cipher=cipher, now=now, policy=policy) if record else None
    if found is None:
        raise NotFound("referral", id)
    return found


class ReferralFilter(BaseModel):
    side: Side | None = None
    status: list[ReferralStatus] = Field(default_factory=list)
    case_reference: str | None = None
    # The referrals of several cases at once (for a page of cases).
    case_references: list[str] = Field(default_factory=list)
    overdue: bool | None = None
    follow_ups_due: bool | None = None


# Newest first. Each side is one index-backed match from the actor's organisations.
LIST: LiteralString = (
    """
CALL () {
  MATCH (o:Organisation)<-[:FROM]-(r:Referral)
  WHERE o.id IN $sender_orgs
  RETURN r
  UNION
  MATCH (o:Organisation)-[:PROVIDES]->(:Service)<-[:TO]-(r:Referral)
  WHERE o.id IN $receiver_orgs AND r.status <> 'draft'
  RETURN r
}
WITH r
WHERE (size($statuses) = 0 OR r.status IN $statuses)
  AND ($case IS NULL OR r.case_reference = $case)
  AND (size($cases) = 0 OR r.case_reference IN $cases)
  AND ($overdue IS NULL OR (r.status = 'sent' AND r.response_due_at < $now) = $overdue)
  AND ($due IS NULL OR $due = (
        r.status IN ['accepted', 'in_progress', 'completed'] AND r.planned_arrival IS NOT NULL
        AND any(m IN $schedule WHERE r.planned_arrival + duration({months: m}) <= date($now)
                AND NOT EXISTS { MATCH (:FollowUp {months_after_arrival: m})-[:OF]->(r) })))
  AND ($after_at IS NULL OR r.created_at < $after_at
       OR (r.created_at = $after_at AND r.id < $after_id))
WITH r ORDER BY r.created_at DESC, r.id DESC
"""
    + RETURN_REFERRAL
)


async def list_referrals(
    tx: AsyncManagedTransaction,
    *,
    actor: Actor,
    filter: ReferralFilter,
    first: int,
    after: tuple[datetime, str] | None,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> Page[Referral]:
    """The actor's referrals: sent by organisations they counsel for, received by those they
    are partners of, newest first."""
    sender_orgs = sorted(actor.organisations_with(Role.COUNSELLOR))
    receiver_orgs = sorted(actor.organisations_with(Role.PARTNER))
    if filter.side is Side.SENDER:
        receiver_orgs = []
    elif filter.side is Side.RECEIVER:
        sender_orgs = []
    return await newest_first(
        tx,
        LIST,
        first=first,
        after=after,
        see=lambda record: view(record, actor=actor, cipher=cipher, now=now, policy=policy),
        sender_orgs=sender_orgs,
        receiver_orgs=receiver_orgs,
        statuses=[s.value for s in filter.status],
        case=filter.case_reference,
        cases=filter.case_references,
        overdue=filter.overdue,
        due=filter.follow_ups_due,
        schedule=list(policy.follow_up_months),
        now=now,
    )
