"""The small-count rule: no hidden cell can be recovered from the total and the cells shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.disclosure import suppress, too_small


def test_one_small_cell_takes_the_next_smallest_with_it() -> None:
    # Without the second, 20 - 12 - 6 would give the hidden 2 back.
    assert suppress({"a": 12, "b": 2, "c": 6}, 3) == {"a": 12, "b": None, "c": None}
    # Two hidden cells of 1 would still add up to a known 2: a third goes too.
    hidden = {"a": None, "b": None, "c": None, "d": 9}
    assert suppress({"a": 1, "b": 1, "c": 4, "d": 9}, 3) == hidden
    assert suppress({"a": 5, "b": 7}, 3) == {"a": 5, "b": 7}
    assert too_small(2, 3)
    assert not too_small(0, 3)
    assert not too_small(3, 3)


@given(
    counts=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(1, 30), max_size=8),
    minimum=st.integers(1, 10),
)
def test_nothing_below_the_minimum_can_be_recovered(counts: dict[str, int], minimum: int) -> None:
    shown = suppress(counts, minimum)
    hidden = [k for k, v in shown.items() if v is None]
    assert all(shown[k] == counts[k] for k in counts if k not in hidden)
    assert all(k in hidden for k, v in counts.items() if v < minimum)
    if hidden and len(hidden) < len(counts):
        # Total minus what is shown: two or more cells, together not a small count.
        assert len(hidden) >= 2
        assert sum(counts[k] for k in hidden) >= minimum
