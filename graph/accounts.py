"""Administration of accounts and tokens, audited like every other write.

An administrator can create an account in any organisation and mint a token for any
account, and so act as a member of an organisation whose referrals hold health and contact
data. That power stays (an organisation's only admin may leave), but it is break-glass, not
silent: each of these writes records an audit event under every organisation the account
belongs to, so that the organisation's own members see in their audit trail that someone
was added, disabled, or given a token, and by whom. A token minted for someone else's
account says so (`for_another_account`).

Minted by an admin who is not an admin of any of the account's organisations, a token is
break-glass (`break_glass_by` on the token): the organisation did not hand it out, so every
referral or case read through it leaves an access notice on the record, which that
organisation's members see there and in their audit trail (graph/access.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import LiteralString

from neo4j import AsyncManagedTransaction

from core.errors import ValidationFailed
from graph.audit import FieldChange, record_event
from graph.mail.outbox import MailKind, queue_password_mail
from graph.passwords import PasswordLink, issue_password_link, redeem_password_link
from graph.users import (
    Actor,
    ApiToken,
    Role,
    User,
    UserInput,
    create_user,
    end_user_sessions,
    get_user,
    issue_token,
    revoke_token,
    set_user_disabled,
)


async def _record(
    tx: AsyncManagedTransaction,
    *,
    actor: Actor,
    action: str,
    user: User,
    changes: dict[str, object],
) -> None:
    """One event per organisation of the account, so that each sees it in its own trail."""
    organisations: list[str | None] = [*sorted({m.organisation_id for m in user.memberships})]
    for organisation_id in organisations or [None]:
        await record_event(
            tx,
            actor=actor,
            action=action,
            entity="user",
            entity_id=user.id,
            organisation_id=organisation_id,
            changes=[
                FieldChange(field=k, previous=None, replacement=v) for k, v in changes.items()
            ],
        )


async def create_user_audited(
    tx: AsyncManagedTransaction, *, id: str, data: UserInput, actor: Actor
) -> User:
    user = await create_user(tx, id=id, data=data)
    await _record(
        tx,
        actor=actor,
        action="create_user",
        user=user,
        changes={
            "email": user.email,
            "display_name": user.display_name,
            "organisation_id": data.organisation_id,
            "role": data.role.value,
        },
    )
    return user


async def set_user_disabled_audited(
    tx: AsyncManagedTransaction, *, id: str, disabled: bool, actor: Actor
) -> User:
    user = await set_user_disabled(tx, id=id, disabled=disabled)
    await _record(
        tx,
        actor=actor,
        action="disable_user" if disabled else "enable_user",
        user=user,
        changes={"disabled": disabled},
    )
    return user


async def end_user_sessions_audited(tx: AsyncManagedTransaction, *, id: str, actor: Actor) -> User:
    ended = await end_user_sessions(tx, id=id)
    user = await get_user(tx, id=id)
    await _record(tx, actor=actor, action="end_sessions", user=user, changes={"ended": ended})
    return user


async def issue_token_audited(
    tx: AsyncManagedTransaction,
    *,
    user_id: str,
    token_id: str,
    secret_hash: str,
    label: str | None,
    expires_at: datetime | None,
    actor: Actor,
) -> ApiToken:
    token = await issue_token(
        tx,
        user_id=user_id,
        token_id=token_id,
        secret_hash=secret_hash,
        label=label,
        expires_at=expires_at,
    )
    holder = await get_user(tx, id=user_id)
    own_admin = actor.organisations_with(Role.ADMIN) & {
        m.organisation_id for m in holder.memberships
    }
    break_glass = actor.user_id != user_id and not actor.system and not own_admin
    if break_glass:
        await tx.run(MARK_BREAK_GLASS, id=token.id, by=actor.user_id)
        token = token.model_copy(update={"break_glass_by": actor.user_id})
    await _record(
        tx,
        actor=actor,
        action="issue_token",
        user=holder,
        changes={
            "token_id": token.id,
            "label": label,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "for_another_account": actor.user_id != user_id,
            "break_glass": break_glass,
        },
    )
    return token


MARK_BREAK_GLASS: LiteralString = "MATCH (t:ApiToken {id: $id}) SET t.break_glass_by = $by"


async def revoke_token_audited(
    tx: AsyncManagedTransaction, *, token_id: str, actor: Actor
) -> ApiToken:
    token = await revoke_token(tx, token_id=token_id)
    await _record(
        tx,
        actor=actor,
        action="revoke_token",
        user=await get_user(tx, id=token.user_id),
        changes={"token_id": token.id},
    )
    return token


async def issue_password_link_audited(
    tx: AsyncManagedTransaction,
    *,
    user_id: str,
    link_id: str,
    secret_hash: str,
    now: datetime,
    actor: Actor,
) -> PasswordLink:
    """A link that sets the account's password: whoever holds it can sign in as the account,
    so its issue is recorded like a token's."""
    link = await issue_password_link(
        tx, user_id=user_id, link_id=link_id, secret_hash=secret_hash, now=now
    )
    await _record(
        tx,
        actor=actor,
        action="issue_password_link",
        user=await get_user(tx, id=user_id),
        changes={
            "link_id": link.id,
            "expires_at": link.expires_at.isoformat(),
            "for_another_account": actor.user_id != user_id,
        },
    )
    return link


async def redeem_password_link_audited(
    tx: AsyncManagedTransaction, *, link: str, password_hash: str, now: datetime
) -> PasswordLink | None:
    """The password set through a link, recorded as the account's own act."""
    used = await redeem_password_link(tx, link=link, password_hash=password_hash, now=now)
    if used is not None:
        user = await get_user(tx, id=used.user_id)
        actor = Actor(user_id=user.id, email=user.email, memberships=user.memberships)
        await _record(
            tx, actor=actor, action="set_password", user=user, changes={"link_id": used.id}
        )
    return used


# Asked for by anyone who knows the address, so at most one link per account in this time:
# the page cannot be used to fill a person's mailbox.
RESET_INTERVAL = timedelta(minutes=5)

RECENT_LINK: LiteralString = """
MATCH (u:User {email: $email})
WHERE NOT coalesce(u.disabled, false)
RETURN u.id AS id,
       EXISTS { (u)-[:HAS_PASSWORD_LINK]->(l:PasswordLink) WHERE l.created_at > $since }
         AS recent
"""


async def mail_password_link(
    tx: AsyncManagedTransaction,
    *,
    email: str,
    link_id: str,
    secret_hash: str,
    link_enc: str,
    now: datetime,
) -> bool:
    """A person asked for a new password on the sign-in page: issue a link to the enabled
    account of `email` and queue the mail that carries it (`link_enc`, the link encrypted),
    both in this transaction. False when there is no such account, or it was sent a link
    moments ago; the caller answers the same either way."""
    record = await (
        await tx.run(RECENT_LINK, email=email.strip().lower(), since=now - RESET_INTERVAL)
    ).single()
    if record is None or record["recent"]:
        return False
    user = await get_user(tx, id=record["id"])
    actor = Actor(user_id=user.id, email=user.email, memberships=user.memberships)
    await issue_password_link_audited(
        tx, user_id=user.id, link_id=link_id, secret_hash=secret_hash, now=now, actor=actor
    )
    await queue_password_mail(tx, user_id=user.id, link_enc=link_enc, at=now)
    return True


async def mail_invitation(
    tx: AsyncManagedTransaction,
    *,
    user_id: str,
    link_id: str,
    secret_hash: str,
    link_enc: str,
    now: datetime,
    actor: Actor,
) -> PasswordLink:
    """An admin invites a person to their account: a one-time link, issued and recorded as
    `issue_password_link_audited` does, and the mail that carries it, in this transaction.
    A disabled account is refused: its link would not work."""
    user = await get_user(tx, id=user_id)
    if user.disabled:
        raise ValidationFailed.single("user_id", "the account is disabled; enable it first")
    link = await issue_password_link_audited(
        tx, user_id=user_id, link_id=link_id, secret_hash=secret_hash, now=now, actor=actor
    )
    await queue_password_mail(
        tx, user_id=user_id, link_enc=link_enc, at=now, kind=MailKind.INVITATION
    )
    return link
