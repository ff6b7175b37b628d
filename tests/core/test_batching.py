from __future__ import annotations

import pytest

from core.batching import batches


def test_batches_are_consecutive_slices_in_order() -> None:
    rows = list(range(7))
    assert [list(b) for b in batches(rows, 3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batches([], 3)) == []
    assert [list(b) for b in batches(rows, 7)] == [rows]


def test_a_batch_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(batches([1], 0))
