"""Languages as a form offers them: by their names in the page's language (Babel's CLDR
data), never as ISO 639 codes for people to type."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from babel import Locale, UnknownLocaleError

# The languages returnees and the people who help them most often speak, in the countries of
# return and of departure the directory serves; a language chosen earlier is offered too.
SPOKEN = (
    "sq", "sr", "bs", "mk", "rom", "tr", "de", "en", "fr", "it",
    "ar", "fa", "ku", "ps", "ru", "uk", "ti", "so",
)  # fmt: skip


@cache
def _names(locale: str) -> dict[str, str]:
    try:
        return dict(Locale.parse(locale).languages)
    except (UnknownLocaleError, ValueError):
        return {}


def language_name(code: str, locale: str) -> str:
    """The name in the page's language, else in English, else the code itself."""
    return _names(locale).get(code) or _names("en").get(code) or code


def language_choices(locale: str, selected: Iterable[str] = ()) -> list[dict[str, str]]:
    """{code, label} of the languages to tick, in alphabetical order of their names."""
    codes = dict.fromkeys([*SPOKEN, *selected])
    choices = [{"code": c, "label": language_name(c, locale)} for c in codes]
    return sorted(choices, key=lambda c: c["label"].casefold())
