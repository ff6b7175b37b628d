"""What each viewer may see of a return case: the owning organisation all of it, an
organisation a referral of the case is addressed to only the categories a valid consent
gives it, anybody else nothing (not even that the case exists).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.crypto import DataCipher
from core.errors import NotFound
from graph.access import RETURN_NOTICES, notices_from
from graph.cases.models import (
    CaseEvent,
    CaseFollowUp,
    CaseSide,
    DocumentCheck,
    Member,
    Phase,
    ReturnCase,
    Whereabouts,
)
from graph.pagination import Page, newest_first
from graph.referrals import (
    Access,
    DataCategory,
    Employment,
    Housing,
    Intention,
    Policy,
    Schooling,
)
from graph.referrals.reads import add_months, consent_from
from graph.services import ReturnType
from graph.temporal import native
from graph.users import Actor, Role

# Phases in which monitoring visits are due.
VISITED = frozenset({Phase.ARRIVED, Phase.REINTEGRATING, Phase.MONITORING})

RETURN_CASE: LiteralString = (
    """
RETURN c,
  COLLECT { MATCH (c)-[:OWNED_BY]->(o:Organisation) RETURN o.id }[0] AS owner,
  COLLECT { MATCH (r:Referral)-[:IN_CASE]->(c) WHERE r.status <> 'draft'
            MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(o:Organisation) RETURN DISTINCT o.id }
    AS receivers,
  COLLECT { MATCH (r:Referral)-[:IN_CASE]->(c)
            MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(o:Organisation)
            RETURN {id: r.id, receiver: o.id, draft: r.status = 'draft'}
            ORDER BY r.created_at, r.id } AS referrals,
  COLLECT { MATCH (c)-[:DESTINATION]->(a:Area) RETURN a.id }[0] AS destination,
  COLLECT { MATCH (c)-[:UNDER]->(p:Programme) RETURN p.id ORDER BY p.id } AS programmes,
  COLLECT { MATCH (m:HouseholdMember)-[:OF]->(c) RETURN m ORDER BY m.ordinal } AS members,
  COLLECT { MATCH (e:CaseEvent)-[:OF]->(c) RETURN e ORDER BY e.seq } AS events,
  COLLECT { MATCH (f:CaseFollowUp)-[:OF]->(c) RETURN f ORDER BY f.visited_on, f.recorded_at }
    AS follow_ups,
  COLLECT { MATCH (k:Consent {case_reference: c.reference})
            RETURN {k: k, recipients: COLLECT { MATCH (k)-[:GIVEN_TO]->(o:Organisation)
                                                RETURN o.id ORDER BY o.id }}
            ORDER BY k.recorded_at } AS consents,
  """
    + RETURN_NOTICES.replace("(r)", "(c)")
    + """ AS access_notices
"""
)


def _opt(enum: type[Any], value: Any) -> Any:
    return enum(value) if value is not None else None


def case_owners(actor: Actor) -> set[str]:
    """Organisations whose cases the actor works on: counsellors before departure, partners
    for the walk-ins they opened after arrival."""
    return actor.organisations_with(Role.COUNSELLOR, Role.PARTNER)


def case_side(actor: Actor, *, owner: str, receivers: list[str]) -> CaseSide | None:
    if owner in case_owners(actor):
        return CaseSide.OWNER
    if set(receivers) & actor.organisations_with(Role.PARTNER):
        return CaseSide.RECEIVER
    return None


def _document(text: str) -> DocumentCheck:
    # Stored as "document:state": a property holds no maps.
    document, state = text.split(":", 1)
    return DocumentCheck.model_validate({"document": document, "state": state})


def view(
    record: Any, *, actor: Actor, cipher: DataCipher, now: datetime, policy: Policy
) -> ReturnCase | None:
    props = dict(record["c"])
    owner = record["owner"]
    side = case_side(actor, owner=owner, receivers=record["receivers"])
    if side is None:
        return None
    consents = [
        consent_from(dict(c["k"]), (c["recipients"] or [owner])[0], cipher, list(c["recipients"]))
        for c in record["consents"]
    ]
    mine = actor.organisations_with(Role.PARTNER)
    if side is CaseSide.OWNER:
        readable = set(DataCategory)
        referral_ids = [r["id"] for r in record["referrals"]]
        viewer_organisation = owner
    else:
        viewer_organisation = sorted(set(record["receivers"]) & mine)[0]
        readable = {
            category
            for c in consents
            if c.valid_at(now) and set(c.recipient_organisation_ids) & mine
            for category in c.categories
        }
        # A receiver learns of its own referrals of the case only.
        referral_ids = [
            r["id"] for r in record["referrals"] if r["receiver"] in mine and not r["draft"]
        ]

    def secret(category: DataCategory, token: str | None) -> str | None:
        return cipher.decrypt(token) if category in readable else None

    household, needs = DataCategory.HOUSEHOLD in readable, DataCategory.NEEDS in readable
    members = (
        [
            Member(
                role=m["role"],
                age=m["age"],
                needs=list(m.get("needs") or []) if needs else [],
                target_groups=list(m.get("target_groups") or []),
            )
            for m in (dict(node) for node in record["members"])
        ]
        if household
        else []
    )
    follow_up_rows = [dict(f) for f in record["follow_ups"]]
    phase = Phase(props["phase"])
    planned, actual = native(props.get("planned_arrival")), native(props.get("actual_arrival"))
    arrival = actual or planned
    recorded = {f["months_after_arrival"] for f in follow_up_rows}
    return ReturnCase(
        id=props["id"],
        reference=props["reference"],
        file_number=props.get("file_number") if side is CaseSide.OWNER else None,
        viewer_side=side,
        viewer_organisation_id=viewer_organisation,
        owner_organisation_id=owner,
        responsible_user_id=props.get("responsible_user_id") if side is CaseSide.OWNER else None,
        return_type=ReturnType(props["return_type"]),
        sending_country=props.get("sending_country"),
        programme_ids=list(record["programmes"]),
        destination_id=record["destination"],
        planned_arrival=planned,
        actual_arrival=actual,
        phase=phase,
        whereabouts=Whereabouts(props["whereabouts"]),
        members=members,
        languages=list(props.get("languages") or []) if household else [],
        need_codes=list(props.get("need_codes") or []) if needs else [],
        target_group_codes=list(props.get("target_group_codes") or []) if household else [],
        documents=[_document(d) for d in props.get("documents") or []]
        if DataCategory.DOCUMENTS in readable
        else [],
        note=secret(DataCategory.NOTES, props.get("note_enc")),
        withheld_categories=sorted(set(DataCategory) - readable),
        referral_ids=referral_ids,
        consents=consents if side is CaseSide.OWNER else [c for c in consents if c.valid_at(now)],
        events=[
            CaseEvent(
                at=native(e["at"]),
                actor=e["actor"],
                action=e["action"],
                phase=Phase(e["phase"]),
                whereabouts=Whereabouts(e["whereabouts"]),
                destination_id=e.get("destination"),
                note=secret(DataCategory.NOTES, e.get("note_enc")),
            )
            for e in (dict(node) for node in record["events"])
        ],
        follow_ups=[
            CaseFollowUp(
                id=f["id"],
                months_after_arrival=f["months_after_arrival"],
                visited_on=native(f["visited_on"]),
                whereabouts=Whereabouts(f["whereabouts"]),
                employment=_opt(Employment, f.get("employment")),
                schooling=_opt(Schooling, f.get("schooling")),
                health_care_access=_opt(Access, f.get("health_care_access")),
                housing=_opt(Housing, f.get("housing")),
                feels_safe=_opt(Access, f.get("feels_safe")),
                intends_to_leave=_opt(Intention, f.get("intends_to_leave")),
                economic=f.get("economic"),
                social=f.get("social"),
                psychosocial=f.get("psychosocial"),
                note=secret(DataCategory.NOTES, f.get("note_enc")),
                recorded_at=native(f["recorded_at"]),
                recorded_by=f["recorded_by"],
                recorded_by_organisation_id=f["recorded_by_organisation"],
            )
            for f in follow_up_rows
        ],
        access_notices=notices_from(record["access_notices"]),
        follow_ups_due=[
            m
            for m in policy.follow_up_months
            if phase in VISITED
            and arrival is not None
            and m not in recorded
            and add_months(arrival, m) <= now.date()
        ],
        created_at=native(props["created_at"]),
        updated_at=native(props["updated_at"]),
        purged_at=native(props.get("purged_at")),
        version=props["version"],
    )


BY_ID: LiteralString = "MATCH (c:ReturnCase {id: $id}) " + RETURN_CASE


async def get_case(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> ReturnCase:
    """NotFound both when it does not exist and when the actor may not see it."""
    record = await (await tx.run(BY_ID, id=id)).single()
    found = view(record, actor=actor, cipher=cipher, now=now, policy=policy) if record else None
    if found is None:
        raise NotFound("return case", id)
    return found


BY_IDS: LiteralString = "MATCH (c:ReturnCase) WHERE c.id IN $ids " + RETURN_CASE


async def cases_by_ids(
    tx: AsyncManagedTransaction,
    *,
    ids: list[str],
    actor: Actor,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> dict[str, ReturnCase]:
    """The cases among `ids` that the actor may see (for the cases of a page of referrals,
    in one round trip)."""
    found: dict[str, ReturnCase] = {}
    async for record in await tx.run(BY_IDS, ids=ids):
        seen = view(record, actor=actor, cipher=cipher, now=now, policy=policy)
        if seen is not None:
            found[seen.id] = seen
    return found


class CaseFilter(BaseModel):
    phase: list[Phase] = []
    whereabouts: list[Whereabouts] = []
    follow_ups_due: bool | None = None
    overdue_referrals: bool | None = None
    file_number: str | None = None


# Newest first: the cases the actor's organisations own, and those with a referral (sent)
# to an organisation the actor is a partner of.
LIST: LiteralString = (
    """
CALL () {
  MATCH (o:Organisation)<-[:OWNED_BY]-(c:ReturnCase)
  WHERE o.id IN $owners
  RETURN c
  UNION
  MATCH (o:Organisation)-[:PROVIDES]->(:Service)<-[:TO]-(r:Referral)-[:IN_CASE]->(c:ReturnCase)
  WHERE o.id IN $receivers AND r.status <> 'draft'
  RETURN c
}
WITH c
WHERE (size($phases) = 0 OR c.phase IN $phases)
  AND (size($whereabouts) = 0 OR c.whereabouts IN $whereabouts)
  AND ($file IS NULL OR (c.file_number = $file
                          AND EXISTS { MATCH (c)-[:OWNED_BY]->(o) WHERE o.id IN $owners }))
  AND ($overdue IS NULL OR $overdue = EXISTS {
        MATCH (r:Referral {status: 'sent'})-[:IN_CASE]->(c) WHERE r.response_due_at < $now })
  AND ($due IS NULL OR $due = (
        c.phase IN ['arrived', 'reintegrating', 'monitoring']
        AND coalesce(c.actual_arrival, c.planned_arrival) IS NOT NULL
        AND any(m IN $schedule
                WHERE coalesce(c.actual_arrival, c.planned_arrival) + duration({months: m})
                      <= date($now)
                AND NOT EXISTS { MATCH (:CaseFollowUp {months_after_arrival: m})-[:OF]->(c) })))
  AND ($after_at IS NULL OR c.created_at < $after_at
       OR (c.created_at = $after_at AND c.id < $after_id))
WITH c ORDER BY c.created_at DESC, c.id DESC
"""
    + RETURN_CASE
)


async def list_cases(
    tx: AsyncManagedTransaction,
    *,
    actor: Actor,
    filter: CaseFilter,
    first: int,
    after: tuple[datetime, str] | None,
    cipher: DataCipher,
    now: datetime,
    policy: Policy,
) -> Page[ReturnCase]:
    return await newest_first(
        tx,
        LIST,
        first=first,
        after=after,
        see=lambda record: view(record, actor=actor, cipher=cipher, now=now, policy=policy),
        owners=sorted(case_owners(actor)),
        receivers=sorted(actor.organisations_with(Role.PARTNER)),
        phases=[p.value for p in filter.phase],
        whereabouts=[w.value for w in filter.whereabouts],
        file=filter.file_number,
        overdue=filter.overdue_referrals,
        due=filter.follow_ups_due,
        schedule=list(policy.follow_up_months),
        now=now,
    )
