"""Blocking: which pairs the scorer compares."""

from __future__ import annotations

from graph.duplicates.blocking import candidate_pairs


def test_blocks_bigger_than_the_limit_are_skipped() -> None:
    keys = [{"w:common", f"w:own{i % 3}"} for i in range(10)]
    blocking = candidate_pairs(keys, max_block=5)
    assert blocking.skipped_blocks == 1  # "common" holds all ten
    assert (0, 3) in blocking.pairs
    assert (0, 1) not in blocking.pairs
