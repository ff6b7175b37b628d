"""Passwords of accounts for the web sign-in, the lockout after repeated failures, and the
one-time links with which a person sets (or resets) their password.

Only the argon2id hash of a password is stored (core/passwords.py), on the user. A link is
`hwp_<id>_<secret>`: like an API token, 256 random bits of which only a SHA-256 hash is kept;
it works once and until it expires. Setting a password ends the person's web sessions, so a
reset locks out whoever knew the old one.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.errors import NotFound
from graph.users import RETURN_USER, User, hash_secret, secret_matches, user_of_record

LINK_PREFIX = "hwp"
LINK_LIFETIME = timedelta(hours=72)
# Consecutive failed sign-ins that lock an account, and for how long.
FAILURES_BEFORE_LOCK = 5
LOCK_DURATION = timedelta(minutes=15)


class PasswordAccount(BaseModel):
    """What the sign-in needs to know of an account."""

    user: User
    password_hash: str | None
    failed_sign_ins: int
    locked_until: datetime | None

    def locked_at(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


def _native(value: Any) -> datetime | None:
    return value.to_native() if value is not None else None


ACCOUNT: LiteralString = "MATCH (u:User {email: $email}) " + RETURN_USER


async def password_account(tx: AsyncManagedTransaction, *, email: str) -> PasswordAccount | None:
    record = await (await tx.run(ACCOUNT, email=email.strip().lower())).single()
    if record is None:
        return None
    props = dict(record["u"])
    return PasswordAccount(
        user=user_of_record(record),
        password_hash=props.get("password_hash"),
        failed_sign_ins=int(props.get("failed_sign_ins") or 0),
        locked_until=_native(props.get("locked_until")),
    )


FAILED: LiteralString = """
MATCH (u:User {id: $id})
SET u.failed_sign_ins = coalesce(u.failed_sign_ins, 0) + 1
WITH u, u.failed_sign_ins >= $limit AS lock
SET u.locked_until = CASE WHEN lock THEN $locked_until ELSE u.locked_until END,
    u.failed_sign_ins = CASE WHEN lock THEN 0 ELSE u.failed_sign_ins END
RETURN u.locked_until AS locked_until
"""


async def record_failed_sign_in(
    tx: AsyncManagedTransaction, *, user_id: str, now: datetime
) -> datetime | None:
    """Count a wrong password; returns until when the account is locked, if it now is."""
    record = await (
        await tx.run(
            FAILED, id=user_id, limit=FAILURES_BEFORE_LOCK, locked_until=now + LOCK_DURATION
        )
    ).single()
    return _native(record["locked_until"]) if record is not None else None


SUCCEEDED: LiteralString = """
MATCH (u:User {id: $id})
SET u.failed_sign_ins = 0, u.locked_until = null,
    u.password_hash = coalesce($rehash, u.password_hash), u.last_sign_in_at = $now
"""


async def record_sign_in(
    tx: AsyncManagedTransaction, *, user_id: str, now: datetime, rehash: str | None
) -> None:
    """A good password: the failures are forgiven; `rehash` replaces a hash made under older
    parameters."""
    await tx.run(SUCCEEDED, id=user_id, now=now, rehash=rehash)


NEW_HASH: LiteralString = """
MATCH (u:User {id: $id})
SET u.password_hash = $hash, u.password_set_at = $now, u.failed_sign_ins = 0,
    u.locked_until = null
WITH u
CALL (u) { MATCH (s:WebSession)-[:FOR]->(u) DETACH DELETE s }
CALL (u) { MATCH (u)-[:HAS_PASSWORD_LINK]->(l:PasswordLink) DETACH DELETE l }
RETURN u.email AS email
"""


async def set_password(
    tx: AsyncManagedTransaction, *, user_id: str, password_hash: str, now: datetime
) -> None:
    """Set the password; ends the person's web sessions and voids their open links."""
    record = await (await tx.run(NEW_HASH, id=user_id, hash=password_hash, now=now)).single()
    if record is None:
        raise NotFound("user", user_id)


# --- one-time links ------------------------------------------------------------------------


class PasswordLink(BaseModel):
    id: str
    user_id: str
    email: str
    expires_at: datetime


def new_link() -> tuple[str, str, str]:
    """(link secret shown once, link id, hash of its secret)."""
    link_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"{LINK_PREFIX}_{link_id}_{secret}", link_id, hash_secret(secret)


def split_link(link: str) -> tuple[str, str] | None:
    prefix, sep, rest = link.partition("_")
    link_id, sep2, secret = rest.partition("_")
    if prefix != LINK_PREFIX or not sep or not sep2 or not link_id or not secret:
        return None
    return link_id, secret


ISSUE_LINK: LiteralString = """
MATCH (u:User {id: $user})
CREATE (u)-[:HAS_PASSWORD_LINK]->(l:PasswordLink {id: $id, secret_hash: $hash,
        created_at: $now, expires_at: $expires_at})
RETURN l, u.id AS user_id, u.email AS email
"""


async def issue_password_link(
    tx: AsyncManagedTransaction, *, user_id: str, link_id: str, secret_hash: str, now: datetime
) -> PasswordLink:
    record = await (
        await tx.run(
            ISSUE_LINK,
            user=user_id,
            id=link_id,
            hash=secret_hash,
            now=now,
            expires_at=now + LINK_LIFETIME,
        )
    ).single()
    if record is None:
        raise NotFound("user", user_id)
    return _link(record)


def _link(record: Any) -> PasswordLink:
    props = dict(record["l"])
    expires = _native(props["expires_at"])
    assert expires is not None
    return PasswordLink(
        id=props["id"], user_id=record["user_id"], email=record["email"], expires_at=expires
    )


FIND_LINK: LiteralString = """
MATCH (u:User)-[:HAS_PASSWORD_LINK]->(l:PasswordLink {id: $id})
RETURN l, u.id AS user_id, u.email AS email, u.disabled AS disabled
"""


async def usable_link(
    tx: AsyncManagedTransaction, *, link: str, now: datetime
) -> PasswordLink | None:
    """The link if it is one of ours, unused, unexpired and for an enabled account."""
    parts = split_link(link)
    if parts is None:
        return None
    record = await (await tx.run(FIND_LINK, id=parts[0])).single()
    # Compare even when no link was found, so the time taken does not tell which ids exist.
    stored = dict(record["l"])["secret_hash"] if record is not None else "0" * 64
    if not secret_matches(parts[1], stored) or record is None or record["disabled"]:
        return None
    found = _link(record)
    return found if found.expires_at > now else None


async def redeem_password_link(
    tx: AsyncManagedTransaction, *, link: str, password_hash: str, now: datetime
) -> PasswordLink | None:
    """Set the password of the link's account, once; None when the link does not work (any
    more). Setting the password deletes every open link of the account, this one included."""
    found = await usable_link(tx, link=link, now=now)
    if found is None:
        return None
    await set_password(tx, user_id=found.user_id, password_hash=password_hash, now=now)
    return found
