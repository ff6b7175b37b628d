"""Referrals: one request from a sending organisation to a receiving service, its lifecycle,
the returnee's consent, follow-up after arrival, and what each side may see of it.

The state machine is `TRANSITIONS` below and nowhere else. Personal categories (contact,
health, notes) are encrypted at rest with `core.crypto.DataCipher`; the receiving
organisation reads a personal category only while a valid consent covers it. No names or
birth dates exist anywhere in the model: a referral is known by its generated reference.
"""

from __future__ import annotations

import calendar
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.crypto import DataCipher
from core.errors import (
    ConsentMissing,
    FieldProblem,
    Forbidden,
    IllegalTransition,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from core.languages import iso639_codes
from core.text import distinct
from graph.driver import Graph
from graph.pagination import Page, paginate
from graph.services import ReturnType, flag_for_reverification
from graph.temporal import native
from graph.users import Actor, Role
from graph.webhooks import WebhookEvent, enqueue

# --- the state machine -------------------------------------------------------------------


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


CLOSED = frozenset({ReferralStatus.DECLINED, ReferralStatus.COMPLETED, ReferralStatus.CANCELLED})


class Action(StrEnum):
    SEND = "send"
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    DECLINE = "decline"
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"


class Side(StrEnum):
    """Which end of a referral a person stands on; each action belongs to one side."""

    SENDER = "sender"
    RECEIVER = "receiver"


@dataclass(frozen=True, slots=True)
class Transition:
    sources: frozenset[ReferralStatus]
    target: ReferralStatus
    side: Side


S = ReferralStatus
TRANSITIONS: dict[Action, Transition] = {
    Action.SEND: Transition(frozenset({S.DRAFT}), S.SENT, Side.SENDER),
    Action.ACKNOWLEDGE: Transition(frozenset({S.SENT}), S.ACKNOWLEDGED, Side.RECEIVER),
    # Accepting or declining straight from "sent" implies the acknowledgement.
    Action.ACCEPT: Transition(frozenset({S.SENT, S.ACKNOWLEDGED}), S.ACCEPTED, Side.RECEIVER),
    Action.DECLINE: Transition(frozenset({S.SENT, S.ACKNOWLEDGED}), S.DECLINED, Side.RECEIVER),
    Action.START: Transition(frozenset({S.ACCEPTED}), S.IN_PROGRESS, Side.RECEIVER),
    # "Could not contact" can end an accepted referral that never started.
    Action.COMPLETE: Transition(frozenset({S.ACCEPTED, S.IN_PROGRESS}), S.COMPLETED, Side.RECEIVER),
    Action.CANCEL: Transition(
        frozenset({S.DRAFT, S.SENT, S.ACKNOWLEDGED, S.ACCEPTED, S.IN_PROGRESS}),
        S.CANCELLED,
        Side.SENDER,
    ),
}
del S

# The property stamped with the moment a referral enters each state.
STAMP: dict[ReferralStatus, str] = {
    ReferralStatus.SENT: "sent_at",
    ReferralStatus.ACKNOWLEDGED: "acknowledged_at",
    ReferralStatus.ACCEPTED: "accepted_at",
    ReferralStatus.DECLINED: "declined_at",
    ReferralStatus.IN_PROGRESS: "started_at",
    ReferralStatus.COMPLETED: "completed_at",
    ReferralStatus.CANCELLED: "cancelled_at",
}


def allowed_actions(status: ReferralStatus, side: Side | None = None) -> list[Action]:
    return [
        action
        for action, t in TRANSITIONS.items()
        if status in t.sources and (side is None or t.side is side)
    ]


def next_status(status: ReferralStatus, action: Action) -> ReferralStatus:
    """The state after `action`, or IllegalTransition naming the current state and the
    actions allowed from it."""
    transition = TRANSITIONS[action]
    if status not in transition.sources:
        raise IllegalTransition(
            action.value, status.value, [a.value for a in allowed_actions(status)]
        )
    return transition.target


# What each step announces to the organisations' webhook subscriptions.
ANNOUNCES: dict[Action, WebhookEvent] = {
    Action.SEND: WebhookEvent.REFERRAL_SENT,
    Action.ACKNOWLEDGE: WebhookEvent.REFERRAL_ACKNOWLEDGED,
    Action.ACCEPT: WebhookEvent.REFERRAL_ACCEPTED,
    Action.DECLINE: WebhookEvent.REFERRAL_DECLINED,
    Action.START: WebhookEvent.REFERRAL_STARTED,
    Action.COMPLETE: WebhookEvent.REFERRAL_COMPLETED,
    Action.CANCEL: WebhookEvent.REFERRAL_CANCELLED,
}


# --- vocabulary ----------------------------------------------------------------------------


class DataCategory(StrEnum):
    """What a consent may cover; a referral carries some of these."""

    NEEDS = "needs"
    HOUSEHOLD = "household"
    HEALTH = "health"
    CONTACT = "contact"
    DOCUMENTS = "documents"
    NOTES = "notes"


class AgeBand(StrEnum):
    AGE_0_2 = "age_0_2"
    AGE_3_5 = "age_3_5"
    AGE_6_14 = "age_6_14"
    AGE_15_17 = "age_15_17"


class DocumentKind(StrEnum):
    MEDICAL_RECORDS_TRANSLATED = "medical_records_translated"
    DIPLOMAS = "diplomas"
    SCHOOL_RECORDS = "school_records"
    BIRTH_CERTIFICATES = "birth_certificates"
    IDENTITY_DOCUMENTS = "identity_documents"
    OTHER = "other"


class DeclineReason(StrEnum):
    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    OUTSIDE_AREA = "outside_area"
    SERVICE_NOT_OFFERED = "service_not_offered"
    OTHER = "other"


class Outcome(StrEnum):
    GOT_HELP = "got_help"
    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    COULD_NOT_CONTACT = "could_not_contact"
    DECLINED_BY_RETURNEE = "declined_by_returnee"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    MOVED_AWAY = "moved_away"


# Outcomes that say the directory entry may be wrong: the service is flagged for
# re-verification with this reason.
REVERIFY_AFTER: dict[Outcome | DeclineReason, str] = {
    Outcome.COULD_NOT_CONTACT: "a referral could not reach the service",
    Outcome.NO_CAPACITY: "a referral found the service without capacity",
    DeclineReason.NO_CAPACITY: "the service declined a referral for lack of capacity",
}


# Monitoring visits concern a returnee the receiver has taken on: from acceptance on, and
# after completion too (the follow-up outlives the service's own work).
FOLLOW_UP_STATUSES = frozenset(
    {ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS, ReferralStatus.COMPLETED}
)


class Employment(StrEnum):
    EMPLOYED = "employed"
    SELF_EMPLOYED = "self_employed"
    IN_TRAINING = "in_training"
    UNEMPLOYED = "unemployed"
    NOT_APPLICABLE = "not_applicable"


class Schooling(StrEnum):
    ALL_CHILDREN = "all_children"
    SOME_CHILDREN = "some_children"
    NO_CHILDREN = "no_children"
    NOT_APPLICABLE = "not_applicable"


class Access(StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"


class Housing(StrEnum):
    ADEQUATE = "adequate"
    TEMPORARY = "temporary"
    INADEQUATE = "inadequate"
    NONE = "none"


class Intention(StrEnum):
    NO = "no"
    UNDECIDED = "undecided"
    YES = "yes"


# --- input models ------------------------------------------------------------------------

_CODE = Field(min_length=1, max_length=80)


class Household(BaseModel):
    """The household's shape: counts and age bands, never names or birth dates."""

    adults: int = Field(ge=0, le=30)
    children: list[AgeBand] = Field(default_factory=list, max_length=30)


class ReferralInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    service_id: str = _CODE
    destination: str = Field(min_length=1, max_length=64, description="Area id")
    needs: list[str] = Field(min_length=1, max_length=20)
    return_type: ReturnType
    # The sending organisation; may be left out by counsellors of one organisation only.
    from_organisation_id: str | None = Field(default=None, max_length=80)
    # Joins an existing case (a household with several referrals) instead of opening one.
    case_reference: str | None = Field(default=None, max_length=40)
    target_groups: list[str] = Field(default_factory=list, max_length=20)
    household: Household | None = None
    languages: list[str] = Field(default_factory=list, max_length=10)
    planned_arrival: date | None = None
    programme: str | None = Field(default=None, max_length=80)
    documents: list[DocumentKind] = Field(default_factory=list, max_length=10)
    note: str | None = Field(default=None, max_length=4000)
    contact: str | None = Field(default=None, max_length=1000)
    health: str | None = Field(default=None, max_length=4000)

    @field_validator("needs", "target_groups")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return distinct(values)

    @field_validator("languages")
    @classmethod
    def _iso639(cls, values: list[str]) -> list[str]:
        return iso639_codes(values)

    @field_validator("note", "contact", "health")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    def carried_categories(self) -> set[DataCategory]:
        """What sending this referral shares; the consent must cover all of it."""
        carried = {DataCategory.NEEDS}
        if self.household is not None or self.target_groups or self.languages:
            carried.add(DataCategory.HOUSEHOLD)
        if self.health:
            carried.add(DataCategory.HEALTH)
        if self.contact:
            carried.add(DataCategory.CONTACT)
        if self.documents:
            carried.add(DataCategory.DOCUMENTS)
        if self.note:
            carried.add(DataCategory.NOTES)
        return carried


class ConsentInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    referral_id: str = _CODE
    categories: list[DataCategory] = Field(min_length=1)
    purpose: str = Field(min_length=3, max_length=500)
    evidence_reference: str = Field(
        min_length=1, max_length=200, description="e.g. the id of the signed consent form"
    )
    expires_on: date


class FollowUpInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    referral_id: str = _CODE
    months_after_arrival: int = Field(ge=0, le=60)
    visited_on: date
    employment: Employment | None = None
    schooling: Schooling | None = None
    health_care_access: Access | None = None
    housing: Housing | None = None
    feels_safe: Access | None = None
    intends_to_leave: Intention | None = None
    note: str | None = Field(default=None, max_length=4000)


# --- read models ---------------------------------------------------------------------------


class ReferralEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    note: str | None
    reason: DeclineReason | None
    outcome: Outcome | None


class FollowUp(BaseModel):
    id: str
    months_after_arrival: int
    visited_on: date
    employment: Employment | None
    schooling: Schooling | None
    health_care_access: Access | None
    housing: Housing | None
    feels_safe: Access | None
    intends_to_leave: Intention | None
    note: str | None
    recorded_at: datetime
    recorded_by: str
    recorded_by_organisation_id: str


class Consent(BaseModel):
    id: str
    case_reference: str
    recipient_organisation_id: str
    categories: list[DataCategory]
    purpose: str
    evidence_reference: str
    expires_on: date
    recorded_at: datetime
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    def valid_at(self, at: datetime) -> bool:
        return self.revoked_at is None and at.date() < self.expires_on


class Referral(BaseModel):
    """A referral as one viewer may see it. Personal fields the viewer may not read are
    None and their categories listed in `withheld_categories`."""

    id: str
    reference: str
    case_reference: str
    status: ReferralStatus
    viewer_side: Side
    from_organisation_id: str
    service_id: str
    receiving_organisation_id: str
    destination_id: str
    return_type: ReturnType
    planned_arrival: date | None
    programme_id: str | None
    need_codes: list[str]
    target_group_codes: list[str]
    household: Household | None
    languages: list[str]
    documents: list[DocumentKind]
    note: str | None
    contact: str | None
    health: str | None
    withheld_categories: list[DataCategory]
    decline_reason: DeclineReason | None
    outcome: Outcome | None
    response_due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    purged_at: datetime | None
    version: int
    events: list[ReferralEvent]
    follow_ups: list[FollowUp]
    consents: list[Consent]
    follow_ups_due: list[int]

    def overdue_at(self, now: datetime) -> bool:
        return (
            self.status is ReferralStatus.SENT
            and self.response_due_at is not None
            and self.response_due_at < now
        )


# --- who stands where ----------------------------------------------------------------------


def side_of(actor: Actor, *, sender: str, receiver: str) -> Side | None:
    """Counsellors of the sending organisation and partners of the receiving one; nobody else
    (coordinators and admins see referrals only as counts)."""
    if sender in actor.organisations_with(Role.COUNSELLOR):
        return Side.SENDER
    if receiver in actor.organisations_with(Role.PARTNER):
        return Side.RECEIVER
    return None


@dataclass(frozen=True, slots=True)
class Policy:
    """Deployment rules that referral functions need (from Settings)."""

    default_response_days: int = 5
    follow_up_months: tuple[int, ...] = (1, 3, 6, 12)
    retention_days: int = 365


# --- reading ---------------------------------------------------------------------------------

RETURN_REFERRAL: LiteralString = """
RETURN r,
  COLLECT { MATCH (r)-[:FROM]->(o:Organisation) RETURN o.id }[0] AS sender,
  COLLECT { MATCH (r)-[:TO]->(s:Service) RETURN s.id }[0] AS service,
  COLLECT { MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(o:Organisation) RETURN o.id }[0]
    AS receiver,
  COLLECT { MATCH (r)-[:DESTINATION]->(a:Area) RETURN a.id }[0] AS destination,
  COLLECT { MATCH (r)-[:UNDER]->(p:Programme) RETURN p.id }[0] AS programme,
  COLLECT { MATCH (r)-[:FOR]->(n:Need) RETURN n.code ORDER BY n.code } AS needs,
  COLLECT { MATCH (r)-[:CONCERNS]->(t:TargetGroup) RETURN t.code ORDER BY t.code } AS groups,
  COLLECT { MATCH (e:ReferralEvent)-[:OF]->(r) RETURN e ORDER BY e.at, e.seq } AS events,
  COLLECT { MATCH (f:FollowUp)-[:OF]->(r) RETURN f ORDER BY f.months_after_arrival, f.visited_on }
    AS follow_ups,
  COLLECT { MATCH (c:Consent {case_reference: r.case_reference})-[:GIVEN_TO]->(o:Organisation)
            WHERE EXISTS { (r)-[:TO]->(:Service)<-[:PROVIDES]-(o) }
            RETURN c ORDER BY c.recorded_at } AS consents
"""


def _opt(enum: type[Any], value: Any) -> Any:
    return enum(value) if value is not None else None


def _consent(props: dict[str, Any], recipient: str) -> Consent:
    return Consent(
        id=props["id"],
        case_reference=props["case_reference"],
        recipient_organisation_id=recipient,
        categories=[DataCategory(c) for c in props["categories"]],
        purpose=props["purpose"],
        evidence_reference=props["evidence_reference"],
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
    return [m for m in schedule if m not in recorded and _add_months(planned_arrival, m) <= today]


def _add_months(day: date, months: int) -> date:
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
    consents = [_consent(dict(c), receiver) for c in record["consents"]]
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
    result = await tx.run(
        LIST + " LIMIT $limit",
        sender_orgs=sender_orgs,
        receiver_orgs=receiver_orgs,
        statuses=[s.value for s in filter.status],
        case=filter.case_reference,
        overdue=filter.overdue,
        due=filter.follow_ups_due,
        schedule=list(policy.follow_up_months),
        now=now,
        after_at=after[0] if after else None,
        after_id=after[1] if after else "",
        limit=first + 1,
    )
    rows: list[tuple[str, str, Referral]] = []
    async for record in result:
        seen = view(record, actor=actor, cipher=cipher, now=now, policy=policy)
        if seen is not None:
            rows.append((seen.created_at.isoformat(), seen.id, seen))
    return paginate(rows, first)


# --- creating ------------------------------------------------------------------------------

REFERENCES: LiteralString = """
OPTIONAL MATCH (s:Service {id: $service})<-[:PROVIDES]-(receiver:Organisation)
RETURN
  s IS NOT NULL AS service_found,
  s.status AS service_status,
  s.expected_response_days AS response_days,
  EXISTS { MATCH (:Area {id: $destination}) } AS destination_found,
  EXISTS { MATCH (:Organisation {id: $sender}) } AS sender_found,
  [i IN range(0, size($needs) - 1) WHERE NOT EXISTS { MATCH (:Need {code: $needs[i]}) }]
    AS bad_needs,
  [i IN range(0, size($groups) - 1) WHERE NOT EXISTS { MATCH (:TargetGroup {code: $groups[i]}) }]
    AS bad_groups,
  $programme IS NULL OR EXISTS { MATCH (:Programme {id: $programme}) } AS programme_found,
  $case IS NULL OR EXISTS {
    MATCH (:Organisation {id: $sender})<-[:FROM]-(:Referral {case_reference: $case}) }
    AS case_found,
  COLLECT { MATCH (other:Referral {case_reference: $case}) RETURN other.id } AS case_members
"""


def _sender(actor: Actor, requested: str | None) -> str:
    mine = actor.organisations_with(Role.COUNSELLOR)
    if requested is not None:
        if requested not in mine:
            raise Forbidden(f"you are not a counsellor of organisation {requested!r}")
        return requested
    if len(mine) != 1:
        raise ValidationFailed.single(
            "from_organisation_id",
            "say which of your organisations sends the referral"
            if mine
            else "only counsellors of a sending organisation create referrals",
        )
    return next(iter(mine))


def new_case_reference(now: datetime) -> str:
    """Readable on the phone and unguessable: HW-2026-7K3MQ9 (no 0/O or 1/I)."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return f"HW-{now.year}-" + "".join(secrets.choice(alphabet) for _ in range(6))


# The referral's need codes kept as a list beside its FOR relationships (set from them, so the
# two cannot disagree): the gap matrix counts demand per need from the property, without an
# expansion per referral. Needs never change after creation; migration 10 set it once for
# referrals written before.
REFERRAL_NEED_CODES: LiteralString = (
    "SET r.need_codes = COLLECT { MATCH (r)-[:FOR]->(n:Need) RETURN n.code ORDER BY n.code }"
)

CREATE: LiteralString = (
    """
MATCH (sender:Organisation {id: $sender})
MATCH (s:Service {id: $service})
MATCH (d:Area {id: $destination})
CREATE (r:Referral {id: $id})
SET r += $props, r.version = 1, r.created_at = $now, r.updated_at = $now
CREATE (r)-[:FROM]->(sender), (r)-[:TO]->(s), (r)-[:DESTINATION]->(d)
WITH r
CALL (r) {
  UNWIND $needs AS code
  MATCH (n:Need {code: code})
  CREATE (r)-[:FOR]->(n)
}
CALL (r) {"""
    + REFERRAL_NEED_CODES
    + """}
CALL (r) {
  UNWIND $groups AS code
  MATCH (t:TargetGroup {code: code})
  CREATE (r)-[:CONCERNS]->(t)
}
CALL (r) {
  OPTIONAL MATCH (p:Programme {id: $programme})
  WITH p WHERE p IS NOT NULL
  CREATE (r)-[:UNDER]->(p)
}
CREATE (:ReferralEvent {id: $event_id, seq: 0, at: $now, actor: $actor, action: 'create',
                        to_status: 'draft'})-[:OF]->(r)
"""
)


async def create_referral(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: ReferralInput,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> Referral:
    """A draft: nothing is shared with the receiving organisation until it is sent. A
    retried creation with the same id returns the existing draft."""
    existing = await (await tx.run("MATCH (r:Referral {id: $id}) RETURN r.id", id=id)).single()
    if existing is not None:
        return await get_referral(tx, id=id, actor=actor, cipher=cipher, now=now, policy=policy)
    sender = _sender(actor, data.from_organisation_id)
    r = await (
        await tx.run(
            REFERENCES,
            service=data.service_id,
            destination=data.destination,
            sender=sender,
            needs=data.needs,
            groups=data.target_groups,
            programme=data.programme,
            case=data.case_reference,
        )
    ).single(strict=True)
    problems: list[FieldProblem] = []
    if not r["service_found"]:
        problems.append(FieldProblem("service_id", f"unknown service {data.service_id!r}"))
    elif r["service_status"] in {"inactive", "defunct"}:
        problems.append(
            FieldProblem(
                "service_id", f"the service is {r['service_status']} and takes no referrals"
            )
        )
    if not r["destination_found"]:
        problems.append(
            FieldProblem(
                "destination", f"unknown area {data.destination!r}; the areas query finds ids"
            )
        )
    problems += [
        FieldProblem(
            f"needs.{i}", f"unknown need code {data.needs[i]!r}; the needs query lists them"
        )
        for i in r["bad_needs"]
    ]
    problems += [
        FieldProblem(
            f"target_groups.{i}",
            f"unknown target group code {data.target_groups[i]!r}; "
            "the targetGroups query lists them",
        )
        for i in r["bad_groups"]
    ]
    if not r["programme_found"]:
        problems.append(FieldProblem("programme", f"unknown programme {data.programme!r}"))
    if not r["case_found"]:
        problems.append(
            FieldProblem(
                "case_reference", f"no case {data.case_reference!r} of organisation {sender!r}"
            )
        )
    if problems:
        raise ValidationFailed(problems)
    case = data.case_reference or new_case_reference(now)
    ordinal = len(r["case_members"]) + 1 if data.case_reference else 1
    household = data.household
    props = {
        "reference": f"{case}-{ordinal}",
        "case_reference": case,
        "status": ReferralStatus.DRAFT.value,
        "return_type": data.return_type.value,
        "planned_arrival": data.planned_arrival,
        "household_adults": household.adults if household else None,
        "household_children": [c.value for c in household.children] if household else None,
        "languages": data.languages,
        "documents": [d.value for d in data.documents],
        "carries": sorted(c.value for c in data.carried_categories()),
        "response_days": r["response_days"] or policy.default_response_days,
        "note_enc": cipher.encrypt(data.note),
        "contact_enc": cipher.encrypt(data.contact),
        "health_enc": cipher.encrypt(data.health),
        "created_by": actor.label,
    }
    await tx.run(
        CREATE,
        id=id,
        sender=sender,
        service=data.service_id,
        destination=data.destination,
        needs=data.needs,
        groups=data.target_groups,
        programme=data.programme,
        props=props,
        now=now,
        event_id=str(uuid.uuid4()),
        actor=actor.label,
    )
    return await get_referral(tx, id=id, actor=actor, cipher=cipher, now=now, policy=policy)


# --- transitions -------------------------------------------------------------------------------

# Bumping the version first takes the referral's write lock: a concurrent transition waits,
# then reads the state this one left and is refused if its step is no longer allowed.
LOCK: LiteralString = """
MATCH (r:Referral {id: $id})
SET r.version = r.version + 1
RETURN r.version - 1 AS previous
"""

STATE: LiteralString = """
MATCH (r:Referral {id: $id})-[:FROM]->(sender:Organisation)
MATCH (r)-[:TO]->(s:Service)<-[:PROVIDES]-(receiver:Organisation)
RETURN r.status AS status, sender.id AS sender, receiver.id AS receiver, s.id AS service,
       r.case_reference AS case, r.reference AS reference, r.carries AS carries,
       r.response_days AS response_days,
       r.acknowledged_at IS NOT NULL AS acknowledged,
       COLLECT { MATCH (e:ReferralEvent)-[:OF]->(r) RETURN e.seq ORDER BY e.seq DESC }[0] AS seq
"""

APPLY: LiteralString = """
MATCH (r:Referral {id: $id})
SET r += $props, r.updated_at = $now
CREATE (:ReferralEvent {id: $event_id, seq: $seq, at: $now, actor: $actor, action: $action,
                        from_status: $from_status, to_status: $to, note_enc: $note,
                        reason: $reason, outcome: $outcome})-[:OF]->(r)
"""

VALID_CONSENT: LiteralString = """
MATCH (c:Consent {case_reference: $case})-[:GIVEN_TO]->(:Organisation {id: $recipient})
WHERE c.revoked_at IS NULL AND c.expires_on > date($now)
UNWIND c.categories AS category
RETURN collect(DISTINCT category) AS covered
"""

# The service's responsiveness, kept on the Service for search and for counsellors: median
# hours from sending to acknowledgement, share of decided referrals accepted, share of
# accepted referrals that came back with an outcome. For a list of services, so that a
# transition (one service) and a bulk load (many) keep it by the same definition.
RESPONSIVENESS: LiteralString = """
UNWIND $ids AS id
MATCH (s:Service {id: id})
CALL (s) {
  MATCH (r:Referral)-[:TO]->(s) WHERE r.sent_at IS NOT NULL
  RETURN count(r) AS received,
         percentileCont(CASE WHEN r.acknowledged_at IS NOT NULL
                             THEN duration.inSeconds(r.sent_at, r.acknowledged_at).seconds / 3600.0
                        END, 0.5) AS ack_median,
         count(r.accepted_at) AS accepted,
         count(r.declined_at) AS declined,
         count(CASE WHEN r.accepted_at IS NOT NULL AND r.outcome IS NOT NULL THEN 1 END)
           AS with_outcome
}
SET s.referrals_received = received,
    s.ack_median_hours = CASE WHEN received > 0 THEN ack_median END,
    s.acceptance_rate = CASE WHEN accepted + declined > 0
                             THEN toFloat(accepted) / (accepted + declined) END,
    s.feedback_rate = CASE WHEN accepted > 0 THEN toFloat(with_outcome) / accepted END
RETURN count(s) AS updated
"""


async def update_responsiveness(tx: AsyncManagedTransaction, *, service_ids: list[str]) -> int:
    """Recompute the responsiveness of these services from their referrals as they stand;
    returns how many services were found. Referrals written in bulk (history, data sets)
    call it once per batch of services instead of once per step."""
    result = await tx.run(RESPONSIVENESS, ids=service_ids)
    record = await result.single(strict=True)
    return int(record["updated"])


async def transition(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    action: Action,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
    note: str | None = None,
    reason: DeclineReason | None = None,
    outcome: Outcome | None = None,
    expected_version: int | None = None,
) -> Referral:
    """Take one step of the lifecycle, record it as an event, and keep the service's
    responsiveness current; all in the caller's transaction, so a refused step writes
    nothing (the version bump is rolled back with it)."""
    locked = await (await tx.run(LOCK, id=id)).single()
    if locked is None:
        raise NotFound("referral", id)
    state = await (await tx.run(STATE, id=id)).single(strict=True)
    side = side_of(actor, sender=state["sender"], receiver=state["receiver"])
    current = ReferralStatus(state["status"])
    if side is None or (side is Side.RECEIVER and current is ReferralStatus.DRAFT):
        raise NotFound("referral", id)
    rule = TRANSITIONS[action]
    if rule.side is not side:
        raise Forbidden(f"only the {rule.side.value} of a referral may {action.value} it")
    if expected_version is not None and locked["previous"] != expected_version:
        raise VersionConflict("referral", id, expected_version, locked["previous"])
    target = next_status(current, action)
    if action is Action.DECLINE and reason is None:
        raise ValidationFailed.single("reason", "a decline needs a reason")
    if action is Action.COMPLETE and outcome is None:
        raise ValidationFailed.single("outcome", "completing a referral needs an outcome")
    props: dict[str, Any] = {"status": target.value, STAMP[target]: now}
    if action is Action.SEND:
        covered = await (
            await tx.run(VALID_CONSENT, case=state["case"], recipient=state["receiver"], now=now)
        ).single(strict=True)
        missing = sorted(set(state["carries"]) - set(covered["covered"]))
        if missing:
            raise ConsentMissing(state["receiver"], missing)
        props["response_due_at"] = now + timedelta(days=state["response_days"])
    if target in {ReferralStatus.ACCEPTED, ReferralStatus.DECLINED} and not state["acknowledged"]:
        props["acknowledged_at"] = now
    if target in CLOSED:
        props["closed_at"] = now
    if reason is not None:
        props["decline_reason"] = reason.value
    if outcome is not None:
        props["outcome"] = outcome.value
    await tx.run(
        APPLY,
        id=id,
        props=props,
        now=now,
        event_id=str(uuid.uuid4()),
        seq=(state["seq"] or 0) + 1,
        actor=actor.label,
        action=action.value,
        to=target.value,
        note=cipher.encrypt(note),
        reason=reason.value if reason else None,
        outcome=outcome.value if outcome else None,
        from_status=current.value,
    )
    await update_responsiveness(tx, service_ids=[state["service"]])
    # Both ends are told (each subscribes to what it cares about), except of a draft that
    # was cancelled before the receiver ever saw it. Ids and statuses only, never content.
    told = (
        [state["sender"]]
        if current is ReferralStatus.DRAFT and action is Action.CANCEL
        else [state["sender"], state["receiver"]]
    )
    for organisation in dict.fromkeys(told):
        await enqueue(
            tx,
            organisation_id=organisation,
            event=ANNOUNCES[action],
            payload={
                "referral_id": id,
                "reference": state["reference"],
                "service_id": state["service"],
                "organisation_id": organisation,
                "status": target.value,
                "previous_status": current.value,
                "occurred_at": now,
            },
            at=now,
        )
    cause = outcome or reason
    flag = REVERIFY_AFTER.get(cause) if cause is not None else None
    if flag is not None:
        await flag_for_reverification(tx, id=state["service"], reason=flag, at=now)
    return await get_referral(tx, id=id, actor=actor, cipher=cipher, now=now, policy=policy)


# --- consent ---------------------------------------------------------------------------------

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
        "purpose": data.purpose,
        "evidence_reference": data.evidence_reference,
        "expires_on": data.expires_on,
        "recorded_at": now,
        "recorded_by": actor.label,
    }
    await tx.run(
        GRANT, sender=target["sender"], receiver=target["receiver"], consent_id=id, props=props
    )
    return _consent(props, target["receiver"])


REVOKE: LiteralString = """
MATCH (c:Consent {id: $id})-[:GIVEN_TO]->(receiver:Organisation)
MATCH (c)-[:RECORDED_BY]->(sender:Organisation)
WHERE sender.id IN $senders
SET c.revoked_at = coalesce(c.revoked_at, $now), c.revoked_by = coalesce(c.revoked_by, $actor)
RETURN c, receiver.id AS receiver
"""


async def revoke_consent(
    tx: AsyncManagedTransaction, *, id: str, actor: Actor, now: datetime
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
    return _consent(dict(record["c"]), record["receiver"])


# --- follow-up ---------------------------------------------------------------------------------

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
    return await get_referral(
        tx, id=data.referral_id, actor=actor, cipher=cipher, now=now, policy=policy
    )


# --- retention and key rotation ----------------------------------------------------------------

PURGE: LiteralString = """
MATCH (r:Referral)
WHERE r.closed_at < $before AND r.purged_at IS NULL
WITH r LIMIT $batch
OPTIONAL MATCH (x)-[:OF]->(r) WHERE x:ReferralEvent OR x:FollowUp
REMOVE x.note_enc
WITH DISTINCT r
REMOVE r.note_enc, r.contact_enc, r.health_enc
SET r.documents = [], r.purged_at = $now
RETURN count(r) AS purged
"""


async def purge_closed(
    tx: AsyncManagedTransaction, *, now: datetime, retention_days: int, batch: int = 500
) -> int:
    """Erase the personal categories of referrals closed longer than the retention period;
    status, needs, destination, dates and household shape stay as anonymous statistics.
    Returns how many were purged in this batch (call again until 0)."""
    record = await (
        await tx.run(PURGE, before=now - timedelta(days=retention_days), now=now, batch=batch)
    ).single(strict=True)
    return int(record["purged"])


ENCRYPTED: LiteralString = """
MATCH (x) WHERE (x:Referral OR x:ReferralEvent OR x:FollowUp)
  AND (x.note_enc IS NOT NULL OR x.contact_enc IS NOT NULL OR x.health_enc IS NOT NULL)
  AND elementId(x) > $after
RETURN elementId(x) AS ref, x.note_enc AS note_enc, x.contact_enc AS contact_enc,
       x.health_enc AS health_enc
ORDER BY ref LIMIT $batch
"""

REWRITE: LiteralString = """
UNWIND $rows AS row
MATCH (x) WHERE elementId(x) = row.ref
SET x += row.values
"""


async def rotate_batch(
    tx: AsyncManagedTransaction, *, cipher: DataCipher, after: str, batch: int = 500
) -> tuple[str, int] | None:
    """Re-encrypt one batch of stored personal values under the newest key; returns the
    position to continue from and the batch's size, or None when done."""
    result = await tx.run(ENCRYPTED, after=after, batch=batch)
    rows = []
    last: str | None = None
    async for r in result:
        last = r["ref"]
        values = {
            key: cipher.rotate(r[key])
            for key in ("note_enc", "contact_enc", "health_enc")
            if r[key] is not None
        }
        rows.append({"ref": r["ref"], "values": values})
    if not rows or last is None:
        return None
    await tx.run(REWRITE, rows=rows)
    return last, len(rows)


# --- statistics for coordinators ---------------------------------------------------------------

STATISTICS: LiteralString = """
MATCH (r:Referral)-[:DESTINATION]->(d:Area)
WHERE r.status <> 'draft' AND r.sent_at >= $since AND r.sent_at < $until
  AND ($area IS NULL OR EXISTS { MATCH (d)-[:PART_OF*0..]->(:Area {id: $area}) })
CALL (r) {
  OPTIONAL MATCH (r)-[:FOR]->(n:Need)
  RETURN collect(n.code) AS needs
}
RETURN r.status AS status, d.id AS destination, needs
"""


class Count(BaseModel):
    key: str
    # None when the true count is below the disclosure threshold (see `referral_statistics`).
    count: int | None


class ReferralStatistics(BaseModel):
    total: int
    by_status: list[Count]
    by_destination: list[Count]
    by_need: list[Count]


async def referral_statistics(
    tx: AsyncManagedTransaction,
    *,
    area_id: str | None,
    since: datetime,
    until: datetime,
    minimum_count: int,
) -> ReferralStatistics:
    """Counts only. Cells below `minimum_count` are suppressed (count None): in a small
    municipality "one Roma family referred for trauma therapy" identifies the family."""
    result = await tx.run(STATISTICS, area=area_id, since=since, until=until)
    by_status: dict[str, int] = {}
    by_destination: dict[str, int] = {}
    by_need: dict[str, int] = {}
    total = 0
    async for r in result:
        total += 1
        by_status[r["status"]] = by_status.get(r["status"], 0) + 1
        by_destination[r["destination"]] = by_destination.get(r["destination"], 0) + 1
        for need in r["needs"]:
            by_need[need] = by_need.get(need, 0) + 1

    def cells(counts: dict[str, int]) -> list[Count]:
        return [
            Count(key=k, count=v if v >= minimum_count else None) for k, v in sorted(counts.items())
        ]

    return ReferralStatistics(
        total=total,
        by_status=cells(by_status),
        by_destination=cells(by_destination),
        by_need=cells(by_need),
    )


async def purge_expired(graph: Graph, *, now: datetime, retention_days: int) -> int:
    """Every referral past its retention, in batches (each its own transaction, so a large
    backlog never becomes one huge transaction). Returns how many were purged."""
    total = 0
    while purged := await graph.write(purge_closed, now=now, retention_days=retention_days):
        total += purged
    return total


async def rotate_all(graph: Graph, *, cipher: DataCipher) -> int:
    """Re-encrypt every stored personal value under the newest key; batches as above.
    Returns how many nodes were rewritten (values already under the newest key included)."""
    position, nodes = "", 0
    while (done := await graph.write(rotate_batch, cipher=cipher, after=position)) is not None:
        position, count = done
        nodes += count
    return nodes


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


# --- referral history without personal data (seed, imports) -----------------------------------


class ReferralHistoryRecord(BaseModel):
    """A past referral as anonymous statistics keep it: who sent it where, for what, and how
    far it got. Used for the demo seed; it can never carry personal categories."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=80)
    from_organisation: str = Field(alias="from", min_length=1)
    service: str = Field(min_length=1)
    destination: str = Field(min_length=1)
    needs: list[str] = Field(min_length=1)
    status: ReferralStatus
    return_type: ReturnType
    sent_on: date
    planned_arrival: date | None = None


HISTORY: LiteralString = (
    """
UNWIND $rows AS row
MATCH (sender:Organisation {id: row.from})
MATCH (s:Service {id: row.service})
MATCH (d:Area {id: row.destination})
MERGE (r:Referral {id: row.id})
ON CREATE SET r.version = 1, r.created_at = row.sent_at
SET r += row.props, r.updated_at = row.sent_at
MERGE (r)-[:FROM]->(sender)
MERGE (r)-[:TO]->(s)
MERGE (r)-[:DESTINATION]->(d)
WITH r, row
CALL (r, row) {
  UNWIND row.needs AS code
  MATCH (n:Need {code: code})
  MERGE (r)-[:FOR]->(n)
}
CALL (r) {"""
    + REFERRAL_NEED_CODES
    + """}
RETURN count(r) AS written
"""
)


async def write_referral_history(
    tx: AsyncManagedTransaction, *, records: list[ReferralHistoryRecord]
) -> int:
    """Idempotent (MERGE on the id); references must have been checked by the caller."""
    rows = []
    for rec in records:
        sent_at = datetime.combine(rec.sent_on, datetime.min.time(), UTC)
        closed = rec.status in CLOSED
        rows.append(
            {
                "from": rec.from_organisation,
                "service": rec.service,
                "destination": rec.destination,
                "needs": rec.needs,
                "id": rec.id,
                "sent_at": sent_at,
                "props": {
                    "reference": f"HW-{rec.sent_on.year}-{rec.id.upper()}",
                    "case_reference": f"HW-{rec.sent_on.year}-{rec.id.upper()}",
                    "status": rec.status.value,
                    "return_type": rec.return_type.value,
                    "planned_arrival": rec.planned_arrival,
                    "sent_at": sent_at if rec.status is not ReferralStatus.DRAFT else None,
                    "closed_at": sent_at if closed else None,
                    "carries": [DataCategory.NEEDS.value],
                    "response_days": Policy().default_response_days,
                    "history_only": True,
                },
            }
        )
    record = await (await tx.run(HISTORY, rows=rows)).single(strict=True)
    return int(record["written"])
