"""Language tags used for multilingual labels, and how they map onto node properties."""

from __future__ import annotations

import re

# BCP 47 tags: an ISO 639 language, optionally a script ("sr-Latn", "sr-Cyrl").
LANGUAGE_TAG = re.compile(r"^[a-z]{2,3}(-[A-Z][a-z]{3})?$")
DEFAULT_LANGUAGE = "en"


def property_suffix(tag: str) -> str:
    """`sr-Latn` -> `sr_Latn`: Neo4j property names cannot hold a hyphen unquoted."""
    return tag.replace("-", "_")


def tag_from_suffix(suffix: str) -> str:
    return suffix.replace("_", "-")


def pick(labels: dict[str, str], lang: str | None) -> str:
    """The label in `lang`, falling back to the same language in another script, then English,
    then whatever exists, so that a field never comes back empty."""
    if lang:
        if lang in labels:
            return labels[lang]
        base = lang.split("-")[0]
        for tag, label in labels.items():
            if tag.split("-")[0] == base:
                return label
    if DEFAULT_LANGUAGE in labels:
        return labels[DEFAULT_LANGUAGE]
    return next(iter(labels.values()), "")
