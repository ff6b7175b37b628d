"""Encryption at rest of personal data (referral contact, health and notes; webhook secrets).

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) under a MultiFernet: the first key
encrypts, every listed key decrypts. Rotating a key is therefore: put a new key first, keep
the old ones after it, run `homeward referrals rotate-key` (re-encrypts every stored value
with the first key), then drop the old keys. See README, "Personal data".
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from core.errors import HomewardError
from core.settings import Environment, Settings


class KeyMissing(HomewardError):
    """No data key is configured where one must be."""


class DataCipher:
    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise KeyMissing("at least one data key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def encrypt(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode()).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        if token is None:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode()
        except InvalidToken as exc:
            # Not the caller's fault and not to be papered over: the key set lost a key.
            raise KeyMissing(
                "a stored value cannot be decrypted with any configured data key"
            ) from exc

    def rotate(self, token: str) -> str:
        """The same value encrypted under the first (newest) key."""
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


def cipher_from_settings(settings: Settings) -> DataCipher:
    """Keys from HOMEWARD_DATA_KEYS (comma-separated, newest first). Outside production, a
    missing setting falls back to a key file created on first use, so that `make run` works
    from a fresh clone; production refuses to start without explicit keys."""
    if settings.data_keys is not None:
        raw = settings.data_keys.get_secret_value()
        keys = [k.strip().encode("ascii") for k in raw.split(",") if k.strip()]
        try:
            return DataCipher(keys)
        except ValueError as exc:
            raise KeyMissing(
                "HOMEWARD_DATA_KEYS must be Fernet keys (url-safe base64 of 32 bytes), "
                "separated by commas"
            ) from exc
    if settings.environment is Environment.PRODUCTION:
        raise KeyMissing("HOMEWARD_DATA_KEYS must be set in production")
    return DataCipher([_key_file(settings.data_key_file)])


def _key_file(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # Created readable by the owner only, in one step (no window with wider permissions).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key
