"""Writing a return case: opening it at either end, changing its details, its phase and the
household's whereabouts, and visits after arrival. Every change is an event (who, when,
note), bumps the version (a caller that read an older one is refused, nothing written), is
checked whole before anything is written, and leaves an audit event and webhook
notifications (graph/cases/announcements.py) in the same transaction.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction

from core.crypto import DataCipher
from core.errors import FieldProblem, Forbidden, NotFound, ValidationFailed, VersionConflict
from graph.cases.announcements import announce, changes
from graph.cases.models import (
    CaseDetails,
    CaseFollowUpInput,
    CaseSide,
    OpenCaseInput,
    Phase,
    ReturnCase,
    StatusInput,
    Whereabouts,
    phase_problem,
    whereabouts_problem,
)
from graph.cases.reads import case_owners, get_case
from graph.referrals import Policy
from graph.users import Actor, Role
from graph.webhooks import WebhookEvent


def new_reference(now: datetime) -> str:
    """Readable on the phone and unguessable: HW-2026-7K3MQ9 (no 0/O or 1/I); the same shape
    as the references of cases opened by a referral."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    return f"HW-{now.year}-" + "".join(secrets.choice(alphabet) for _ in range(6))


# --- checking the details ------------------------------------------------------------------

CHECK: LiteralString = """
RETURN
  EXISTS { MATCH (:Area {id: $destination}) } AS destination_found,
  $country IS NULL OR EXISTS { MATCH (:Area {id: $country, level: 'country'}) } AS country_found,
  [p IN $programmes WHERE NOT EXISTS { MATCH (:Programme {id: p}) }] AS bad_programmes,
  [n IN $needs WHERE NOT EXISTS { MATCH (:Need {code: n}) }] AS bad_needs,
  [g IN $groups WHERE NOT EXISTS { MATCH (:TargetGroup {code: g}) }] AS bad_groups,
  $file IS NULL OR NOT EXISTS {
    MATCH (:Organisation {id: $owner})<-[:OWNED_BY]-(other:ReturnCase {file_number: $file})
    WHERE other.id <> $id } AS file_free,
  $responsible IS NULL OR EXISTS {
    MATCH (:User {id: $responsible})-[m:MEMBER_OF]->(:Organisation {id: $owner})
    WHERE m.role IN ['counsellor', 'partner'] } AS responsible_found
"""


async def _check(
    tx: AsyncManagedTransaction, *, id: str, owner: str, data: CaseDetails, now: datetime
) -> None:
    problems: list[FieldProblem] = []
    if data.actual_arrival is not None and data.actual_arrival > now.date():
        problems.append(FieldProblem("actual_arrival", "cannot be in the future"))
    member_needs = [n for m in data.members for n in m.needs]
    member_groups = [g for m in data.members for g in m.target_groups]
    r = await (
        await tx.run(
            CHECK,
            id=id,
            owner=owner,
            destination=data.destination,
            country=data.sending_country,
            programmes=data.programmes,
            needs=[*data.needs, *member_needs],
            groups=[*data.target_groups, *member_groups],
            file=data.file_number,
            responsible=data.responsible_user_id,
        )
    ).single(strict=True)
    if not r["destination_found"]:
        problems.append(
            FieldProblem(
                "destination", f"unknown area {data.destination!r}; the areas query finds ids"
            )
        )
    if not r["country_found"]:
        problems.append(
            FieldProblem("sending_country", f"unknown country {data.sending_country!r}")
        )
    problems += [
        FieldProblem(f"programmes.{i}", f"unknown programme {p!r}")
        for i, p in enumerate(data.programmes)
        if p in r["bad_programmes"]
    ]
    bad_needs, bad_groups = set(r["bad_needs"]), set(r["bad_groups"])

    def unknown(path: str, codes: list[str], bad: set[str], what: str) -> list[FieldProblem]:
        return [
            FieldProblem(f"{path}.{i}", f"unknown {what} {code!r}")
            for i, code in enumerate(codes)
            if code in bad
        ]

    problems += unknown("needs", data.needs, bad_needs, "need code")
    problems += unknown("target_groups", data.target_groups, bad_groups, "target group code")
    for j, m in enumerate(data.members):
        problems += unknown(f"members.{j}.needs", m.needs, bad_needs, "need code")
        problems += unknown(
            f"members.{j}.target_groups", m.target_groups, bad_groups, "target group code"
        )
    if not r["file_free"]:
        problems.append(
            FieldProblem(
                "file_number",
                f"organisation {owner!r} already has a case with file number {data.file_number!r}",
            )
        )
    if not r["responsible_found"]:
        problems.append(
            FieldProblem(
                "responsible_user_id",
                f"user {data.responsible_user_id!r} works for no organisation owning the case",
            )
        )
    if problems:
        raise ValidationFailed(problems)


# --- writing the details -------------------------------------------------------------------

DETAILS: LiteralString = """
MATCH (c:ReturnCase {id: $id})
SET c += $props, c.updated_at = $now
WITH c
CALL (c) { OPTIONAL MATCH (c)-[d:DESTINATION]->() DELETE d }
CALL (c) { OPTIONAL MATCH (c)-[u:UNDER]->() DELETE u }
CALL (c) { OPTIONAL MATCH (m:HouseholdMember)-[:OF]->(c) DETACH DELETE m }
CALL (c) { MATCH (d:Area {id: $destination}) CREATE (c)-[:DESTINATION]->(d) }
CALL (c) { UNWIND $programmes AS pid MATCH (p:Programme {id: pid}) CREATE (c)-[:UNDER]->(p) }
CALL (c) {
  UNWIND range(0, size($members) - 1) AS i
  CREATE (m:HouseholdMember {ordinal: i})-[:OF]->(c)
  SET m += $members[i]
}
"""

EVENT: LiteralString = """
MATCH (c:ReturnCase {id: $id})
CREATE (e:CaseEvent {id: $event_id})-[:OF]->(c)
SET e += $props,
    e.seq = coalesce(COLLECT { MATCH (x:CaseEvent)-[:OF]->(c) RETURN max(x.seq) }[0], -1) + 1
"""


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def _audited(data: CaseDetails | ReturnCase) -> dict[str, Any]:
    """The details as the audit trail compares them, from an input or a stored case."""
    if isinstance(data, ReturnCase):
        programmes, destination = data.programme_ids, data.destination_id
        needs, groups = data.need_codes, data.target_group_codes
    else:
        programmes, destination = data.programmes, data.destination
        needs, groups = data.needs, data.target_groups
    return {
        "file_number": data.file_number,
        "responsible_user_id": data.responsible_user_id,
        "return_type": data.return_type,
        "sending_country": data.sending_country,
        "programmes": sorted(programmes),
        "destination": destination,
        "planned_arrival": data.planned_arrival,
        "actual_arrival": data.actual_arrival,
        "members": [m.model_dump(mode="json") for m in data.members],
        "languages": data.languages,
        "need_codes": needs,
        "target_group_codes": groups,
        "documents": [d.model_dump(mode="json") for d in data.documents],
        "note": data.note,
    }


def _details(data: CaseDetails, owner: str, cipher: DataCipher) -> dict[str, Any]:
    return {
        "file_number": data.file_number,
        # The owner and the number in one property, so that a constraint holds the number
        # unique per organisation even against two writes at once.
        "file_key": f"{owner}/{data.file_number}" if data.file_number else None,
        "return_type": data.return_type.value,
        "sending_country": data.sending_country,
        "planned_arrival": data.planned_arrival,
        "actual_arrival": data.actual_arrival,
        "languages": data.languages,
        "need_codes": data.needs,
        "target_group_codes": data.target_groups,
        "documents": [f"{d.document.value}:{d.state.value}" for d in data.documents],
        "note_enc": cipher.encrypt(data.note),
    }


async def _write_details(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: CaseDetails,
    props: dict[str, Any],
    now: datetime,
) -> None:
    await tx.run(
        DETAILS,
        id=id,
        props=props,
        now=now,
        destination=data.destination,
        programmes=data.programmes,
        members=[{k: _plain(v) for k, v in m.model_dump().items()} for m in data.members],
    )


async def _event(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    action: str,
    phase: Phase,
    whereabouts: Whereabouts,
    destination: str | None,
    note: str | None,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
) -> None:
    await tx.run(
        EVENT,
        id=id,
        event_id=str(uuid.uuid4()),
        props={
            "at": now,
            "actor": actor.label,
            "action": action,
            "phase": phase.value,
            "whereabouts": whereabouts.value,
            "destination": destination,
            "note_enc": cipher.encrypt(note),
        },
    )


# --- opening -----------------------------------------------------------------------------

OPEN: LiteralString = """
MATCH (owner:Organisation {id: $owner})
CREATE (c:ReturnCase {id: $id})
SET c.reference = $reference, c.version = 1, c.created_at = $now, c.phase = $phase,
    c.whereabouts = $whereabouts, c.opened_by = $actor
CREATE (c)-[:OWNED_BY]->(owner)
"""


def _owner(actor: Actor, requested: str | None) -> str:
    mine = case_owners(actor)
    if requested is not None:
        if requested not in mine:
            raise Forbidden(f"you are neither counsellor nor partner of {requested!r}")
        return requested
    if len(mine) != 1:
        raise ValidationFailed.single(
            "organisation_id",
            "say which of your organisations owns the case"
            if mine
            else "only counsellors and partners open cases",
        )
    return next(iter(mine))


async def open_case(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: OpenCaseInput,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> ReturnCase:
    """Before departure (a counsellor, with a planned arrival not in the past) or after
    arrival (a receiving partner, for a returnee who came to them: the day of arrival is
    known). A retried opening with the same id returns the case."""
    existing = await (await tx.run("MATCH (c:ReturnCase {id: $id}) RETURN c.id", id=id)).single()
    if existing is not None:
        return await get_case(tx, id=id, actor=actor, cipher=cipher, now=now, policy=policy)
    owner = _owner(actor, data.organisation_id)
    if data.actual_arrival is None:
        if owner not in actor.organisations_with(Role.COUNSELLOR):
            raise ValidationFailed.single(
                "actual_arrival",
                "a case opened by a receiving partner starts after arrival: say when",
            )
        if data.planned_arrival is not None and data.planned_arrival < now.date():
            raise ValidationFailed.single(
                "planned_arrival",
                "is in the past; for a household that has arrived, give the actual arrival",
            )
        phase, whereabouts = Phase.PREPARING, Whereabouts.HOST_COUNTRY
    else:
        phase, whereabouts = Phase.ARRIVED, Whereabouts.IN_DESTINATION
    if data.responsible_user_id is None:
        data = data.model_copy(update={"responsible_user_id": actor.user_id})
    await _check(tx, id=id, owner=owner, data=data, now=now)
    await tx.run(
        OPEN,
        id=id,
        owner=owner,
        reference=new_reference(now),
        phase=phase.value,
        whereabouts=whereabouts.value,
        actor=actor.label,
        now=now,
    )
    props = _details(data, owner, cipher) | {"responsible_user_id": data.responsible_user_id}
    await _write_details(tx, id=id, data=data, props=props, now=now)
    await _event(
        tx,
        id=id,
        action="opened",
        phase=phase,
        whereabouts=whereabouts,
        destination=data.destination,
        note=None,
        actor=actor,
        cipher=cipher,
        now=now,
    )
    await announce(
        tx,
        case_id=id,
        action="open",
        event=WebhookEvent.CASE_OPENED,
        changed=changes(
            None,
            {"phase": phase, "whereabouts": whereabouts, "owner": owner} | _audited(data),
        ),
        actor=actor,
        now=now,
    )
    return await get_case(tx, id=id, actor=actor, cipher=cipher, now=now, policy=policy)


# --- changing ------------------------------------------------------------------------------

# Bumping the version first takes the case's write lock: a concurrent change waits, then
# reads what this one left.
LOCK: LiteralString = """
MATCH (c:ReturnCase {id: $id})
SET c.version = c.version + 1
RETURN c.version - 1 AS previous
"""


async def _locked(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    expected_version: int | None,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> ReturnCase:
    locked = await (await tx.run(LOCK, id=id)).single()
    if locked is None:
        raise NotFound("return case", id)
    current = await get_case(tx, id=id, actor=actor, cipher=cipher, now=now, policy=policy)
    if expected_version is not None and locked["previous"] != expected_version:
        raise VersionConflict("return case", id, expected_version, locked["previous"])
    return current


async def update_case(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: CaseDetails,
    expected_version: int | None,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> ReturnCase:
    """Replace the details (the household, documents, counsellor ...) by the owning
    organisation; the responsible counsellor may be handed to a colleague of it."""
    current = await _locked(
        tx,
        id=id,
        expected_version=expected_version,
        actor=actor,
        cipher=cipher,
        now=now,
        policy=policy,
    )
    if current.viewer_side is not CaseSide.OWNER:
        raise Forbidden("only the organisation that owns a case changes its details")
    if data.responsible_user_id is None:
        data = data.model_copy(update={"responsible_user_id": current.responsible_user_id})
    owner = current.owner_organisation_id
    await _check(tx, id=id, owner=owner, data=data, now=now)
    props = _details(data, owner, cipher) | {"responsible_user_id": data.responsible_user_id}
    await _write_details(tx, id=id, data=data, props=props, now=now)
    await _event(
        tx,
        id=id,
        action="updated",
        phase=current.phase,
        whereabouts=current.whereabouts,
        destination=data.destination,
        note=None,
        actor=actor,
        cipher=cipher,
        now=now,
    )
    before, after = _audited(current), _audited(data)
    handed = before.pop("responsible_user_id"), after.pop("responsible_user_id")
    changed = changes(before, after)
    if changed:
        await announce(
            tx,
            case_id=id,
            action="update",
            event=WebhookEvent.CASE_UPDATED,
            changed=changed,
            actor=actor,
            now=now,
        )
    if handed[0] != handed[1]:
        # Handed to a colleague: a change of who answers for the case, told on its own.
        await announce(
            tx,
            case_id=id,
            action="transfer",
            event=WebhookEvent.CASE_TRANSFERRED,
            changed=changes({"responsible_user_id": handed[0]}, {"responsible_user_id": handed[1]}),
            actor=actor,
            now=now,
        )
    return await get_case(tx, id=id, actor=actor, cipher=cipher, now=now, policy=policy)


STATUS: LiteralString = """
MATCH (c:ReturnCase {id: $id})
SET c += $props, c.updated_at = $now
WITH c
CALL (c) {
  MATCH (d:Area {id: $destination})
  OPTIONAL MATCH (c)-[old:DESTINATION]->()
  DELETE old
  CREATE (c)-[:DESTINATION]->(d)
}
"""

AREA_EXISTS: LiteralString = "MATCH (a:Area {id: $id}) RETURN a.id"


async def _change(
    tx: AsyncManagedTransaction,
    *,
    current: ReturnCase,
    phase: Phase | None,
    whereabouts: Whereabouts | None,
    destination: str | None,
    arrived_on: Any,
    action: str,
    note: str | None,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    field: str = "",
) -> dict[str, Any]:
    """Check one change of phase and whereabouts against where the case is, then write it
    with its event, and return what changed as the audit trail records it. Arriving is one
    change seen from either side: saying the household is in the destination while preparing
    makes it arrived, and the reverse."""
    prefix = f"{field}." if field else ""
    new_phase, new_whereabouts = phase or current.phase, whereabouts or current.whereabouts
    if new_phase is not Phase.PREPARING and current.whereabouts is Whereabouts.HOST_COUNTRY:
        new_whereabouts = whereabouts or Whereabouts.IN_DESTINATION
    if new_whereabouts is not Whereabouts.HOST_COUNTRY and new_phase is Phase.PREPARING:
        new_phase = Phase.ARRIVED
    problems: list[FieldProblem] = []
    problem = phase_problem(current.phase, new_phase)
    if problem:
        problems.append(FieldProblem(f"{prefix}phase", problem))
    problem = whereabouts_problem(current.whereabouts, new_whereabouts)
    if problem:
        problems.append(FieldProblem(f"{prefix}whereabouts", problem))
    if new_whereabouts is Whereabouts.MOVED and whereabouts is Whereabouts.MOVED:
        if destination is None:
            problems.append(FieldProblem(f"{prefix}destination", "a move names the new place"))
        elif destination == current.destination_id:
            problems.append(FieldProblem(f"{prefix}destination", "is where the household was"))
    if destination is not None and (
        await (await tx.run(AREA_EXISTS, id=destination)).single() is None
    ):
        problems.append(FieldProblem(f"{prefix}destination", f"unknown area {destination!r}"))
    props: dict[str, Any] = {"phase": new_phase.value, "whereabouts": new_whereabouts.value}
    if current.phase is Phase.PREPARING and new_phase is not Phase.PREPARING:
        arrival = arrived_on or now.date()
        if arrival > now.date():
            problems.append(FieldProblem(f"{prefix}arrived_on", "cannot be in the future"))
        props["actual_arrival"] = current.actual_arrival or arrival
    if new_phase is Phase.CLOSED and current.phase is not Phase.CLOSED:
        # From here the retention period runs (graph/cases/retention.py).
        props["closed_at"] = now
    if problems:
        raise ValidationFailed(problems)
    await tx.run(STATUS, id=current.id, props=props, now=now, destination=destination)
    await _event(
        tx,
        id=current.id,
        action=action,
        phase=new_phase,
        whereabouts=new_whereabouts,
        destination=destination,
        note=note,
        actor=actor,
        cipher=cipher,
        now=now,
    )
    return props | ({"destination": destination} if destination is not None else {})


def _was(current: ReturnCase, after: dict[str, Any]) -> dict[str, Any]:
    stored = {
        "phase": current.phase.value,
        "whereabouts": current.whereabouts.value,
        "actual_arrival": current.actual_arrival,
        "destination": current.destination_id,
    }
    return {k: stored.get(k) for k in after}


async def record_status(
    tx: AsyncManagedTransaction,
    *,
    data: StatusInput,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> ReturnCase:
    """A new phase (by the owner) or whereabouts (also by an organisation working with the
    household on a referral of the case: they are often the ones who know)."""
    if data.phase is None and data.whereabouts is None:
        raise ValidationFailed.single("phase", "say the new phase, whereabouts or both")
    current = await _locked(
        tx,
        id=data.case_id,
        expected_version=data.expected_version,
        actor=actor,
        cipher=cipher,
        now=now,
        policy=policy,
    )
    if data.phase is not None and current.viewer_side is not CaseSide.OWNER:
        raise Forbidden("only the organisation that owns a case moves it to another phase")
    after = await _change(
        tx,
        current=current,
        phase=data.phase,
        whereabouts=data.whereabouts,
        destination=data.destination,
        arrived_on=data.arrived_on,
        action="status",
        note=data.note,
        actor=actor,
        cipher=cipher,
        now=now,
    )
    closing = after["phase"] == Phase.CLOSED.value and current.phase is not Phase.CLOSED
    await announce(
        tx,
        case_id=data.case_id,
        action="close" if closing else "status",
        event=WebhookEvent.CASE_CLOSED if closing else WebhookEvent.CASE_STATUS_CHANGED,
        changed=changes(_was(current, after), after),
        actor=actor,
        now=now,
        previous_phase=current.phase.value,
    )
    return await get_case(tx, id=data.case_id, actor=actor, cipher=cipher, now=now, policy=policy)


FOLLOW_UP: LiteralString = """
MATCH (c:ReturnCase {id: $case})
CREATE (f:CaseFollowUp {id: $id})-[:OF]->(c)
SET f += $props
"""


async def record_case_follow_up(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    data: CaseFollowUpInput,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> ReturnCase:
    """A visit after arrival, never dated before it; where the household was found becomes
    the case's whereabouts (a change checked like any other)."""
    current = await _locked(
        tx,
        id=data.case_id,
        expected_version=None,
        actor=actor,
        cipher=cipher,
        now=now,
        policy=policy,
    )
    if current.arrival is None or current.phase is Phase.PREPARING:
        raise ValidationFailed.single("visited_on", "the household has not arrived yet")
    if data.visited_on < current.arrival:
        raise ValidationFailed.single(
            "visited_on", f"is before the arrival on {current.arrival.isoformat()}"
        )
    if data.visited_on > now.date():
        raise ValidationFailed.single("visited_on", "cannot be in the future")
    moved: dict[str, Any] = {}
    if data.whereabouts is not current.whereabouts:
        moved = await _change(
            tx,
            current=current,
            phase=None,
            whereabouts=data.whereabouts,
            destination=None,
            arrived_on=None,
            action="visit",
            note=None,
            actor=actor,
            cipher=cipher,
            now=now,
        )
    props = {k: _plain(v) for k, v in data.model_dump(exclude={"case_id", "note"}).items()} | {
        "note_enc": cipher.encrypt(data.note),
        "recorded_at": now,
        "recorded_by": actor.label,
        "recorded_by_organisation": current.viewer_organisation_id,
    }
    await tx.run(FOLLOW_UP, case=data.case_id, id=id, props=props)
    visit = {
        "follow_up_id": id,
        "months_after_arrival": data.months_after_arrival,
        "visited_on": data.visited_on,
    }
    await announce(
        tx,
        case_id=data.case_id,
        action="follow_up",
        event=WebhookEvent.CASE_FOLLOW_UP_RECORDED,
        changed=changes(_was(current, moved), visit | moved),
        actor=actor,
        now=now,
        previous_phase=current.phase.value,
    )
    return await get_case(tx, id=data.case_id, actor=actor, cipher=cipher, now=now, policy=policy)
