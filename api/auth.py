"""Authentication: who is calling, from the Authorization header.

Two kinds of bearer token: Homeward's own API tokens (`hwt_...`), and, when an identity
provider is configured, its signed JWT access tokens, whose e-mail claim names the account.
Failures are 401s with a message that says what is wrong, never which part of a secret was.
Tokens are never logged.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import jwt
from jwt import PyJWK, PyJWKClient, PyJWKSet

from core.clock import utcnow
from core.errors import Unauthenticated
from core.passwords import decoy_hash, hash_password, needs_rehash, password_matches
from core.settings import Settings
from graph.driver import Graph
from graph.passwords import password_account, record_failed_sign_in, record_sign_in
from graph.users import (
    ANONYMOUS,
    LAST_USED_RESOLUTION,
    Actor,
    ApiToken,
    BreakGlass,
    User,
    secret_matches,
    session_with_user,
    split_session,
    split_token,
    token_with_user,
    touch_token,
    user_by_email,
)

# The web pages keep their session in this cookie (HttpOnly, SameSite=Strict). Read-only
# GET endpoints (exports) accept it as well, so that a signed-in page can link and embed them;
# /graphql does not, so no other site can make a browser post to it with the cookie.
SESSION_COOKIE = "homeward_session"

JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]


class JwtVerifier:
    """Verifies access tokens of the configured OIDC provider with PyJWT."""

    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.oidc_issuer
        self.audience = settings.oidc_audience
        self.email_claim = settings.oidc_email_claim
        self._client = PyJWKClient(settings.oidc_jwks_url) if settings.oidc_jwks_url else None
        self._keys = PyJWKSet.from_json(settings.oidc_jwks) if settings.oidc_jwks else None

    def _key(self, token: str) -> PyJWK:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token)
        assert self._keys is not None
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._keys.keys:
            if kid is None or key.key_id == kid:
                return key
        raise jwt.InvalidTokenError("signed with a key the identity provider does not list")

    async def email_of(self, token: str) -> str:
        try:
            # Fetching the provider's keys is blocking I/O (cached by PyJWKClient).
            key = await asyncio.to_thread(self._key, token)
            claims = jwt.decode(
                token,
                key=key,
                algorithms=JWT_ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("the access token has expired") from exc
        except (jwt.PyJWTError, json.JSONDecodeError) as exc:
            raise Unauthenticated(f"the access token is not valid: {exc}") from exc
        email = claims.get(self.email_claim)
        if not isinstance(email, str) or "@" not in email:
            raise Unauthenticated(f"the access token has no {self.email_claim!r} claim")
        return email


def bearer_token(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`; None when there is no header."""
    if header is None or not header.strip():
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthenticated("use 'Authorization: Bearer <token>'")
    token = token.strip()
    if not token or " " in token:
        raise Unauthenticated("the Authorization header holds no single bearer token")
    return token


async def authenticate_with_session(
    header: str | None,
    cookie: str | None,
    *,
    graph: Graph,
    settings: Settings,
    verifier: JwtVerifier | None,
) -> Actor:
    """The Authorization header, else the web pages' session cookie."""
    if header is not None and header.strip():
        return await authenticate(header, graph=graph, settings=settings, verifier=verifier)
    if cookie:
        return await authenticate_session(cookie, graph=graph, settings=settings)
    return ANONYMOUS


async def authenticate_session(cookie: str, *, graph: Graph, settings: Settings) -> Actor:
    """A web session (graph.users, "web sessions"): ended by signing out, by its lifetime,
    and by anything that ends the API token it was opened with."""
    parts = split_session(cookie)
    if parts is None:
        raise Unauthenticated("the session is not one of this site; sign in again")
    session_id, secret = parts
    found = await graph.read(session_with_user, session_id=session_id)
    stored_hash = found[1] if found is not None else "0" * 64
    if not secret_matches(secret, stored_hash) or found is None:
        raise Unauthenticated("the session has ended; sign in again")
    session, _, user = found
    now = utcnow()
    if session.expires_at <= now:
        raise Unauthenticated("the session has expired; sign in again")
    if session.token is not None:
        _check_token(session.token, now)
    _check_user(user, settings)
    return _actor(user, session.token)


class SignInRefused(Unauthenticated):
    """A refused password sign-in; `reason` is the message key that says why in the page's
    language (never which of e-mail and password was wrong)."""

    def __init__(self, reason: str, message: str, *, until: datetime | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.until = until


async def authenticate_password(
    email: str, password: str, *, graph: Graph, settings: Settings
) -> Actor:
    """The account of an e-mail address and password. Consecutive failures lock the account
    for a while (graph/passwords.py); a locked account is refused even with the right
    password, so guessing goes no faster than the lock allows."""
    account = await graph.read(password_account, email=email)
    now = utcnow()
    stored = account.password_hash if account is not None else None
    # Verified even when there is no account or password, so that the time a refusal takes
    # does not tell which e-mail addresses have one.
    # Argon2 takes tens of milliseconds of CPU by design: off the event loop.
    matches = await asyncio.to_thread(password_matches, password, stored or decoy_hash())
    if account is None or stored is None:
        raise SignInRefused("signin.wrong", "wrong e-mail address or password")
    if account.locked_at(now):
        raise SignInRefused("signin.locked", "too many failed attempts", until=account.locked_until)
    if not matches:
        locked = await graph.write(record_failed_sign_in, user_id=account.user.id, now=now)
        if locked is not None and locked > now:
            raise SignInRefused("signin.locked", "too many failed attempts", until=locked)
        raise SignInRefused("signin.wrong", "wrong e-mail address or password")
    try:
        _check_user(account.user, settings)
    except Unauthenticated as exc:
        raise SignInRefused("signin.disabled", exc.message) from exc
    rehash = await asyncio.to_thread(hash_password, password) if needs_rehash(stored) else None
    await graph.write(record_sign_in, user_id=account.user.id, now=now, rehash=rehash)
    return _actor(account.user)


def _actor(user: User, token: ApiToken | None = None) -> Actor:
    by = token.break_glass_by if token is not None else None
    return Actor(
        user_id=user.id,
        email=user.email,
        memberships=user.memberships,
        break_glass=BreakGlass(token_id=token.id, issued_by=by) if token and by else None,
    )


async def authenticate(
    header: str | None, *, graph: Graph, settings: Settings, verifier: JwtVerifier | None
) -> Actor:
    token = bearer_token(header)
    if token is None:
        return ANONYMOUS
    parts = split_token(token)
    if parts is not None:
        return await _api_token_actor(parts, graph=graph, settings=settings)
    if token.count(".") == 2 and verifier is not None:
        email = await verifier.email_of(token)
        user = await graph.read(user_by_email, email=email)
        if user is None or user.disabled:
            raise Unauthenticated("no active Homeward account for this identity")
        return _actor(user)
    raise Unauthenticated("the bearer token is not a Homeward token")


async def _api_token_actor(parts: tuple[str, str], *, graph: Graph, settings: Settings) -> Actor:
    token_id, secret = parts
    found = await graph.read(token_with_user, token_id=token_id)
    # Compare even when no token was found, so the time taken does not tell which ids exist.
    stored_hash = found[1] if found is not None else "0" * 64
    if not secret_matches(secret, stored_hash) or found is None:
        raise Unauthenticated("unknown token")
    token, _, user = found
    now = utcnow()
    _check_token(token, now)
    _check_user(user, settings)
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        await graph.write(touch_token, token_id=token.id, now=now)
    return _actor(user, token)


def _check_token(token: ApiToken, now: datetime) -> None:
    if token.revoked_at is not None:
        raise Unauthenticated("the token has been revoked")
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("the token has expired")


def _check_user(user: User, settings: Settings) -> None:
    if user.disabled:
        raise Unauthenticated("the account is disabled")
    if user.demo and not settings.demo_users_enabled:
        raise Unauthenticated("demo accounts are switched off in this deployment")
