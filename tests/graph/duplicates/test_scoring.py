"""The duplicate scorer: names in any script, strong identifiers, no database."""

from __future__ import annotations

from core.text import fold
from graph.duplicates.scoring import (
    THRESHOLD,
    name_similarity,
    organisation_features,
    phone_digits,
    score_organisations,
)


def test_names_in_any_script_and_spelling_are_similar() -> None:
    assert name_similarity(fold("Центар за социјални рад"), fold("Centar za socijalni rad")) == 1
    assert name_similarity(fold("One to One Kosova"), fold("One-to-One Kosovë")) > 0.9
    assert name_similarity(fold("Balkan Sunflowers"), fold("Balkan Sunflowres")) > 0.85


def test_another_town_or_number_is_not_the_same_name() -> None:
    csw = "Qendra për Punë Sociale"
    assert name_similarity(fold(f"{csw} Prizren"), fold(f"{csw} Pejë")) < 0.7
    assert name_similarity(fold("Bench NGO 12 Gjilan"), fold("Bench NGO 13 Gjilan")) < 0.6


def test_one_strong_identifier_is_enough_and_evidence_names_it() -> None:
    a = organisation_features(id="a", name="Alpha", phone=phone_digits("+383 38 000 041"))
    b = organisation_features(id="b", name="Omega", phone=phone_digits("038/000-041"))
    match = score_organisations(a, b)
    assert match.score >= THRESHOLD
    assert [e.field for e in match.evidence] == ["phone"]
