from hypothesis import given
from hypothesis import strategies as st

from core.languages import pick
from core.text import (
    FORMULA_STARTS,
    fold,
    search_keys,
    spreadsheet_row,
    spreadsheet_safe,
    spreadsheet_unsafe,
    sr_cyrillic_to_latin,
    sr_latin_to_cyrillic,
)


def test_serbian_cyrillic_becomes_gaj_latin() -> None:
    assert sr_cyrillic_to_latin("Пећ") == "Peć"
    assert sr_cyrillic_to_latin("Њујорк") == "Njujork"
    assert sr_cyrillic_to_latin("Ђаковица") == "Đakovica"


def test_gaj_latin_becomes_serbian_cyrillic_and_back() -> None:
    assert sr_latin_to_cyrillic("Peć") == "Пећ"
    assert sr_latin_to_cyrillic("Njujork, LJUBLJANA, Džakovica") == "Њујорк, ЉУБЉАНА, Џаковица"
    for word in ("Пећ", "Њујорк", "Ђаковица", "Љубовија", "џеп"):
        assert sr_latin_to_cyrillic(sr_cyrillic_to_latin(word)) == word
    # Template placeholders stay as they are; letters Serbian does not use too.
    assert sr_latin_to_cyrillic("{km} km od {area}") == "{km} км од {area}"
    assert sr_latin_to_cyrillic("QWXY") == "QWXY"
    # So does the product's name.
    assert sr_latin_to_cyrillic("Izvor: Homeward imenik") == "Извор: Homeward именик"


def test_serbian_cyrillic_falls_back_to_the_latin_text_transliterated() -> None:
    labels = {"en": "offers {need}", "sr-Latn": "nudi {need}"}
    assert pick(labels, "sr-Cyrl") == "нуди {need}"
    assert pick(labels | {"sr-Cyrl": "пружа {need}"}, "sr-Cyrl") == "пружа {need}"
    assert pick(labels, "sr-Latn") == "nudi {need}"
    assert pick({"en": "offers"}, "sr-Cyrl") == "offers"


def test_every_spelling_of_a_place_folds_to_one_key() -> None:
    assert {fold("Peć"), fold("Pec"), fold("Пећ"), fold("PEĆ"), fold(" Peć ")} == {"pec"}
    assert fold("Prishtinë") == fold("Prishtine") == "prishtine"
    assert fold("Đakovica") == fold("Ђаковица") == fold("Djakovica") == "djakovica"
    assert fold("Mitrovicë e Jugut") == fold("mitrovice-e-jugut") == "mitrovice e jugut"


def test_search_keys_are_distinct_and_ordered() -> None:
    assert search_keys(["Pejë", "Peja", "Peć", "Пећ", "Pec", ""]) == ["peje", "peja", "pec"]


def test_no_cell_starts_a_formula() -> None:
    # OWASP's list: =, +, -, @, tab and carriage return.
    for start in FORMULA_STARTS:
        assert spreadsheet_safe(start + "cmd|' /C calc'!A0") == "'" + start + "cmd|' /C calc'!A0"
    assert spreadsheet_safe('=HYPERLINK("http://example.org","x")').startswith("'=")
    assert spreadsheet_safe("+SUM(A1:A9)") == "'+SUM(A1:A9)"
    # Numbers and phone numbers call nothing: they stay data (HSDS latitudes, phones).
    assert spreadsheet_safe("+383 38 000 000") == "+383 38 000 000"
    assert spreadsheet_safe("-0.25") == "-0.25"
    assert spreadsheet_safe("Prizren") == "Prizren"
    assert spreadsheet_row(["=1+1", 3, None, ""]) == ["'=1+1", 3, None, ""]


@given(st.text(max_size=20))
def test_a_safe_cell_reads_back_as_written(value: str) -> None:
    safe = spreadsheet_safe(value)
    assert not safe.startswith(FORMULA_STARTS) or safe == value
    assert spreadsheet_unsafe(safe) == value or (value.startswith("'") and safe == value)
