"""The rules of a service's input, checked without the database."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from tests import directory


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": "  "}, ("name",)),
        ({"needs": []}, ("needs",)),
        ({"languages": ["sq", "xq"]}, ("languages",)),
        ({"minimum_age": 18, "maximum_age": 6}, ("maximum_age",)),
        (
            {"locations": [{"area": "XK-prizren", "point": {"lat": 95, "lon": 20}}]},
            ("locations", 0, "point", "lat"),
        ),
        ({"delivery": ["teleportation"]}, ("delivery", 0)),
    ],
)
def test_bad_input_names_the_field(overrides: dict[str, Any], field: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError) as failure:
        directory.service(**overrides)
    assert failure.value.errors()[0]["loc"] == field


def test_min_age_above_max_age_says_so() -> None:
    with pytest.raises(ValidationError, match="minimum_age 18 is above maximum_age 6"):
        directory.service(minimum_age=18, maximum_age=6)


def test_an_in_person_service_must_be_somewhere() -> None:
    with pytest.raises(ValidationError) as failure:
        directory.service(covers=[], locations=[])
    assert failure.value.errors()[0]["loc"] == ("locations",)


def test_language_codes_are_iso_639() -> None:
    assert directory.service(languages=["SQ", "rom", "sq"]).languages == ["sq", "rom"]
