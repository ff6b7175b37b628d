"""The one clock: every timestamp Homeward writes is an aware UTC instant from here, so that
tests and the API's periodic jobs can replace it in one place."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
