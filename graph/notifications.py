"""In-app notices: what a person should look at next, kept per user until read.

A notice is written in the transaction of the change it tells of (graph/referrals/announce.py
and the follow-up visit), so there is never a notice of a change that was rolled back. Like a
webhook payload it names the referral by id and reference with its status and nothing else:
whoever opens it reads the referral with their own rights.

Who is told: of a newly sent referral, the partners of the receiving organisation; of
everything after it, the counsellor in charge of the referral's return case (or, when nobody
is, the counsellor who made the referral, and failing that every counsellor of the sending
organisation). Nobody is told of what they did themselves.

Each notice is also mailed: at once, beside the notice and in its transaction, to whoever
chose immediate mail (the default), or in the day's digest (graph/mail/).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.errors import ValidationFailed
from graph.pagination import Page, decode_cursor, paginate
from graph.temporal import native


class NotificationKind(StrEnum):
    REFERRAL_RECEIVED = "referral_received"
    STATUS_CHANGED = "status_changed"
    ANSWER_OVERDUE = "answer_overdue"
    VISIT_RECORDED = "visit_recorded"
    # A monitoring visit after arrival fell due and is not recorded (graph/referrals/followup.py).
    FOLLOW_UP_DUE = "follow_up_due"


# The receiving side hears of a new referral; the sending side of everything after it.
TO_RECEIVER = frozenset({NotificationKind.REFERRAL_RECEIVED})


class Notification(BaseModel):
    id: str
    kind: NotificationKind
    referral_id: str
    reference: str
    status: str | None
    previous_status: str | None
    created_at: datetime
    read_at: datetime | None


# The receiving organisation's partners, or the sending side's counsellor as the module
# docstring says; active accounts only, never the person who acted.
RECIPIENTS: LiteralString = """
MATCH (r:Referral {id: $referral})-[:FROM]->(sender:Organisation)
MATCH (r)-[:TO]->(:Service)<-[:PROVIDES]-(receiver:Organisation)
WITH r, sender, receiver,
     COLLECT { MATCH (r)-[:IN_CASE]->(c:ReturnCase) RETURN c.responsible_user_id }[0]
       AS responsible
WITH r, CASE WHEN $to_receiver
  THEN COLLECT { MATCH (u:User)-[m:MEMBER_OF]->(receiver)
                 WHERE m.role = 'partner' RETURN u }
  ELSE COLLECT { MATCH (u:User)-[m:MEMBER_OF]->(sender)
                 WHERE m.role = 'counsellor' RETURN u }
  END AS people, responsible
WITH r, people,
     [u IN people WHERE u.id = responsible] AS in_charge,
     [u IN people WHERE u.id = r.created_by] AS maker
WITH r, CASE WHEN $to_receiver THEN people
             WHEN size(in_charge) > 0 THEN in_charge
             WHEN size(maker) > 0 THEN maker
             ELSE people END AS told
UNWIND told AS u
WITH r, u WHERE NOT coalesce(u.disabled, false) AND u.id <> $actor
CREATE (n:Notification {id: randomUUID(), kind: $kind, referral_id: r.id,
                        reference: r.reference, status: $status,
                        previous_status: $previous_status, created_at: $at})-[:FOR]->(u)
WITH n, u
CALL (n, u) {
  WITH n, u WHERE coalesce(u.mail_frequency, 'immediate') = 'immediate'
  CREATE (m:Mail {id: randomUUID(), kind: 'notice', state: 'pending', attempts: 0,
                  created_at: $at, next_attempt_at: $at})-[:TO]->(u)
  CREATE (m)-[:CARRIES]->(n)
}
RETURN count(n) AS created
"""


async def notify(
    tx: AsyncManagedTransaction,
    *,
    kind: NotificationKind,
    referral_id: str,
    actor_id: str,
    at: datetime,
    status: str | None = None,
    previous_status: str | None = None,
) -> int:
    """Tell the people of the referral's other side, in the caller's transaction; returns
    how many notices were written."""
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    result = await tx.run(
        RECIPIENTS,
        referral=referral_id,
        to_receiver=kind in TO_RECEIVER,
        kind=kind.value,
        status=status,
        previous_status=previous_status,
        actor=actor_id,
        at=at,
    )
    return int((await result.single(strict=True))["created"])


LIST: LiteralString = """
MATCH (:User {id: $user})<-[:FOR]-(n:Notification)
WHERE (NOT $unread_only OR n.read_at IS NULL)
  AND ($after_at IS NULL OR n.created_at < $after_at
       OR (n.created_at = $after_at AND n.id < $after_id))
WITH n ORDER BY n.created_at DESC, n.id DESC LIMIT $limit
RETURN n
"""


def _notification(record: Any) -> Notification:
    props = dict(record["n"])
    return Notification(
        id=props["id"],
        kind=NotificationKind(props["kind"]),
        referral_id=props["referral_id"],
        reference=props["reference"],
        status=props.get("status"),
        previous_status=props.get("previous_status"),
        created_at=native(props["created_at"]),
        read_at=native(props.get("read_at")),
    )


async def list_notifications(
    tx: AsyncManagedTransaction,
    *,
    user_id: str,
    unread_only: bool,
    first: int,
    after: str | None,
) -> Page[Notification]:
    """A person's notices, newest first."""
    after_at, after_id = decode_cursor(after)
    try:
        after_created = datetime.fromisoformat(after_at) if after_at else None
    except ValueError as exc:
        raise ValidationFailed.single("after", "not a cursor returned by this API") from exc
    result = await tx.run(
        LIST,
        user=user_id,
        unread_only=unread_only,
        after_at=after_created,
        after_id=after_id,
        limit=first + 1,
    )
    found = [_notification(r) async for r in result]
    return paginate([(n.created_at.isoformat(), n.id, n) for n in found], first)


UNREAD: LiteralString = """
RETURN COUNT { MATCH (:User {id: $user})<-[:FOR]-(n:Notification) WHERE n.read_at IS NULL }
  AS unread
"""


async def unread_count(tx: AsyncManagedTransaction, *, user_id: str) -> int:
    """The number beside "Notices" in the navigation."""
    return int((await (await tx.run(UNREAD, user=user_id)).single(strict=True))["unread"])


# Only the person's own notices: an id of someone else's is simply not found.
MARK_READ: LiteralString = """
MATCH (:User {id: $user})<-[:FOR]-(n:Notification)
WHERE n.read_at IS NULL AND ($ids IS NULL OR n.id IN $ids)
SET n.read_at = $at
RETURN count(n) AS marked
"""


async def mark_read(
    tx: AsyncManagedTransaction, *, user_id: str, ids: list[str] | None, at: datetime
) -> int:
    """Mark the named notices (all unread ones when `ids` is None) as read; marking one
    again changes nothing. Returns how many became read now."""
    result = await tx.run(MARK_READ, user=user_id, ids=ids, at=at)
    return int((await result.single(strict=True))["marked"])
