"""The product's words: complete catalogues in every language, plural forms by CLDR's rules,
every key that code and templates use present, and the translator's lookups."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_keywords, parse_mapping_cfg

from core import i18n
from core.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    CatalogueMissing,
    locale_for,
    message_key,
    read_catalogue,
    translator,
)
from core.text import sr_latin_to_cyrillic

ROOT = Path(__file__).parents[2]
# As `make messages` extracts them.
KEYWORDS = parse_keywords(["t", "tn:1,1"])
FIELDS = re.compile(r"\{(\w*)\}")
CLDR_ORDER = ("zero", "one", "two", "few", "many", "other")


def _texts(locale: str) -> dict[str, str | tuple[str, ...]]:
    return {
        message_key(m): m.string if isinstance(m.string, str) else tuple(m.string or ())
        for m in read_catalogue(locale)
        if m.id
    }


def test_every_message_is_worded_in_every_language_with_the_fields_of_english() -> None:
    english = _texts(DEFAULT_LOCALE)
    assert {"search.results", "followup.month", "match.distance", "column.organisation"} <= set(
        english
    )
    for locale in LOCALES:
        texts = _texts(locale)
        forms = read_catalogue(locale).num_plurals
        assert set(texts) == set(english), (locale, set(texts) ^ set(english))
        for key, text in texts.items():
            source = english[key]
            wanted = set(FIELDS.findall(source if isinstance(source, str) else source[-1]))
            if isinstance(source, str):
                assert isinstance(text, str), (locale, key)
                assert text.strip(), (locale, key)
                assert set(FIELDS.findall(text)) == wanted, (locale, key)
                continue
            assert isinstance(text, tuple), (locale, key)
            assert len(text) == forms, (locale, key, text)
            for form in text:
                assert form.strip(), (locale, key, text)
                # A form may leave out {count} ("one month") but names nothing English lacks.
                assert set(FIELDS.findall(form)) <= wanted | {"count"}, (locale, key, form)


def test_the_cyrillic_catalogue_is_the_latin_one_transliterated() -> None:
    english, latin, cyrillic = _texts("en"), _texts("sr_Latn"), _texts("sr_Cyrl")
    for key, text in latin.items():
        if isinstance(text, str):
            expected: str | tuple[str, ...] = (
                text if text == english[key] else sr_latin_to_cyrillic(text)
            )
        else:
            expected = tuple(sr_latin_to_cyrillic(form) for form in text)
        assert cyrillic[key] == expected, f"{key}: run `python -m core.i18n transliterate`"


def test_every_key_that_code_and_templates_use_is_in_the_catalogue() -> None:
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)  # type: ignore[no-untyped-call]
    used = [
        (filename, message)
        for filename, _, message, _, _ in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS
        )
    ]
    assert len(used) > 150  # the extraction sees the pages at all
    english = _texts(DEFAULT_LOCALE)
    for filename, message in used:
        key = message if isinstance(message, str) else message[0]
        assert key in english, f"{filename} uses {key!r}, which has no message"
        # tn() for a message with plural forms, t() for one without.
        assert isinstance(english[key], str) == isinstance(message, str), (filename, key)


@pytest.mark.parametrize("locale", LOCALES)
def test_plural_forms_follow_cldr(locale: str) -> None:
    """The catalogue's Plural-Forms choose, for every count, the form of CLDR's category."""
    rule = Locale.parse(locale).plural_form
    categories = [c for c in CLDR_ORDER if c in rule.tags | {"other"}]
    choose = i18n._messages(locale).plural_form
    for n in range(0, 1100):
        assert categories[choose(n)] == rule(n), (locale, n)


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("de", ["1 Monat nach der Ankunft", "2 Monate nach der Ankunft",
                "5 Monate nach der Ankunft", "21 Monate nach der Ankunft"]),
        ("sq", ["1 muaj pas mbërritjes", "2 muaj pas mbërritjes",
                "5 muaj pas mbërritjes", "21 muaj pas mbërritjes"]),
        ("sr", ["1 mesec posle dolaska", "2 meseca posle dolaska", "5 meseci posle dolaska",
                "21 mesec posle dolaska"]),
        ("sr-Cyrl", ["1 месец после доласка", "2 месеца после доласка",
                     "5 месеци после доласка", "21 месец после доласка"]),
    ],
)  # fmt: skip
def test_counts_take_the_form_of_their_language(tag: str, expected: list[str]) -> None:
    t = translator(tag)
    assert [t.counted("followup.month", n) for n in (1, 2, 5, 21)] == expected


def test_the_translator_picks_the_form_of_the_count() -> None:
    sr = translator("sr")
    worded = [sr.counted("followup.month", n) for n in (11, 22, 25, 111, 112)]
    assert worded == [
        "11 meseci posle dolaska",
        "22 meseca posle dolaska",
        "25 meseci posle dolaska",
        "111 meseci posle dolaska",
        "112 meseci posle dolaska",
    ]
    en = translator("en")
    assert en.counted("search.results", 1, place="Prizren") == "1 partner near Prizren"
    assert en.counted("search.results", 0, place="Prizren") == "0 partners near Prizren"
    assert translator("sq").counted("search.results", 3, place="Pejë") == "3 partnerë pranë Pejë"
    # A counted text may name another number as {count}: the form follows the one passed.
    assert (
        translator("sr-Latn").counted("match.answers_hours", 3, hours=3, count=7)
        == "odgovara za 3 sata (medijana od 7 upućivanja)"
    )


def test_a_message_called_the_wrong_way_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"search\.results.*count"):
        translator("en")("search.results", place="Prizren")
    with pytest.raises(TypeError, match=r"search\.title.*no count"):
        translator("en").counted("search.title", 2)
    with pytest.raises(KeyError, match=r"no\.such"):
        translator("de")("no.such")


@pytest.mark.parametrize(
    ("tag", "locale"),
    [
        (None, "en"),
        ("en", "en"),
        ("de", "de"),
        ("de-AT", "de"),
        ("sq", "sq"),
        ("sr", "sr_Latn"),
        ("sr-Latn", "sr_Latn"),
        ("sr-Cyrl", "sr_Cyrl"),
        ("sr_Cyrl", "sr_Cyrl"),
        ("fr", "en"),
    ],
)
def test_language_tags_map_to_catalogues(tag: str | None, locale: str) -> None:
    assert locale_for(tag) == locale


def test_numbers_are_written_as_the_language_writes_them() -> None:
    assert translator("en").decimal(12.25, 1) == "12.2"
    assert translator("de").decimal(12.25, 1) == "12,2"
    assert translator("sr").decimal(0.857, 2) == "0,86"
    assert translator("sq").decimal(86) == "86"


def test_a_missing_catalogue_says_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    with pytest.raises(CatalogueMissing, match=r"no message catalogue for 'de' at .*messages\.po"):
        read_catalogue("de")
    broken = tmp_path / "sq" / "LC_MESSAGES" / "messages.po"
    broken.parent.mkdir(parents=True)
    broken.write_text('msgid "a"\nbogus\n', encoding="utf-8")
    with pytest.raises(CatalogueMissing, match="cannot be read"):
        read_catalogue("sq")


def test_a_compiled_catalogue_missing_or_older_than_its_source_says_how_to_mend_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = i18n.catalogue_path("de")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    copy = i18n.catalogue_path("de")
    copy.parent.mkdir(parents=True)
    copy.write_bytes(source.read_bytes())
    with pytest.raises(CatalogueMissing, match=r"no compiled message catalogue .*make install"):
        i18n._compiled("de")
    compiled = i18n.compiled_path("de")
    compiled.write_bytes(b"not a catalogue")
    with pytest.raises(CatalogueMissing, match="cannot be read"):
        i18n._compiled("de")
    os.utime(compiled, (1_000_000, 1_000_000))  # older than the .po: an edit not compiled
    with pytest.raises(CatalogueMissing, match=r"older than .*make install"):
        i18n._compiled("de")


def test_every_catalogue_loads_at_start_up() -> None:
    i18n.load_all()
    assert {i18n._messages(locale).texts["app.name"] for locale in LOCALES} == {"Homeward"}


def test_dates_are_written_as_each_language_writes_them() -> None:
    assert translator("en").date("2026-12-05") == "Dec 5, 2026"
    assert translator("de").date("2026-12-05T10:30:00+00:00") == "05.12.2026"
    assert translator("sq").date(None) == ""
    assert "2026" in translator("sr-Cyrl").date("2026-12-05")
    assert translator("de").moment("2026-12-05T10:30:00+00:00") == "05.12.26, 10:30"
