from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from core.crypto import DataCipher, KeyMissing, cipher_from_settings
from core.settings import Environment, Settings


def test_round_trip_and_ciphertext_hides_the_value() -> None:
    cipher = DataCipher([Fernet.generate_key()])
    token = cipher.encrypt("diabetes, insulin daily")
    assert token is not None
    assert "insulin" not in token
    assert cipher.decrypt(token) == "diabetes, insulin daily"
    assert cipher.encrypt(None) is None
    assert cipher.decrypt(None) is None


def test_rotation_keeps_old_values_readable_and_moves_them_to_the_new_key() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = DataCipher([old]).encrypt("note")
    assert token is not None
    both = DataCipher([new, old])
    rotated = both.rotate(token)
    assert DataCipher([new]).decrypt(rotated) == "note"
    with pytest.raises(KeyMissing, match="cannot be decrypted"):
        DataCipher([new]).decrypt(token)


def test_settings_keys_newest_first_and_bad_keys_are_named() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = DataCipher([old]).encrypt("x")
    cipher = cipher_from_settings(
        Settings(HOMEWARD_DATA_KEYS=SecretStr(f"{new.decode()}, {old.decode()}"))
    )
    assert cipher.decrypt(token) == "x"
    with pytest.raises(KeyMissing, match="Fernet keys"):
        cipher_from_settings(Settings(HOMEWARD_DATA_KEYS=SecretStr("not-a-key")))


def test_production_needs_explicit_keys(tmp_path: Path) -> None:
    settings = Settings(HOMEWARD_ENV=Environment.PRODUCTION, HOMEWARD_DATA_KEY_FILE=tmp_path / "k")
    with pytest.raises(KeyMissing, match="production"):
        cipher_from_settings(settings)


def test_development_key_file_is_created_once_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "data.key"
    first = cipher_from_settings(Settings(HOMEWARD_DATA_KEY_FILE=path))
    token = first.encrypt("kept")
    assert path.stat().st_mode & 0o777 == 0o600
    again = cipher_from_settings(Settings(HOMEWARD_DATA_KEY_FILE=path))
    assert again.decrypt(token) == "kept"
