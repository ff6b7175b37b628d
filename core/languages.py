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


def language_code(name: str) -> str | None:
    """The ISO 639 code (alpha-2 where there is one) of a language named in English
    ("Albanian", "Serbian"), or given by a code; None when pycountry knows no such language."""
    value = name.strip()
    if is_iso639(value.lower()):
        return value.lower()
    try:
        found = pycountry.languages.lookup(value)
    except LookupError:
        return None
    return str(getattr(found, "alpha_2", None) or found.alpha_3)


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
