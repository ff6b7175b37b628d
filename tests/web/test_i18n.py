"""The words of the web pages: plural forms by CLDR category, and a catalogue in which every
language words each count in all of its categories."""

from __future__ import annotations

import pytest

from core.languages import plural_category
from web.i18n import (
    CATALOGUE,
    EN,
    PLURAL_CATEGORIES,
    plural_keys,
    translator,
)


@pytest.mark.parametrize("lang", ["en", "de", "sq"])
def test_one_is_singular_and_every_other_number_plural(lang: str) -> None:
    assert plural_category(lang, 1) == "one"
    for n in (0, 2, 5, 11, 21, 22, 101):
        assert plural_category(lang, n) == "other", n


@pytest.mark.parametrize(
    ("n", "category"),
    [
        (1, "one"),
        (2, "few"),
        (4, "few"),
        (5, "other"),
        (11, "other"),
        (12, "other"),
        (14, "other"),
        (21, "one"),
        (22, "few"),
        (25, "other"),
        (0, "other"),
        (101, "one"),
        (104, "few"),
        (111, "other"),
        (112, "other"),
    ],
)
def test_serbian_counts_by_last_digits(n: int, category: str) -> None:
    assert plural_category("sr", n) == category
    assert plural_category("sr-Latn", n) == category


def test_every_counted_message_has_each_form_of_each_language() -> None:
    assert {"search.results", "followup.month"} <= plural_keys()
    for lang, messages in CATALOGUE.items():
        for key in plural_keys():
            forms = {k.split("|")[1] for k in messages if k.split("|")[0] == key and "|" in k}
            # A language words a count in all of its forms, or leaves it to English.
            assert forms in (set(), set(PLURAL_CATEGORIES[lang])), (lang, key, forms)
        unknown = {k.split("|")[0] for k in messages} - {k.split("|")[0] for k in EN}
        assert not unknown, f"{lang} has words English lacks: {sorted(unknown)}"


def test_the_translator_picks_the_form_of_the_count() -> None:
    sr = translator("sr")
    worded = [sr("followup.month", count=n) for n in (1, 2, 5, 11, 21, 22, 25)]
    assert worded == [
        "1 mesec posle dolaska",
        "2 meseca posle dolaska",
        "5 meseci posle dolaska",
        "11 meseci posle dolaska",
        "21 mesec posle dolaska",
        "22 meseca posle dolaska",
        "25 meseci posle dolaska",
    ]
    en = translator("en")
    assert en("search.results", count=1, place="Prizren") == "1 partner near Prizren"
    assert en("search.results", count=0, place="Prizren") == "0 partners near Prizren"
    assert translator("de")("followup.month", count=1) == "1 Monat nach der Ankunft"
    assert translator("de")("followup.month", count=6) == "6 Monate nach der Ankunft"
    assert translator("sq")("search.results", count=3, place="Pejë") == "3 partnerë pranë Pejë"


def test_a_counted_message_without_its_count_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match=r"search\.results.*count="):
        translator("en")("search.results", place="Prizren")
