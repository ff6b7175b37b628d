from graph.text import fold, search_keys, sr_cyrillic_to_latin


def test_serbian_cyrillic_becomes_gaj_latin() -> None:
    assert sr_cyrillic_to_latin("Пећ") == "Peć"
    assert sr_cyrillic_to_latin("Њујорк") == "Njujork"
    assert sr_cyrillic_to_latin("Ђаковица") == "Đakovica"


def test_every_spelling_of_a_place_folds_to_one_key() -> None:
    assert {fold("Peć"), fold("Pec"), fold("Пећ"), fold("PEĆ"), fold(" Peć ")} == {"pec"}
    assert fold("Prishtinë") == fold("Prishtine") == "prishtine"
    assert fold("Đakovica") == fold("Ђаковица") == fold("Djakovica") == "djakovica"
    assert fold("Mitrovicë e Jugut") == fold("mitrovice-e-jugut") == "mitrovice e jugut"


def test_search_keys_are_distinct_and_ordered() -> None:
    assert search_keys(["Pejë", "Peja", "Peć", "Пећ", "Pec", ""]) == ["peje", "peja", "pec"]
