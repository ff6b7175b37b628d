"""Language tags of multilingual labels, and how labels map onto node properties.

Labels per language are stored as one property per tag (`label_sq`, `name_sr_Cyrl`) rather
than as a map, because Neo4j properties cannot hold maps and a full-text index must name the
properties it covers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import pycountry

from core.text import sr_latin_to_cyrillic

# BCP 47 tags as used here: an ISO 639 language, optionally a script ("sr-Latn", "sr-Cyrl").
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?$")
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=4096)
def is_iso639(code: str) -> bool:
    """True for ISO 639-1 (`sq`) and ISO 639-2/3 (`rom`, `sqi`) language codes."""
    if len(code) == 2:
        return pycountry.languages.get(alpha_2=code) is not None
    if len(code) == 3:
        return pycountry.languages.get(alpha_3=code) is not None
    return False


def iso639_codes(values: list[str]) -> list[str]:
    """Distinct lower-case ISO 639 codes; raises ValueError (for pydantic) on any other."""
    codes = list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))
    for code in codes:
        if not is_iso639(code):
            raise ValueError(f"{code!r} is not an ISO 639 language code")
    return codes


def property_suffix(tag: str) -> str:
    """`sr-Latn` -> `sr_Latn`: Neo4j property names cannot hold a hyphen unquoted."""
    return tag.replace("-", "_")


def tag_from_suffix(suffix: str) -> str:
    return suffix.replace("_", "-")


def to_properties(prefix: str, labels: Mapping[str, str]) -> dict[str, str]:
    return {f"{prefix}_{property_suffix(tag)}": label for tag, label in labels.items()}


def from_properties(prefix: str, props: Mapping[str, Any]) -> dict[str, str]:
    start = f"{prefix}_"
    return {
        tag_from_suffix(key.removeprefix(start)): value
        for key, value in props.items()
        if key.startswith(start) and isinstance(value, str)
    }


def validate_labels(labels: dict[str, str], *, require_english: bool = True) -> dict[str, str]:
    """Shared rule of every multilingual label set; raises ValueError for pydantic."""
    for tag, label in labels.items():
        if not LANGUAGE_TAG.match(tag) or not is_iso639(tag.split("-")[0]):
            raise ValueError(f"{tag!r} is not a language tag such as 'sq' or 'sr-Cyrl'")
        if not label.strip():
            raise ValueError(f"label in {tag!r} is empty")
    if require_english and DEFAULT_LANGUAGE not in labels:
        raise ValueError("an English label ('en') is required")
    return labels


def plural_category(lang: str, n: int) -> str:
    """The CLDR plural category of the whole number n in `lang` ("sr-Latn" counts as "sr")."""
    n = abs(n)
    if lang.split("-")[0] == "sr":
        # 1, 21, 101 mesec; 2-4, 22-24 meseca; 5-20, 25-30, 111-114 meseci.
        if n % 10 == 1 and n % 100 != 11:
            return "one"
        if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
            return "few"
        return "other"
    return "one" if n == 1 else "other"


def pick(labels: Mapping[str, str], lang: str | None) -> str:
    """The label in `lang`, falling back to the same language in another script, then English,
    then whatever exists, so that a field never comes back empty. Serbian in Cyrillic that only
    exists in Latin is transliterated: the two scripts correspond letter for letter."""
    if lang:
        if lang in labels:
            return labels[lang]
        if lang == "sr-Cyrl" and "sr-Latn" in labels:
            return sr_latin_to_cyrillic(labels["sr-Latn"])
        base = lang.split("-")[0]
        for tag, label in labels.items():
            if tag.split("-")[0] == base:
                return label
    if DEFAULT_LANGUAGE in labels:
        return labels[DEFAULT_LANGUAGE]
    return next(iter(labels.values()), "")


def pick_counted(forms: Mapping[str, Mapping[str, str]], lang: str | None, n: int) -> str:
    """`pick` for a text that words the whole number n: `forms` holds, per language, one text
    per plural category it uses ("other" at least); each language's form for n is chosen,
    then the language as `pick` chooses it."""
    return pick(
        {tag: texts.get(plural_category(tag, n), texts["other"]) for tag, texts in forms.items()},
        lang,
    )
