"""The product's own words in every language it speaks: one gettext catalogue per language,
`core/locale/<locale>/LC_MESSAGES/messages.po`, looked up by key.

Messages are keyed ("search.results", "match.distance", "column.organisation") rather than
keyed by their English text, so that rewording the English does not orphan a translation; the
English catalogue holds the English words like every other language. A message that words a
count has a `msgid_plural` (the key again) and one text per plural form of its language, chosen
by the catalogue's Plural-Forms, which Babel writes from CLDR's plural rules.

Names of needs, areas and target groups are not here: they are the directory's multilingual
data. Words accepted on input (a sheet's header aliases, "ja" for yes) are not here either:
they are vocabularies to recognise, not translations to show.

At run time the catalogues are the compiled .mo files beside the .po files, which `make
install` writes with `pybabel compile` (git-ignored; a .mo loads in well under a millisecond,
a .po takes some 20 ms to parse). A .mo that is missing or older than its .po stops the
application at start-up with the command that mends it, so an edited catalogue is never
served stale. The .po files stay the source that people and `make messages` edit.

`python -m core.i18n template` and `python -m core.i18n transliterate` are the two steps of
`make messages` that pybabel cannot do (see the Makefile).
"""

from __future__ import annotations

import gettext
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal

from core.text import sr_latin_to_cyrillic

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
# Babel locale identifiers of the catalogues; English is the source of every other one.
DEFAULT_LOCALE = "en"
LOCALES = ("en", "de", "sq", "sr_Latn", "sr_Cyrl")
# The language tags the product speaks (BCP 47, as in labels and `lang` arguments) -> locale.
# Plain Serbian is Serbian in Latin script, as the directory's labels are.
TAG_LOCALES = {
    "en": "en",
    "de": "de",
    "sq": "sq",
    "sr": "sr_Latn",
    "sr-Latn": "sr_Latn",
    "sr-Cyrl": "sr_Cyrl",
}


class CatalogueMissing(RuntimeError):
    """A language's catalogue file is absent or unreadable: a broken checkout or install."""


def locale_for(tag: str | None) -> str:
    """The catalogue for a language tag: the tag's own, else its language's ("de-AT" is German,
    "sr-Latn-RS" Serbian in Latin script), else English, as every label falls back."""
    if not tag:
        return DEFAULT_LOCALE
    tag = tag.replace("_", "-")
    if tag in TAG_LOCALES:
        return TAG_LOCALES[tag]
    return TAG_LOCALES.get(tag.split("-")[0], DEFAULT_LOCALE)


def catalogue_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalogue(locale: str) -> Catalog:
    path = catalogue_path(locale)
    try:
        with path.open("rb") as po:
            return read_po(po, locale=locale, domain=DOMAIN, abort_invalid=True)
    except FileNotFoundError:
        raise CatalogueMissing(
            f"no message catalogue for {locale!r} at {path}: the checkout is incomplete"
        ) from None
    except Exception as exc:  # babel's PoFileError, or a header it cannot parse
        raise CatalogueMissing(f"message catalogue {path} cannot be read: {exc}") from exc


def message_key(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


@dataclass(frozen=True, slots=True)
class _Messages:
    """One catalogue as looked up: key -> text, or texts by plural form for a counted one."""

    texts: dict[str, str | tuple[str, ...]]
    plural_form: Callable[[int], int]  # n -> its form, by the catalogue's Plural-Forms


def compiled_path(locale: str) -> Path:
    return catalogue_path(locale).with_suffix(".mo")


def _compiled(locale: str) -> gettext.GNUTranslations:
    source, compiled = catalogue_path(locale), compiled_path(locale)
    mend = "run `make install` (it compiles the catalogues with pybabel)"
    try:
        if compiled.stat().st_mtime < source.stat().st_mtime:
            raise CatalogueMissing(f"message catalogue {compiled} is older than {source}: {mend}")
        with compiled.open("rb") as mo:
            return gettext.GNUTranslations(mo)
    except FileNotFoundError:
        raise CatalogueMissing(
            f"no compiled message catalogue for {locale!r} at {compiled}: {mend}"
        ) from None
    except OSError as exc:  # gettext's "bad magic number" and other unreadable files
        raise CatalogueMissing(f"message catalogue {compiled} cannot be read: {exc}") from exc


@cache
def _messages(locale: str) -> _Messages:
    translations = _compiled(locale)
    # GNUTranslations keeps a plain message under its id and a counted one under
    # (id, form); pybabel leaves untranslated (empty) messages out, so English fills them.
    catalog: dict[str | tuple[str, int], str] = translations._catalog  # type: ignore[attr-defined]
    texts: dict[str, str | tuple[str, ...]] = {}
    forms: dict[str, dict[int, str]] = {}
    for key, text in catalog.items():
        if isinstance(key, tuple):
            forms.setdefault(key[0], {})[key[1]] = text
        elif key:  # "" is the header
            texts[key] = text
    for key, by_form in forms.items():
        texts[key] = tuple(by_form[i] for i in range(len(by_form)))
    return _Messages(texts=texts, plural_form=translations.plural)  # type: ignore[attr-defined]


def _lookup(locale: str, key: str) -> str | tuple[str, ...]:
    """A message, falling back to English for one added but not translated yet (empty)."""
    text = _messages(locale).texts.get(key)
    if not text or (isinstance(text, tuple) and not all(text)):
        text = _messages(DEFAULT_LOCALE).texts.get(key)
    if text is None:
        raise KeyError(f"no message {key!r} in the English catalogue")
    return text


@dataclass(frozen=True, slots=True)
class Translator:
    """The words of one language. `t(key, **values)` for a message, `t.counted(key, n,
    **values)` for one that words the whole number n (in the form n takes in this language);
    `{name}` fields are filled from values, and `{count}` from n unless values name it."""

    locale: str

    def __call__(self, key: str, **values: Any) -> str:
        text = _lookup(self.locale, key)
        if isinstance(text, tuple):
            raise TypeError(f"message {key!r} words a count: use counted({key!r}, count=n)")
        return text.format(**values) if values else text

    def counted(self, key: str, n: int, /, **values: Any) -> str:
        if not isinstance(n, int):
            raise TypeError(f"message {key!r} words a count: pass the whole number")
        forms = _lookup(self.locale, key)
        if isinstance(forms, str):
            raise TypeError(f"message {key!r} words no count: call it without one")
        text = forms[_messages(self.locale).plural_form(abs(n))]
        return text.format(**({"count": n} | values))

    def date(self, value: date | datetime | str | None) -> str:
        """A day as the language writes it ("5 Dec 2026", "05.12.2026"); ISO text (as GraphQL
        sends dates and instants) is read first; nothing for no date."""
        if value is None or value == "":
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        day = value.date() if isinstance(value, datetime) else value
        return format_date(day, format="medium", locale=self.locale)

    def moment(self, value: datetime | str) -> str:
        """An instant to the minute as the language writes it, in UTC as stored."""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return format_datetime(value, format="short", tzinfo=value.tzinfo, locale=self.locale)

    def decimal(self, value: float, digits: int = 0) -> str:
        """A number as the language writes it: "12.5" in English, "12,5" in German."""
        pattern = "#,##0." + "0" * digits if digits else "#,##0"
        return format_decimal(value, format=pattern, locale=self.locale)


@cache
def translator(tag: str | None) -> Translator:
    """The translator for a language tag (see `locale_for`)."""
    locale = locale_for(tag)
    _messages(locale)  # a missing catalogue fails here, not in the middle of a page
    return Translator(locale)


def load_all() -> None:
    """Read every catalogue now, so that a missing or broken one stops the application at
    start-up with the file's name, not a page or a search later."""
    for locale in LOCALES:
        _messages(locale)


# --- maintenance: the steps of `make messages` pybabel cannot do ---------------------------


def write_catalogue(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as po:
        write_po(po, catalog, width=100, omit_header=False)


def template(extracted: Path) -> list[str]:
    """Make the template that pybabel updates every catalogue from: the English catalogue's
    messages without their words, plus any key that code or a template uses (as extracted into
    `extracted`) and English lacks, which is added to the English catalogue with an empty text
    for its author to write. Keys made up at run time ("status." + status) are never found by
    extraction; taking the English catalogue as the template keeps them. Returns the keys
    added."""
    english = read_catalogue(DEFAULT_LOCALE)
    with extracted.open("rb") as pot:
        found = read_po(pot)
    added = []
    for message in found:
        if message.id and message_key(message) not in english:
            english.add(message.id, "" if isinstance(message.id, str) else ("", ""))
            added.append(message_key(message))
    if added:
        write_catalogue(english, catalogue_path(DEFAULT_LOCALE))
    blank = Catalog(project="Homeward", domain=DOMAIN, fuzzy=False)
    for message in english:
        if message.id:
            string = "" if isinstance(message.id, str) else ("", "")
            blank.add(message.id, string, auto_comments=message.auto_comments)
    write_catalogue(blank, extracted)
    return added


def transliterate() -> None:
    """Write the Serbian Cyrillic catalogue from the Latin one, letter for letter. Words left
    as in English (the product's name, number ranges) stay as they are."""
    latin = read_catalogue("sr_Latn")
    english = _english_strings()
    cyrillic = Catalog(
        locale="sr_Cyrl",
        project="Homeward",
        domain=DOMAIN,
        fuzzy=False,
        header_comment="# The words of Homeward in Serbian (Cyrillic script), keyed by message id\n"
        "# (see core/i18n.py). Written from sr_Latn by `python -m core.i18n transliterate`.",
    )
    for message in latin:
        if not message.id:
            continue
        same = english.get(message_key(message))
        if isinstance(message.string, str):
            string: str | tuple[str, ...] = (
                message.string if message.string == same else sr_latin_to_cyrillic(message.string)
            )
        else:
            string = tuple(sr_latin_to_cyrillic(s) for s in message.string or ())
        cyrillic.add(message.id, string, auto_comments=message.auto_comments)
    write_catalogue(cyrillic, catalogue_path("sr_Cyrl"))


def _english_strings() -> dict[str, str]:
    return {
        message_key(m): m.string
        for m in read_catalogue(DEFAULT_LOCALE)
        if m.id and isinstance(m.string, str)
    }


def main(argv: list[str]) -> int:
    if argv[:1] == ["template"] and len(argv) == 2:
        for key in template(Path(argv[1])):
            print(f"new message {key!r}: write its English in {catalogue_path(DEFAULT_LOCALE)}")
        return 0
    if argv == ["transliterate"]:
        transliterate()
        return 0
    print("usage: python -m core.i18n template <extracted.pot> | transliterate", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
