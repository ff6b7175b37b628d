"""One way to cut rows into batches, for every bulk write (`UNWIND $rows` in batches), the
backup's restore and the NDJSON stream of the HSDS API.

Python 3.12's `itertools.batched` yields tuples; the writers hand slices of their own
sequences (lists stay lists for the driver) and some need to know how far they are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def batches(rows: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `size` rows, in order; none for no rows."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
