"""The one mapping table of the spreadsheet import: every column it knows, the other headers
it accepts, and the words accepted for choices (delivery, capacity). Its header in each
language of the template is a message of the catalogues (`column.<key>`, see core.i18n).

Headers match case-, diacritics-, script- and punctuation-insensitively (`header_key`), so
"Organisation", "ORGANIZATION", "Organizata" and "Организација" all name one column. The
downloadable template is generated from this table, so what it offers is what is read.
"""

from __future__ import annotations

import gettext
import re
from dataclasses import dataclass, field
from functools import cache

import pycountry

from core.i18n import translator
from core.text import fold

# The languages of the template: `sr` is Serbian in Latin script, `sr-Cyrl` in Cyrillic.
TEMPLATE_LANGUAGES = ("en", "de", "sq", "sr-Latn", "sr-Cyrl")


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    help: str  # for the instructions sheet (English; the headers carry the language)
    example: str  # the template's example row (illustrative)
    required: bool = False
    aliases: tuple[str, ...] = ()  # further headers read, any language

    @property
    def headers(self) -> dict[str, str]:
        """Language tag -> the header the template writes, from the catalogues (core/locale,
        `column.<key>`)."""
        return _headers(self.key)

    def header(self, lang: str) -> str:
        return translator(lang)(f"column.{self.key}")


@cache
def _headers(key: str) -> dict[str, str]:
    return {tag: translator(tag)(f"column.{key}") for tag in TEMPLATE_LANGUAGES}


# Order is the template's column order.
COLUMNS: tuple[Column, ...] = (
    Column(
        "organisation",
        "Name of the organisation that offers the service (or its Homeward id). An "
        "organisation already in the directory is matched by name, alternate name or acronym "
        "in any spelling; a new one is created.",
        "Example Organisation (illustrative)",
        required=True,
        aliases=(
            "organization",
            "organisation name",
            "organization name",
            "provider",
            "träger",
            "anbieter",
            "organizatë",
            "emri i organizatës",
            "naziv organizacije",
        ),
    ),
    Column(
        "service",
        "Name of the service, as returnees and counsellors know it.",
        "Job placement for returnees (illustrative)",
        required=True,
        aliases=(
            "service",
            "name",
            "dienst",
            "dienstleistung",
            "angebotsname",
            "name des angebots",
            "shërbimi",
            "sherbim",
            "usluga",
            "naziv",
        ),
    ),
    Column(
        "description",
        "What the service does, for whom, how to reach it.",
        "Counselling and placement with local employers; appointments by phone.",
        aliases=("details", "përshkrim"),
    ),
    Column(
        "needs",
        "Needs the service answers: need codes or names in any language, separated by ';' "
        "(see the Needs sheet).",
        "employment.job-placement; employment.vocational-training",
        required=True,
        aliases=("need", "bedarf", "nevoja", "potreba", "kategorie", "category", "categories"),
    ),
    Column(
        "areas",
        "Municipalities, regions or countries the service covers: names in any language or "
        "script, or area ids, separated by ';' (see the Areas sheet). Empty: a remote service.",
        "Prizren; Pejë",
        aliases=(
            "municipality",
            "areas",
            "area",
            "coverage",
            "gemeinde",
            "region",
            "regionen",
            "komuna",
            "opština",
            "opstina",
            "mesto",
            "place",
            "places",
            "ort",
            "orte",
        ),
    ),
    Column(
        "languages",
        "Languages spoken with clients: ISO 639 codes or names in any language ('sq', "
        "'Albanian', 'shqip', 'Deutsch'), separated by ';'.",
        "sq; sr; de",
        aliases=("language", "sprache", "gjuha", "gjuhe", "jezik"),
    ),
    Column(
        "target_groups",
        "Who the service is for: target group codes or names, separated by ';' (see the "
        "Target groups sheet). Empty: everyone.",
        "forced-returnees; families-small-children",
        aliases=("target group", "zielgruppe", "grupi i synuar", "ciljna grupa", "for whom"),
    ),
    Column(
        "delivery",
        "in person, remote or outreach (several separated by ';'). Empty: in person when "
        "municipalities are given, else remote.",
        "in person",
        aliases=("delivery mode", "erbringungsart", "mënyra", "način"),
    ),
    Column(
        "phone",
        "The organisation's phone number (used when the organisation is created).",
        "+383 44 000 000 (illustrative)",
        aliases=("telephone", "tel", "phone number", "telefonnummer", "numri i telefonit"),
    ),
    Column(
        "email",
        "The organisation's e-mail address (used when the organisation is created).",
        "info@example.org",
        aliases=("mail", "email address", "e-mail-adresse", "posta elektronike", "imejl"),
    ),
    Column(
        "website",
        "The organisation's website (used when the organisation is created).",
        "https://example.org",
        aliases=("web", "url", "homepage", "internetseite", "faqja", "sajt", "internet stranica"),
    ),
    Column(
        "country",
        "Country of a new organisation (code such as XK, or name). Empty: the country of its "
        "first municipality.",
        "XK",
        aliases=("staat", "vendi", "drzava"),
    ),
    Column(
        "eligibility",
        "Who may use the service, in a sentence.",
        "Returnees registered with the municipal office for returns.",
        aliases=("eligibility criteria", "zugangsvoraussetzungen", "kriteret", "uslovi korišćenja"),
    ),
    Column(
        "minimum_age",
        "Youngest age served, in years.",
        "18",
        aliases=("min age", "age from", "alter ab", "mosha nga", "uzrast od"),
    ),
    Column(
        "maximum_age",
        "Oldest age served, in years.",
        "",
        aliases=("max age", "age to", "alter bis", "mosha deri", "uzrast do"),
    ),
    Column(
        "capacity",
        "available, limited, full or unknown.",
        "available",
        aliases=("free places", "freie plätze", "vende të lira", "slobodna mesta"),
    ),
    Column(
        "id",
        "Optional: your own stable id for the service (letters, digits, '.', '-', '_'). "
        "Empty: the id is derived from organisation and service name, so importing the same "
        "sheet again updates the same services.",
        "EXAMPLE",
        aliases=("id", "service id", "identifier", "kennung"),
    ),
)

COLUMN_BY_KEY = {c.key: c for c in COLUMNS}

# The template's example row carries this in its id column; rows marked so are skipped.
EXAMPLE_MARK = "EXAMPLE"

_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]|\*")


def header_key(text: str) -> str:
    """What headers are compared on: no notes in brackets, no required-marks, folded,
    without spaces and punctuation ("E-Mail *" and "email" are one)."""
    return fold(_PARENTHESES.sub(" ", text)).replace(" ", "")


@cache
def header_index() -> dict[str, str]:
    """Header key -> column key, for every header of every language and every alias."""
    index: dict[str, str] = {}
    for column in COLUMNS:
        for text in (*column.headers.values(), *column.aliases, column.key):
            key = header_key(text)
            owner = index.setdefault(key, column.key)
            # Two columns must never claim the same header, or a sheet would be misread.
            assert owner == column.key, f"header {text!r} names {owner} and {column.key}"
    return index


# --- choices ------------------------------------------------------------------------------

# Value -> words accepted for it (folded on use); the value itself is always accepted.
DELIVERY_WORDS: dict[str, tuple[str, ...]] = {
    "in_person": ("in person", "on site", "vor ort", "persönlich", "präsenz", "në person",
                  "fizikisht", "lično", "licno", "uživo"),
    "remote": ("online", "phone", "by phone", "telefonisch", "remote", "aus der ferne",
               "në distancë", "online", "na daljinu", "telefonom"),
    "outreach": ("mobile", "home visits", "aufsuchend", "hausbesuche", "në terren",
                 "terenski", "na terenu"),
}  # fmt: skip
CAPACITY_WORDS: dict[str, tuple[str, ...]] = {
    "available": ("yes", "open", "verfügbar", "frei", "offen", "ja", "në dispozicion", "po",
                  "ka vende", "dostupno", "da", "slobodno"),
    "limited": ("few places", "begrenzt", "eingeschränkt", "wenige plätze", "e kufizuar",
                "pak vende", "ograničeno", "ograniceno"),
    "full": ("no", "none", "voll", "ausgebucht", "keine plätze", "nein", "plot", "jo",
             "nuk ka vende", "popunjeno", "puno", "ne"),
    "unknown": ("?", "unbekannt", "e panjohur", "nepoznato"),
}  # fmt: skip


def choice_index(words: dict[str, tuple[str, ...]]) -> dict[str, str]:
    index: dict[str, str] = {}
    for value, texts in words.items():
        for text in (value, value.replace("_", " "), *texts):
            index.setdefault(fold(text), value)
    return index


# --- languages by name ----------------------------------------------------------------------

# Names pycountry's translations lack: Albanian names of languages, and endonyms.
LANGUAGE_NAMES: dict[str, tuple[str, ...]] = {
    "sq": ("shqip", "shqipe", "gjuha shqipe"),
    "sr": ("serbisht", "srpski", "srpski jezik"),
    "de": ("gjermanisht",),
    "en": ("anglisht",),
    "rom": ("romani", "romanes", "romisht", "rome", "romski"),
    "tr": ("turqisht", "türkçe"),
    "bs": ("boshnjakisht", "bosanski", "bosnjacki"),
    "hr": ("kroatisht", "hrvatski"),
    "mk": ("maqedonisht", "makedonski"),
    "ar": ("arabisht", "العربية"),
    "fa": ("persisht", "farsi", "dari"),
    "fr": ("frengjisht", "français"),
    "it": ("italisht", "italiano"),
    "ru": ("rusisht", "русский"),
    "ku": ("kurdisht", "kurdî"),
}
# Translations of ISO 639 names shipped with pycountry, for the template's languages.
_TRANSLATIONS = ("de", "sq", "sr", "sr@latin")
# Languages looked up by name: those with a two-letter code, and Romani.
_EXTRA_LANGUAGES = ("rom",)


@cache
def language_index() -> dict[str, str]:
    """Folded language name (English, German, Albanian, Serbian, endonym) or code -> the
    ISO 639 code stored (two letters where there are, else three)."""
    translations = [
        gettext.translation("iso639-3", pycountry.LOCALES_DIR, languages=[t], fallback=True)
        for t in _TRANSLATIONS
    ]
    index: dict[str, str] = {}
    for language in pycountry.languages:
        code = getattr(language, "alpha_2", None)
        if code is None and language.alpha_3 not in _EXTRA_LANGUAGES:
            continue
        code = code or language.alpha_3
        names = {language.name, getattr(language, "common_name", language.name)}
        for t in translations:
            names.add(t.gettext(language.name))
        for name in names:
            for part in name.split(";"):  # "Romani; Zigeunersprache"
                if part.strip():
                    index.setdefault(fold(part), code)
        index.setdefault(fold(code), code)
        index.setdefault(fold(language.alpha_3), code)
    for code, own_names in LANGUAGE_NAMES.items():
        for name in own_names:
            index[fold(name)] = code
    return index


@dataclass
class HeaderMap:
    """The columns a file has: column key -> (position, header as written)."""

    positions: dict[str, tuple[int, str]] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)

    def header(self, key: str) -> str:
        found = self.positions.get(key)
        return found[1] if found else COLUMN_BY_KEY[key].headers["en"]
