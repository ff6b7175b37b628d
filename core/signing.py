"""Signatures of webhook requests: what the sender puts in `X-Homeward-Signature`, and the
check a receiver makes (tests use it as a receiver would).
"""

from __future__ import annotations

import hashlib
import hmac
import time

# Receivers should refuse signatures older than this (replays of a captured request).
SIGNATURE_MAX_AGE_S = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under the secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    header: str,
    *,
    max_age_s: float | None = SIGNATURE_MAX_AGE_S,
    now: float | None = None,
) -> bool:
    """For receivers: is `header` (X-Homeward-Signature) our signature of this raw `body`
    sent at `timestamp` (X-Homeward-Timestamp, Unix seconds)? Compares in constant time, and
    refuses timestamps more than `max_age_s` away from `now` (default: the clock) so that a
    captured request cannot be replayed later. Verify the raw bytes, before parsing JSON."""
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if max_age_s is not None and abs((time.time() if now is None else now) - sent) > max_age_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)
