"""People with accounts, their memberships (role per organisation) and API tokens.

A token is `hwt_<id>_<secret>`: the id finds the stored record, the secret is kept only as
its SHA-256 hash and compared in constant time. Tokens are random with 256 bits of entropy, so
a fast hash is the right tool (a slow password hash protects low-entropy secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import NotFound, ValidationFailed
from graph.pagination import Page, decode_cursor, paginate

TOKEN_PREFIX = "hwt"  # noqa: S105 - a public marker, not a secret
# last_used_at is written at most this often, so that authentication stays a read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class Role(StrEnum):
    COUNSELLOR = "counsellor"
    PARTNER = "partner"
    COORDINATOR = "coordinator"
    ADMIN = "admin"


class Membership(BaseModel):
    organisation_id: str
    role: Role


class User(BaseModel):
    id: str
    email: str
    display_name: str
    disabled: bool
    demo: bool
    memberships: list[Membership]
    created_at: datetime


class UserInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    email: str = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    display_name: str = Field(min_length=1, max_length=120)
    organisation_id: str = Field(min_length=1, max_length=80)
    role: Role

    @field_validator("email")
    @classmethod
    def _lower(cls, email: str) -> str:
        return email.lower()


class BreakGlass(BaseModel):
    """The credential of a call is an admin's doing: a token minted for this account by an
    admin of none of its organisations (graph/accounts.py). Reads of referrals and cases
    through it leave an access notice (graph/access.py)."""

    token_id: str
    issued_by: str


class Actor(BaseModel):
    """Who is calling: a user with memberships, or an anonymous caller, or the system."""

    user_id: str | None
    email: str | None = None
    memberships: list[Membership] = Field(default_factory=list)
    system: bool = False
    break_glass: BreakGlass | None = None

    @property
    def authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def roles(self) -> set[Role]:
        return {m.role for m in self.memberships}

    def organisations_with(self, *roles: Role) -> set[str]:
        return {m.organisation_id for m in self.memberships if m.role in roles}

    @property
    def label(self) -> str:
        return "system" if self.system else (self.user_id or "anonymous")


ANONYMOUS = Actor(user_id=None)
SYSTEM = Actor(user_id="system", system=True)


# --- users -------------------------------------------------------------------------------

RETURN_USER: LiteralString = """
RETURN u, COLLECT { MATCH (u)-[m:MEMBER_OF]->(o:Organisation)
                    RETURN {organisation_id: o.id, role: m.role} ORDER BY o.id } AS memberships
"""


def user_of_record(record: Any) -> User:
    props = dict(record["u"])
    return User(
        id=props["id"],
        email=props["email"],
        display_name=props["display_name"],
        disabled=bool(props.get("disabled", False)),
        demo=bool(props.get("demo", False)),
        memberships=[Membership(**m) for m in record["memberships"]],
        created_at=props["created_at"].to_native(),
    )


CREATE_USER: LiteralString = (
    """
MATCH (o:Organisation {id: $organisation})
MERGE (u:User {email: $email})
ON CREATE SET u.id = $id, u.display_name = $display_name, u.disabled = false,
              u.demo = $demo, u.created_at = datetime()
MERGE (u)-[m:MEMBER_OF]->(o)
SET m.role = $role
WITH u
"""
    + RETURN_USER
)

EMAIL_TAKEN: LiteralString = "MATCH (u:User {email: $email}) RETURN u.id AS id"
ORGANISATION_EXISTS: LiteralString = "RETURN EXISTS { MATCH (:Organisation {id: $id}) } AS ok"


async def create_user(
    tx: AsyncManagedTransaction, *, id: str, data: UserInput, demo: bool = False
) -> User:
    """Create a user with one membership; an e-mail already registered is refused."""
    found = await (await tx.run(EMAIL_TAKEN, email=data.email)).single()
    if found is not None and found["id"] != id:
        raise ValidationFailed.single("email", f"{data.email} already has an account")
    exists = await (await tx.run(ORGANISATION_EXISTS, id=data.organisation_id)).single(strict=True)
    if not exists["ok"]:
        raise ValidationFailed.single(
            "organisation_id", f"unknown organisation {data.organisation_id!r}"
        )
    result = await tx.run(
        CREATE_USER,
        id=id,
        email=data.email,
        display_name=data.display_name,
        organisation=data.organisation_id,
        role=data.role.value,
        demo=demo,
    )
    return user_of_record(await result.single(strict=True))


BY_IDS: LiteralString = "UNWIND $ids AS id MATCH (u:User {id: id}) " + RETURN_USER
BY_EMAIL: LiteralString = "MATCH (u:User {email: $email}) " + RETURN_USER


async def get_user(tx: AsyncManagedTransaction, *, id: str) -> User:
    record = await (await tx.run(BY_IDS, ids=[id])).single()
    if record is None:
        raise NotFound("user", id)
    return user_of_record(record)


async def user_by_email(tx: AsyncManagedTransaction, *, email: str) -> User | None:
    record = await (await tx.run(BY_EMAIL, email=email.lower())).single()
    return user_of_record(record) if record is not None else None


# Disabling ends the account's web sessions in the same transaction: a disabled person must
# not stay signed in in an open browser until the session runs out.
SET_DISABLED: LiteralString = (
    """
MATCH (u:User {id: $id}) SET u.disabled = $disabled
WITH u
CALL (u) { MATCH (s:WebSession)-[:FOR]->(u) WHERE $disabled DETACH DELETE s }
WITH u
"""
    + RETURN_USER
)


async def set_user_disabled(tx: AsyncManagedTransaction, *, id: str, disabled: bool) -> User:
    record = await (await tx.run(SET_DISABLED, id=id, disabled=disabled)).single()
    if record is None:
        raise NotFound("user", id)
    return user_of_record(record)


LIST: LiteralString = (
    """
MATCH (u:User)
WHERE u.email > $after_name OR (u.email = $after_name AND u.id > $after_id)
WITH u ORDER BY u.email, u.id LIMIT $limit
"""
    + RETURN_USER
)


async def list_users(tx: AsyncManagedTransaction, *, first: int, after: str | None) -> Page[User]:
    name, last = decode_cursor(after)
    result = await tx.run(LIST, after_name=name, after_id=last, limit=first + 1)
    users = [user_of_record(r) async for r in result]
    return paginate([(u.email, u.id, u) for u in users], first)


# --- tokens ------------------------------------------------------------------------------


class ApiToken(BaseModel):
    id: str
    user_id: str
    label: str | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    # The admin who minted it as break-glass (see `BreakGlass`), if one did.
    break_glass_by: str | None = None

    def usable_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token(token_id: str | None = None) -> tuple[str, str, str]:
    """(token shown once, token id, hash of its secret)."""
    token_id = token_id or secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}_{token_id}_{secret}", token_id, hash_secret(secret)


def split_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    prefix, sep, rest = token.partition("_")
    token_id, sep2, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or not sep or not sep2 or not token_id or not secret:
        return None
    return token_id, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def _token(props: dict[str, Any], user_id: str) -> ApiToken:
    def native(key: str) -> datetime | None:
        value = props.get(key)
        return value.to_native() if value is not None else None

    created = native("created_at")
    assert created is not None
    return ApiToken(
        id=props["id"],
        user_id=user_id,
        label=props.get("label"),
        created_at=created,
        expires_at=native("expires_at"),
        last_used_at=native("last_used_at"),
        revoked_at=native("revoked_at"),
        break_glass_by=props.get("break_glass_by"),
    )


ISSUE: LiteralString = """
MATCH (u:User {id: $user})
MERGE (t:ApiToken {id: $id})
ON CREATE SET t.created_at = datetime()
SET t.secret_hash = $hash, t.label = $label, t.expires_at = $expires_at, t.revoked_at = null
MERGE (u)-[:HAS_TOKEN]->(t)
RETURN t, u.id AS user_id
"""


async def issue_token(
    tx: AsyncManagedTransaction,
    *,
    user_id: str,
    token_id: str,
    secret_hash: str,
    label: str | None,
    expires_at: datetime | None,
) -> ApiToken:
    record = await (
        await tx.run(
            ISSUE,
            user=user_id,
            id=token_id,
            hash=secret_hash,
            label=label,
            expires_at=expires_at,
        )
    ).single()
    if record is None:
        raise NotFound("user", user_id)
    return _token(dict(record["t"]), record["user_id"])


FOR_AUTH: LiteralString = """
MATCH (u:User)-[:HAS_TOKEN]->(t:ApiToken {id: $id})
RETURN u, t, COLLECT { MATCH (u)-[m:MEMBER_OF]->(o:Organisation)
                       RETURN {organisation_id: o.id, role: m.role} ORDER BY o.id } AS memberships
"""


async def token_with_user(
    tx: AsyncManagedTransaction, *, token_id: str
) -> tuple[ApiToken, str, User] | None:
    """The token, its stored secret hash and its user, for authentication."""
    record = await (await tx.run(FOR_AUTH, id=token_id)).single()
    if record is None:
        return None
    props = dict(record["t"])
    user = user_of_record(record)
    return _token(props, user.id), props["secret_hash"], user


TOUCH: LiteralString = """
MATCH (t:ApiToken {id: $id})
WHERE t.last_used_at IS NULL OR t.last_used_at < $stale_before
SET t.last_used_at = $now
"""


async def touch_token(tx: AsyncManagedTransaction, *, token_id: str, now: datetime) -> None:
    await tx.run(TOUCH, id=token_id, now=now, stale_before=now - LAST_USED_RESOLUTION)


REVOKE: LiteralString = """
MATCH (u:User)-[:HAS_TOKEN]->(t:ApiToken {id: $id})
SET t.revoked_at = coalesce(t.revoked_at, datetime())
RETURN t, u.id AS user_id
"""


async def revoke_token(tx: AsyncManagedTransaction, *, token_id: str) -> ApiToken:
    record = await (await tx.run(REVOKE, id=token_id)).single()
    if record is None:
        raise NotFound("token", token_id)
    return _token(dict(record["t"]), record["user_id"])


# --- web sessions --------------------------------------------------------------------------
# The web pages' sign-in cookie holds a session of its own, not the API token typed at sign-in:
# signing out deletes the session here, so a copied cookie is worthless afterwards, while the
# token goes on working for the API. A session signed in with an API token ends with it too.

SESSION_PREFIX = "hws"
SESSION_LIFETIME = timedelta(hours=12)


class WebSession(BaseModel):
    id: str
    user_id: str
    expires_at: datetime
    # The API token signed in with, whose revocation or expiry also ends the session.
    token: ApiToken | None


def new_session() -> tuple[str, str, str]:
    """(cookie value, session id, hash of its secret)."""
    session_id = secrets.token_hex(16)
    secret = secrets.token_urlsafe(32)
    return f"{SESSION_PREFIX}_{session_id}_{secret}", session_id, hash_secret(secret)


def split_session(cookie: str) -> tuple[str, str] | None:
    prefix, sep, rest = cookie.partition("_")
    session_id, sep2, secret = rest.partition("_")
    if prefix != SESSION_PREFIX or not sep or not sep2 or not session_id or not secret:
        return None
    return session_id, secret


OPEN_SESSION: LiteralString = """
MATCH (u:User {id: $user})
MERGE (s:WebSession {id: $id})
ON CREATE SET s.secret_hash = $hash, s.created_at = $now, s.expires_at = $expires_at
MERGE (s)-[:FOR]->(u)
WITH s
OPTIONAL MATCH (t:ApiToken {id: $token})
FOREACH (_ IN CASE WHEN t IS NULL THEN [] ELSE [1] END | MERGE (s)-[:VIA]->(t))
"""


async def open_session(
    tx: AsyncManagedTransaction,
    *,
    id: str,
    secret_hash: str,
    user_id: str,
    token_id: str | None,
    now: datetime,
) -> None:
    await tx.run(
        OPEN_SESSION,
        id=id,
        hash=secret_hash,
        user=user_id,
        token=token_id,
        now=now,
        expires_at=now + SESSION_LIFETIME,
    )


FOR_SESSION: LiteralString = """
MATCH (s:WebSession {id: $id})-[:FOR]->(u:User)
RETURN s, u, COLLECT { MATCH (u)-[m:MEMBER_OF]->(o:Organisation)
                       RETURN {organisation_id: o.id, role: m.role} ORDER BY o.id } AS memberships,
       COLLECT { MATCH (s)-[:VIA]->(t:ApiToken) RETURN t }[0] AS t
"""


async def session_with_user(
    tx: AsyncManagedTransaction, *, session_id: str
) -> tuple[WebSession, str, User] | None:
    """The session, its stored secret hash and its user, for authentication."""
    record = await (await tx.run(FOR_SESSION, id=session_id)).single()
    if record is None:
        return None
    props = dict(record["s"])
    user = user_of_record(record)
    token = _token(dict(record["t"]), user.id) if record["t"] is not None else None
    session = WebSession(
        id=props["id"], user_id=user.id, expires_at=props["expires_at"].to_native(), token=token
    )
    return session, props["secret_hash"], user


CLOSE_SESSION: LiteralString = """
MATCH (s:WebSession {id: $id})
DETACH DELETE s
"""


async def close_session(tx: AsyncManagedTransaction, *, session_id: str) -> None:
    await tx.run(CLOSE_SESSION, id=session_id)


END_SESSIONS: LiteralString = """
MATCH (u:User {id: $id})
OPTIONAL MATCH (s:WebSession)-[:FOR]->(u)
DETACH DELETE s
RETURN count(s) AS ended
"""


async def end_user_sessions(tx: AsyncManagedTransaction, *, id: str) -> int:
    """Sign the person out of every browser (a lost laptop, a shared computer); their API
    tokens are separate and stay. How many sessions ended."""
    record = await (await tx.run(END_SESSIONS, id=id)).single()
    if record is None:
        raise NotFound("user", id)
    return int(record["ended"])


EXPIRED_SESSIONS: LiteralString = """
MATCH (s:WebSession) WHERE s.expires_at <= $now
WITH s LIMIT $limit
DETACH DELETE s
RETURN count(*) AS deleted
"""


async def delete_expired_sessions(
    tx: AsyncManagedTransaction, *, now: datetime, limit: int = 10_000
) -> int:
    """Sessions past their end are refused already; deleting them keeps a browser's cookie
    from being a record of who signed in when, once it is worth nothing. At most `limit`
    a run, so that one transaction stays small; the next run takes the rest."""
    record = await (await tx.run(EXPIRED_SESSIONS, now=now, limit=limit)).single(strict=True)
    return int(record["deleted"])
