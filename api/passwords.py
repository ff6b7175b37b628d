"""Setting a password through a one-time link (graph/passwords.py), for the page the link
opens and for the command line; the sign-in itself is api.auth.authenticate_password."""

from __future__ import annotations

import asyncio
from datetime import datetime

from core.clock import utcnow
from core.crypto import DataCipher
from core.errors import NotFound, ValidationFailed
from core.passwords import hash_password, password_problem
from graph.accounts import (
    issue_password_link_audited,
    mail_password_link,
    redeem_password_link_audited,
)
from graph.driver import Graph
from graph.passwords import PasswordLink, new_link, usable_link
from graph.users import Actor, user_by_email

# The English words of core.passwords' problems, for callers without a page language.
PROBLEMS = {
    "password.too_short": "is too short: use at least 12 characters",
    "password.too_long": "is too long: use at most 256 characters",
    "password.is_email": "must not be the e-mail address",
}


async def link_for(link: str, *, graph: Graph) -> PasswordLink | None:
    """The link's account while the link works (unused, unexpired, account enabled)."""
    return await graph.read(usable_link, link=link, now=utcnow())


async def set_password_with_link(link: str, password: str, *, graph: Graph) -> PasswordLink:
    """Set the password of the link's account, once. Raises NotFound for a link that does not
    work (any more) and ValidationFailed (field `password`) for a password refused."""
    found = await link_for(link, graph=graph)
    if found is None:
        raise NotFound("password link", link.split("_")[1] if link.count("_") >= 2 else "")
    problem = password_problem(password, email=found.email)
    if problem is not None:
        raise ValidationFailed.single("password", PROBLEMS[problem])
    hashed = await asyncio.to_thread(hash_password, password)
    used = await graph.write(
        redeem_password_link_audited, link=link, password_hash=hashed, now=utcnow()
    )
    if used is None:  # used or voided between the two reads
        raise NotFound("password link", found.id)
    return used


async def issue_link(email: str, *, graph: Graph, actor: Actor) -> tuple[str, PasswordLink]:
    """A new one-time link for the account of `email`: (the secret to send, the link)."""
    user = await graph.read(user_by_email, email=email.strip().lower())
    if user is None:
        raise NotFound("user", email)
    secret, link_id, secret_hash = new_link()
    link = await graph.write(
        issue_password_link_audited,
        user_id=user.id,
        link_id=link_id,
        secret_hash=secret_hash,
        now=utcnow(),
        actor=actor,
    )
    return secret, link


async def request_reset(email: str, *, graph: Graph, cipher: DataCipher, now: datetime) -> bool:
    """Mail a one-time link to the account of `email`, if there is one (see
    graph.accounts.mail_password_link). The link is made either way, so that the work done
    says little of whether the account exists."""
    secret, link_id, secret_hash = new_link()
    link_enc = cipher.encrypt(secret)
    assert link_enc is not None
    return await graph.write(
        mail_password_link,
        email=email,
        link_id=link_id,
        secret_hash=secret_hash,
        link_enc=link_enc,
        now=now,
    )


def link_url(base_url: str, secret: str) -> str:
    return f"{base_url}/app/password/{secret}"
