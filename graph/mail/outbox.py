"""The mail outbox: a mail is queued in the transaction of what it tells of (a notice, a
password link), so it exists exactly when that was committed, and waits in Neo4j until the
mail server takes it; nothing is lost while the server is down.

A mail stores no words: it points at its recipient and at the notices it carries, and is
written in the recipient's language when it is sent (`api.mail_delivery`). So it says what a
notice says, a referral's reference and status, and nothing else. A password link is the one
secret a mail carries: it is stored encrypted, and erased once the mail is sent or given up.

Claiming and recording follow the webhook deliveries (`graph.webhooks.deliveries`): the same
states, lease and outcomes, and the same lock-then-check that keeps two senders from sending
one mail at once. Delivery is at least once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from graph.notifications import NotificationKind
from graph.temporal import native
from graph.webhooks import LEASE, DeliveryOutcome, HeldDelivery


class MailKind(StrEnum):
    # One notice, as it is written (the recipient chose immediate mail).
    NOTICE = "notice"
    # The notices of a day, in one mail (the recipient chose the digest).
    DIGEST = "digest"
    # A one-time link to set a password (graph/passwords.py), asked for on the sign-in page.
    PASSWORD_LINK = "password_link"  # noqa: S105 - a kind of mail, not a password
    # The same link, sent by an admin to a person given an account: an invitation.
    INVITATION = "invitation"


# The mails that carry a password link.
LINK_MAILS = frozenset({MailKind.PASSWORD_LINK, MailKind.INVITATION})


QUEUE_LINK: LiteralString = """
MATCH (u:User {id: $user})
CREATE (m:Mail {id: randomUUID(), kind: $kind, state: 'pending', attempts: 0,
                secret_enc: $secret_enc, created_at: $at, next_attempt_at: $at})-[:TO]->(u)
RETURN m.id AS id
"""


async def queue_password_mail(
    tx: AsyncManagedTransaction,
    *,
    user_id: str,
    link_enc: str,
    at: datetime,
    kind: MailKind = MailKind.PASSWORD_LINK,
) -> str | None:
    """Queue the mail of a password link (`kind` one of LINK_MAILS), `link_enc` being the
    link encrypted with the data keys; returns the mail's id (None for no such user)."""
    if kind not in LINK_MAILS:
        raise ValueError(f"a {kind.value} mail carries no password link")
    record = await (
        await tx.run(QUEUE_LINK, user=user_id, secret_enc=link_enc, at=at, kind=kind.value)
    ).single()
    return str(record["id"]) if record is not None else None


# --- the daily digest ----------------------------------------------------------------------


def digest_slot(now: datetime, hour: int) -> datetime:
    """The latest digest time at or before `now`: today's `hour` (UTC), else yesterday's."""
    slot = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    return slot if slot <= now else slot - timedelta(days=1)


# As in the webhook claim: the first statement takes the users' write locks, the second
# checks again under them, so two processes never send one person the same digest.
LOCK_DIGESTS: LiteralString = """
MATCH (u:User {mail_frequency: 'digest'})
WHERE NOT coalesce(u.disabled, false) AND (u.digest_until IS NULL OR u.digest_until < $slot)
SET u.digest_locked_at = $now
RETURN u.id AS id
"""

QUEUE_DIGESTS: LiteralString = """
UNWIND $ids AS id
MATCH (u:User {id: id, mail_frequency: 'digest'})
WHERE u.digest_until IS NULL OR u.digest_until < $slot
WITH u, coalesce(u.digest_until, $slot - duration({days: 1})) AS since
SET u.digest_until = $now
WITH u, COLLECT { MATCH (u)<-[:FOR]-(n:Notification)
                  WHERE n.created_at > since AND n.created_at <= $now RETURN n } AS notices
WHERE size(notices) > 0
CREATE (m:Mail {id: randomUUID(), kind: 'digest', state: 'pending', attempts: 0,
                created_at: $now, next_attempt_at: $now})-[:TO]->(u)
FOREACH (n IN notices | CREATE (m)-[:CARRIES]->(n))
RETURN count(m) AS queued
"""


async def queue_digests(tx: AsyncManagedTransaction, *, now: datetime, hour: int) -> int:
    """Queue today's digest of every person who chose it and has not had it yet: one mail
    listing their notices since the last one. Returns how many were queued."""
    if now.tzinfo is None:
        raise ValueError("`now` must be timezone-aware")
    slot = digest_slot(now, hour)
    ids = [r["id"] async for r in await tx.run(LOCK_DIGESTS, slot=slot, now=now)]
    if not ids:
        return 0
    result = await tx.run(QUEUE_DIGESTS, ids=ids, slot=slot, now=now)
    return int((await result.single(strict=True))["queued"])


# --- claiming and recording ----------------------------------------------------------------

DUE: LiteralString = """
(m.state = 'pending' AND m.next_attempt_at <= $now)
OR (m.state = 'sending' AND m.lease_until <= $now)
"""

LOCK_DUE: LiteralString = (
    "MATCH (m:Mail) WHERE "
    + DUE
    + """
WITH m ORDER BY m.next_attempt_at, m.created_at, m.id LIMIT $limit
SET m.locked_at = $now
RETURN m.id AS id
"""
)

CLAIM: LiteralString = (
    """
UNWIND $ids AS id
MATCH (m:Mail {id: id})
WHERE """
    + DUE
    + """
SET m.state = 'sending', m.lease_until = $lease_until, m.claim = $claim
WITH m
OPTIONAL MATCH (m)-[:TO]->(u:User)
RETURN m, u.email AS email, u.language AS language,
       u IS NULL OR coalesce(u.disabled, false) AS gone,
       COLLECT { MATCH (m)-[:CARRIES]->(n:Notification)
                 RETURN n {.kind, .referral_id, .reference, .status, .previous_status,
                           .created_at}
                 ORDER BY n.created_at, n.id } AS notices
"""
)

LOCK: LiteralString = """
UNWIND $ids AS id
MATCH (m:Mail {id: id})
SET m.locked_at = $now
"""

# Only the holder of the claim records; a sent or abandoned mail forgets its secret.
RECORD: LiteralString = """
UNWIND $rows AS row
MATCH (m:Mail {id: row.id})
WHERE m.state = 'sending' AND m.claim = $claim
SET m.state = row.state, m.attempts = row.attempts, m.next_attempt_at = row.next_attempt_at,
    m.last_attempt_at = row.last_attempt_at, m.delivered_at = row.delivered_at,
    m.last_error = row.error, m.lease_until = null, m.claim = null
FOREACH (_ IN CASE WHEN row.state = 'pending' THEN [] ELSE [1] END | REMOVE m.secret_enc)
RETURN count(m) AS recorded
"""


class MailNotice(BaseModel):
    """What a mail says of one notice: as much as the notice itself, no more."""

    kind: NotificationKind
    referral_id: str
    reference: str
    status: str | None
    previous_status: str | None
    created_at: datetime


class ClaimedMail(BaseModel):
    id: str
    kind: MailKind
    # None when the account was deleted or disabled while the mail waited.
    email: str | None
    language: str | None
    notices: list[MailNotice]
    # The password link, encrypted.
    secret_enc: str | None
    created_at: datetime
    attempts: int


async def claim_due(
    tx: AsyncManagedTransaction, *, now: datetime, limit: int, claim: str
) -> list[ClaimedMail]:
    """Take up to `limit` due mails for the sender `claim` until the lease ends."""
    ids = [r["id"] async for r in await tx.run(LOCK_DUE, now=now, limit=limit)]
    if not ids:
        return []
    result = await tx.run(CLAIM, ids=ids, now=now, lease_until=now + LEASE, claim=claim)
    claimed: list[ClaimedMail] = []
    async for r in result:
        props = dict(r["m"])
        claimed.append(
            ClaimedMail(
                id=props["id"],
                kind=MailKind(props["kind"]),
                email=None if r["gone"] else r["email"],
                language=r["language"],
                notices=[
                    MailNotice(
                        kind=NotificationKind(n["kind"]),
                        referral_id=n["referral_id"],
                        reference=n["reference"],
                        status=n["status"],
                        previous_status=n["previous_status"],
                        created_at=native(n["created_at"]),
                    )
                    for n in r["notices"]
                ],
                secret_enc=props.get("secret_enc"),
                created_at=native(props["created_at"]),
                attempts=props["attempts"],
            )
        )
    return claimed


RELEASE: LiteralString = """
UNWIND $rows AS row
MATCH (m:Mail {id: row.id})
WHERE m.state = 'sending' AND m.claim = $claim
SET m.state = 'pending', m.next_attempt_at = row.next_attempt_at,
    m.lease_until = null, m.claim = null
"""


async def record_outcomes(
    tx: AsyncManagedTransaction,
    *,
    outcomes: list[DeliveryOutcome],
    held: list[HeldDelivery],
    claim: str,
    now: datetime,
) -> int:
    """Write what the attempts of claim `claim` did, and hand `held` back unattempted;
    returns how many outcomes were recorded."""
    ids = [o.id for o in outcomes] + [h.id for h in held]
    await tx.run(LOCK, ids=sorted(ids), now=now)
    rows = [o.model_dump() | {"state": o.state.value} for o in outcomes]
    result = await tx.run(RECORD, rows=rows, claim=claim)
    record = await result.single(strict=True)
    if held:
        await tx.run(RELEASE, rows=[h.model_dump() for h in held], claim=claim)
    return int(record["recorded"])


# Sent and abandoned mails are kept a while for whoever asks what became of a notice.
PURGE: LiteralString = """
MATCH (m:Mail) WHERE m.state IN ['delivered', 'failed', 'cancelled'] AND m.created_at < $before
WITH m LIMIT 10000
DETACH DELETE m
RETURN count(*) AS purged
"""


async def purge_mails(tx: AsyncManagedTransaction, *, before: datetime) -> int:
    """Forget mails that were dealt with (sent, given up) and created before `before`."""
    return int((await (await tx.run(PURGE, before=before)).single(strict=True))["purged"])


class MailState(BaseModel):
    """A mail as the outbox keeps it, for operators and tests."""

    id: str
    kind: MailKind
    recipient_id: str | None
    state: str
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


LIST: LiteralString = """
MATCH (m:Mail)
OPTIONAL MATCH (m)-[:TO]->(u:User)
RETURN m, u.id AS recipient ORDER BY m.created_at, m.id
"""


async def list_mails(tx: AsyncManagedTransaction) -> list[MailState]:
    """Every mail in the outbox, oldest first."""
    return [
        MailState(
            id=props["id"],
            kind=MailKind(props["kind"]),
            recipient_id=r["recipient"],
            state=props["state"],
            attempts=props["attempts"],
            last_error=props.get("last_error"),
            created_at=native(props["created_at"]),
            delivered_at=native(props.get("delivered_at")),
        )
        async for r in await tx.run(LIST)
        for props in [dict(r["m"])]
    ]
