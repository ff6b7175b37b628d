"""The referral's lifecycle: the state machine (`TRANSITIONS` below and nowhere else), creating
a draft, and each step after it, recorded as an event, checked against the version the caller
read, and announced to both organisations (webhooks and in-app notices) in the same
transaction.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

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
from core.text import distinct
from graph.referrals.announce import announce
from graph.referrals.models import (
    CLOSED,
    REVERIFY_AFTER,
    Action,
    DeclineReason,
    Household,
    Outcome,
    Policy,
    Referral,
    ReferralInput,
    ReferralStatus,
    Side,
)
from graph.referrals.reads import get_referral, side_of
from graph.referrals.responsiveness import update_responsiveness
from graph.services import ReturnType, flag_for_reverification
from graph.temporal import native
from graph.users import Actor, Role
from graph.webhooks import WebhookEvent

# --- the state machine -------------------------------------------------------------------


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

# A cancellation may say that the household itself withdrew (before or after the partner
# answered), so that it counts as the returnee's decision and not the sender's.
WITHDRAWN_BY: frozenset[Outcome | None] = frozenset(
    {None, Outcome.DECLINED_BY_RETURNEE, Outcome.MOVED_AWAY}
)

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
  $programme IS NULL OR EXISTS { MATCH (:Programme {id: $programme}) } AS programme_found
"""

# The case a referral is made from, by id or by reference, if the sender owns it; what the
# referral takes from it, and its referrals (for the ordinal and for `continues`).
CASE_DATA: LiteralString = """
RETURN c, owner.id AS owner,
  COLLECT { MATCH (c)-[:DESTINATION]->(a:Area) RETURN a.id }[0] AS destination,
  COLLECT { MATCH (c)-[:UNDER]->(p:Programme) RETURN p.id ORDER BY p.id }[0] AS programme,
  COLLECT { MATCH (m:HouseholdMember)-[:OF]->(c) RETURN m.age ORDER BY m.ordinal } AS ages,
  COLLECT { MATCH (m:HouseholdMember)-[:OF]->(c) UNWIND m.target_groups AS g RETURN g }
    + coalesce(c.target_group_codes, []) AS groups,
  COLLECT { MATCH (r:Referral)-[:IN_CASE]->(c) RETURN r.id } AS referrals
"""
CASE_BY_ID: LiteralString = (
    "MATCH (c:ReturnCase {id: $key})-[:OWNED_BY]->(owner:Organisation) " + CASE_DATA
)
CASE_BY_REFERENCE: LiteralString = (
    "MATCH (c:ReturnCase {reference: $key})-[:OWNED_BY]->(owner:Organisation) " + CASE_DATA
)

# A referral made without a case opens one, so that every referral belongs to a case: the
# household's case starts with what the referral says about it.
OPEN_CASE: LiteralString = """
MATCH (sender:Organisation {id: $sender}), (d:Area {id: $destination})
CREATE (c:ReturnCase {id: $id})
SET c += $props, c.version = 1, c.created_at = $now, c.updated_at = $now
CREATE (c)-[:OWNED_BY]->(sender), (c)-[:DESTINATION]->(d)
WITH c
CALL (c) {
  OPTIONAL MATCH (p:Programme {id: $programme})
  WITH p WHERE p IS NOT NULL
  CREATE (c)-[:UNDER]->(p)
}
CALL (c) {
  UNWIND range(0, size($ages) - 1) AS i
  CREATE (:HouseholdMember {ordinal: i, role: CASE WHEN $ages[i] = 'adult' THEN 'adult'
                                                ELSE 'child' END,
                            age: $ages[i], needs: [], target_groups: []})-[:OF]->(c)
}
CREATE (:CaseEvent {id: $event_id, seq: 0, at: $now, actor: $actor, action: 'opened',
                    phase: 'preparing', whereabouts: 'host_country',
                    destination: $destination})-[:OF]->(c)
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


def _opt_return_type(value: str | None) -> ReturnType | None:
    return ReturnType(value) if value is not None else None


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
CALL (r) {
  MATCH (c:ReturnCase {id: $case_id})
  CREATE (r)-[:IN_CASE]->(c)
}
CALL (r) {
  OPTIONAL MATCH (earlier:Referral {id: $continues})
  WITH earlier WHERE earlier IS NOT NULL
  CREATE (r)-[:CONTINUES]->(earlier)
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
    problems: list[FieldProblem] = []
    case: Any = None
    if data.return_case_id is not None or data.case_reference is not None:
        by_id = data.return_case_id is not None
        case = await (
            await tx.run(
                CASE_BY_ID if by_id else CASE_BY_REFERENCE,
                key=data.return_case_id if by_id else data.case_reference,
            )
        ).single()
        if case is None or case["owner"] != sender:
            field = "return_case_id" if by_id else "case_reference"
            named = data.return_case_id if by_id else data.case_reference
            raise ValidationFailed.single(field, f"no case {named!r} of organisation {sender!r}")
    props_of_case: dict[str, Any] = dict(case["c"]) if case is not None else {}
    destination = data.destination or (case["destination"] if case is not None else None)
    return_type = data.return_type or _opt_return_type(props_of_case.get("return_type"))
    if destination is None:
        problems.append(FieldProblem("destination", "required unless made from a return case"))
    if return_type is None:
        problems.append(FieldProblem("return_type", "required unless made from a return case"))
    if data.continues is not None and (case is None or data.continues not in case["referrals"]):
        problems.append(
            FieldProblem("continues", "names no earlier referral of the same return case")
        )
    if problems or destination is None or return_type is None:
        raise ValidationFailed(problems)
    programme = data.programme or (case["programme"] if case is not None else None)
    groups = data.target_groups or (distinct(case["groups"]) if case is not None else [])
    r = await (
        await tx.run(
            REFERENCES,
            service=data.service_id,
            destination=destination,
            sender=sender,
            needs=data.needs,
            groups=groups,
            programme=programme,
        )
    ).single(strict=True)
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
            FieldProblem("destination", f"unknown area {destination!r}; the areas query finds ids")
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
            f"unknown target group code {groups[i]!r}; the targetGroups query lists them",
        )
        for i in r["bad_groups"]
    ]
    if not r["programme_found"]:
        problems.append(FieldProblem("programme", f"unknown programme {programme!r}"))
    if problems:
        raise ValidationFailed(problems)
    household = data.household
    languages = data.languages
    planned_arrival = data.planned_arrival
    if case is not None:
        household = household or Household.of_ages(list(case["ages"]))
        languages = languages or list(props_of_case.get("languages") or [])
        planned_arrival = planned_arrival or native(
            props_of_case.get("actual_arrival") or props_of_case.get("planned_arrival")
        )
        case_id, reference = props_of_case["id"], props_of_case["reference"]
        ordinal = len(case["referrals"]) + 1
    else:
        case_id, reference, ordinal = str(uuid.uuid4()), new_case_reference(now), 1
        await tx.run(
            OPEN_CASE,
            id=case_id,
            sender=sender,
            destination=destination,
            programme=programme,
            ages=[
                *(["adult"] * household.adults if household else []),
                *([c.value for c in household.children] if household else []),
            ],
            props={
                "reference": reference,
                "return_type": return_type.value,
                "planned_arrival": planned_arrival,
                "phase": "preparing",
                "whereabouts": "host_country",
                "languages": languages,
                "need_codes": sorted(data.needs),
                "target_group_codes": groups,
                "documents": [],
                "responsible_user_id": actor.user_id,
                "opened_by": actor.label,
            },
            now=now,
            event_id=str(uuid.uuid4()),
            actor=actor.label,
        )
    carried = data.model_copy(
        update={"household": household, "languages": languages, "target_groups": groups}
    ).carried_categories()
    props = {
        "reference": f"{reference}-{ordinal}",
        "case_reference": reference,
        "status": ReferralStatus.DRAFT.value,
        "return_type": return_type.value,
        "planned_arrival": planned_arrival,
        "household_adults": household.adults if household else None,
        "household_children": [c.value for c in household.children] if household else None,
        "languages": languages,
        "documents": [d.value for d in data.documents],
        "carries": sorted(c.value for c in carried),
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
        destination=destination,
        needs=data.needs,
        groups=groups,
        programme=programme,
        case_id=case_id,
        continues=data.continues,
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
    if action is Action.CANCEL and outcome not in WITHDRAWN_BY:
        raise ValidationFailed.single(
            "outcome",
            "a cancellation records only why the household withdrew: "
            + ", ".join(o.value for o in WITHDRAWN_BY if o is not None),
        )
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
    await announce(
        tx,
        event=ANNOUNCES[action],
        referral_id=id,
        reference=state["reference"],
        service_id=state["service"],
        organisations=told,
        status=target.value,
        previous_status=current.value,
        actor_id=actor.label,
        at=now,
    )
    cause = outcome or reason
    flag = REVERIFY_AFTER.get(cause) if cause is not None else None
    if flag is not None:
        await flag_for_reverification(tx, id=state["service"], reason=flag, at=now)
    return await get_referral(tx, id=id, actor=actor, cipher=cipher, now=now, policy=policy)
