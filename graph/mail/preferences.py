"""How a person hears of their notices by mail, kept on the user: each one at once (the
default), one mail a day listing them, or none; and the language the mails are written in.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.errors import NotFound, ValidationFailed


class MailFrequency(StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"
    NONE = "none"


# An account that never chose hears of each notice at once, in English until it says
# otherwise.
DEFAULT_FREQUENCY = MailFrequency.IMMEDIATE
DEFAULT_LANGUAGE = "en"
# The language tags a person may choose: the catalogues' own (core.i18n).
LANGUAGES = ("en", "de", "sq", "sr-Latn", "sr-Cyrl")


class MailPreference(BaseModel):
    frequency: MailFrequency
    language: str


GET: LiteralString = """
MATCH (u:User {id: $id})
RETURN u.mail_frequency AS frequency, u.language AS language
"""


async def get_mail_preference(tx: AsyncManagedTransaction, *, user_id: str) -> MailPreference:
    record = await (await tx.run(GET, id=user_id)).single()
    if record is None:
        raise NotFound("user", user_id)
    return MailPreference(
        frequency=MailFrequency(record["frequency"] or DEFAULT_FREQUENCY),
        language=record["language"] or DEFAULT_LANGUAGE,
    )


# A person who turns to the digest is sent the notices from now on: those before were
# mailed already, or not wanted.
SET: LiteralString = """
MATCH (u:User {id: $id})
SET u.digest_until = CASE
      WHEN $frequency = 'digest' AND coalesce(u.mail_frequency, 'immediate') <> 'digest'
      THEN $now ELSE u.digest_until END,
    u.mail_frequency = $frequency, u.language = $language
RETURN u.mail_frequency AS frequency, u.language AS language
"""


async def set_mail_preference(
    tx: AsyncManagedTransaction,
    *,
    user_id: str,
    frequency: MailFrequency,
    language: str,
    now: datetime,
) -> MailPreference:
    """Store the person's choice; a language the product does not speak is refused."""
    if language not in LANGUAGES:
        raise ValidationFailed.single(
            "language", f"must be one of {', '.join(LANGUAGES)}, not {language!r}"
        )
    record = await (
        await tx.run(SET, id=user_id, frequency=frequency.value, language=language, now=now)
    ).single()
    if record is None:
        raise NotFound("user", user_id)
    return MailPreference(frequency=MailFrequency(record["frequency"]), language=record["language"])


FIRST_LANGUAGE: LiteralString = """
MATCH (u:User {id: $id}) WHERE u.language IS NULL
SET u.language = $language
"""


async def remember_language(tx: AsyncManagedTransaction, *, user_id: str, language: str) -> None:
    """The language a person signs in with is that of their mails until they choose one."""
    if language in LANGUAGES:
        await tx.run(FIRST_LANGUAGE, id=user_id, language=language)
