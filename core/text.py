"""Folding of names so that any spelling a counsellor types finds the same record.

"Peć", "Pec", "Пећ" and "PEĆ" all fold to "pec": Serbian Cyrillic is transliterated to Latin
first, then diacritics are dropped and case is folded.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import TypeVar

# Serbian Cyrillic to Gaj's Latin alphabet (the official correspondence, one to one or two).
_SR_CYRL_TO_LATN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "ђ": "đ", "е": "e", "ж": "ž", "з": "z",
    "и": "i", "ј": "j", "к": "k", "л": "l", "љ": "lj", "м": "m", "н": "n", "њ": "nj", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "ћ": "ć", "у": "u", "ф": "f", "х": "h", "ц": "c",
    "ч": "č", "џ": "dž", "ш": "š",
}  # fmt: skip
# Letters that Unicode decomposition leaves whole.
_SPECIAL = {"đ": "dj", "ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ı": "i", "ł": "l"}
_SPACES = re.compile(r"[\s\-‐–—_'’`.,/()]+")


def _transliteration() -> dict[int, str]:
    table: dict[int, str] = {}
    # Every letter whose lower case is in the table is a Cyrillic capital (U+0400-U+042F).
    for code in range(0x0400, 0x0530):
        ch = chr(code)
        latin = _SR_CYRL_TO_LATN.get(ch.lower())
        if latin is not None:
            table[code] = latin if ch == ch.lower() else latin[0].upper() + latin[1:]
    return table


# `str.translate` tables: folding runs for every name and description written, so it must
# not loop over characters in Python.
_TRANSLITERATE = _transliteration()
_SPECIAL_TABLE = {ord(k): v for k, v in _SPECIAL.items()}


def sr_cyrillic_to_latin(text: str) -> str:
    return text.translate(_TRANSLITERATE)


_SR_LATN_TO_CYRL = {latin: cyrillic for cyrillic, latin in _SR_CYRL_TO_LATN.items()}
# A `{placeholder}` (kept as it is), a digraph, or one letter; digraphs first, since "lj",
# "nj" and "dž" are one Cyrillic letter each (љ, њ, џ).
# The product's name is a name, not a Serbian word: it stays in Latin letters, like placeholders.
_SR_LATIN_UNIT = re.compile(r"\bHomeward\b|\{[^}]*\}|dž|lj|nj|[a-zčćđšž]", re.IGNORECASE)


def sr_latin_to_cyrillic(text: str) -> str:
    """Serbian written in Gaj's Latin alphabet, in Cyrillic; `{placeholders}` of templates, the
    product's name and letters Serbian does not use (q, w, x, y) are left as they are. Reads
    the digraphs as one letter each, which is right for every text here; a few loanwords
    ("injekcija") would need a dictionary."""

    def one(unit: re.Match[str]) -> str:
        latin = unit.group(0)
        cyrillic = _SR_LATN_TO_CYRL.get(latin.lower())
        if cyrillic is None:
            return latin
        return cyrillic.upper() if latin[0].isupper() else cyrillic

    return _SR_LATIN_UNIT.sub(one, text)


def fold(text: str) -> str:
    """The search key of a name: transliterated, without diacritics, lower case, single-spaced."""
    if text.isascii():
        # Nothing to transliterate or decompose; casefold is lower for ASCII.
        return _SPACES.sub(" ", text.lower()).strip()
    latin = text.translate(_TRANSLITERATE).casefold().translate(_SPECIAL_TABLE)
    stripped = "".join(
        ch for ch in unicodedata.normalize("NFKD", latin) if not unicodedata.combining(ch)
    )
    return _SPACES.sub(" ", stripped).strip()


def search_keys(names: list[str]) -> list[str]:
    """Distinct folded keys of all given names, in a stable order."""
    seen: dict[str, None] = {}
    for name in names:
        key = fold(name)
        if key:
            seen.setdefault(key, None)
    return list(seen)


def distinct(values: list[str]) -> list[str]:
    """Stripped, without blanks and repeats, in the order given."""
    return list(dict.fromkeys(v.strip() for v in values if v.strip()))


def close_matches(
    value: str, choices: Mapping[str, str], *, n: int = 3, cutoff: float = 0.6
) -> tuple[str, ...]:
    """What `value` was probably meant to be, for a "did you mean ..." hint: `choices` maps
    folded names to what to suggest (a code, an id, a name), best match first."""
    close = difflib.get_close_matches(fold(value), list(choices), n=n, cutoff=cutoff)
    return tuple(dict.fromkeys(choices[k] for k in close))


def did_you_mean(suggestions: tuple[str, ...]) -> str:
    return f"; did you mean {', '.join(suggestions)}?" if suggestions else ""


# What a spreadsheet reads as the start of a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A signed number or phone number ("-0.25", "+383 38 000 000"): digits, spaces, dots,
# brackets, slashes and dashes call no function and reference no cell, so it stays data.
_PLAIN_NUMBER = re.compile(r"[+-][0-9][0-9 ().,/-]*")


def spreadsheet_safe(value: str) -> str:
    """A cell a spreadsheet shows as text: a value that would start a formula (a service
    named `=HYPERLINK(...)`) gets a leading apostrophe, which spreadsheets display as
    nothing and which keeps the formula from running when the file is opened. Every CSV
    Homeward writes passes its cells through here (`spreadsheet_row`)."""
    if value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value


T = TypeVar("T")


def spreadsheet_row(values: Iterable[T]) -> list[T | str]:
    """A row for `csv.writer`: text cells made safe, numbers and empty cells as they are."""
    return [spreadsheet_safe(v) if isinstance(v, str) else v for v in values]


def spreadsheet_unsafe(value: str) -> str:
    """What `spreadsheet_safe` was given, for reading back a file Homeward wrote."""
    if value.startswith("'") and spreadsheet_safe(value[1:]) == value:
        return value[1:]
    return value
