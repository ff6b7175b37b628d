"""The small-count rule: no hidden cell can be recovered from the total and the cells shown."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from core.disclosure import share, shown, suppress, too_small


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
    counts=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 30), max_size=8),
    minimum=st.integers(1, 10),
)
def test_nothing_below_the_minimum_can_be_recovered(counts: dict[str, int], minimum: int) -> None:
    cells = suppress(counts, minimum)
    hidden = [k for k, v in cells.items() if v is None]
    assert all(cells[k] == counts[k] for k in counts if k not in hidden)
    assert all(k in hidden for k, v in counts.items() if too_small(v, minimum))
    assert all(counts[k] > 0 for k in hidden)  # nobody's cell is never hidden
    total = shown(sum(counts.values()), minimum)
    if hidden and total is not None:
        # Total minus what is shown: two or more cells, together not a small count.
        assert len(hidden) >= 2
        assert sum(counts[k] for k in hidden) >= minimum


def test_zero_cells_are_shown_and_never_hidden_to_protect_another() -> None:
    # Gaps: most municipalities have no demand; hiding them would protect nothing.
    assert suppress({"a": 2, "b": 0, "c": 7}, 3) == {"a": None, "b": 0, "c": None}
    # With nothing else to hide, the total is the hidden cell: it is withheld itself.
    assert suppress({"a": 2, "b": 0}, 3) == {"a": None, "b": 0}
    assert shown(2, 3) is None
    assert shown(0, 3) == 0


def test_a_share_says_nothing_about_a_few_households() -> None:
    assert share(5, 10, 3) == 0.5
    assert share(1, 10, 3) is None  # the one visited
    assert share(9, 10, 3) is None  # the one not visited
    assert share(0, 10, 3) == 0.0
    assert share(2, 2, 3) is None  # over two households
    assert share(0, 0, 3) is None
