"""Passwords of the web sign-in: argon2id hashes (argon2-cffi), and what a password must be.

A password is a low-entropy secret people choose, so unlike API tokens (graph/users.py, a fast
hash of 256 random bits) it is stored only as a slow, salted argon2id hash. The parameters are
argon2-cffi's defaults (RFC 9106's second recommendation); a hash made under older parameters
is replaced at the next successful sign-in.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def password_matches(password: str, stored_hash: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)


# A hash of nothing anyone can type, verified when no account has the e-mail given, so that
# the time a refusal takes does not tell which e-mail addresses have accounts.
_DECOY: list[str] = []


def decoy_hash() -> str:
    if not _DECOY:
        _DECOY.append(hash_password("\0decoy\0"))
    return _DECOY[0]


def password_problem(password: str, *, email: str) -> str | None:
    """Why a new password is refused, as a message key of the catalogues; None when fine.
    Length is what matters (NIST SP 800-63B): no rules about character classes."""
    if len(password) < MIN_LENGTH:
        return "password.too_short"
    if len(password) > MAX_LENGTH:
        return "password.too_long"
    if password.strip().lower() == email.strip().lower():
        return "password.is_email"
    return None
