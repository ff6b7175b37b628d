from core.languages import pick
from core.text import fold, search_keys, sr_cyrillic_to_latin, sr_latin_to_cyrillic


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
