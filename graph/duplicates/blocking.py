"""Blocking: which pairs of records the scorer compares at all.

Comparing every pair is out of the question at the size of the directory, so records are
first put into blocks (`organisation_blocks`, `service_blocks`): only records that share a
block are compared. Blocks larger than `MAX_BLOCK` say little (every NGO of a big town) and
are skipped. `find_matches` blocks and scores a list of records without the database: what
the batch scan and the quality benchmark run.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from graph.duplicates.scoring import (
    THRESHOLD,
    Kind,
    Match,
    OrganisationFeatures,
    Point,
    ServiceFeatures,
    name_words,
    score_organisations,
    score_services,
)

# Blocks with more records than this are skipped: a word shared by hundreds of names is
# no sign of anything.
MAX_BLOCK = 100
# Sites within about a kilometre share a cell (0.01 degree of latitude is 1.1 km).
CELL_DEGREES = 0.01

# Called with (phase, done, total) as the scan goes.
ProgressFn = Callable[[str, int, int], None]


def _cells(points: Iterable[Point]) -> set[str]:
    return {
        f"{math.floor(lat / CELL_DEGREES)}:{math.floor(lon / CELL_DEGREES)}" for lat, lon in points
    }


def _sorted_prefix(folded: str) -> str | None:
    """The first letters of the name's first words in alphabetical order: survives word
    order, case, script and most typos after the third letter."""
    words = sorted(w for w in name_words(folded) if len(w) > 1)
    return "".join(w[:3] for w in words[:3]) if len(words) >= 2 else None


def organisation_blocks(o: OrganisationFeatures) -> set[str]:
    keys: set[str] = set()
    for _, folded in o.names:
        keys |= {f"w:{w}" for w in name_words(folded) if len(w) > 1}
        prefix = _sorted_prefix(folded)
        if prefix:
            keys.add(f"s:{prefix}")
    if o.acronym:
        keys.add(f"w:{o.acronym}")  # meets the same word in the other record's name
    if o.domain:
        keys.add(f"d:{o.domain}")
    if o.phone:
        keys.add(f"p:{o.phone}")
    if o.email:
        keys.add(f"e:{o.email}")
    keys |= {f"g:{c}" for c in _cells(o.points)}
    return keys


def service_blocks(s: ServiceFeatures, group: str) -> set[str]:
    """`group`: the organisation, or the representative of the organisations that are
    probable or confirmed duplicates of each other. Services are compared within such a
    group only: two unrelated organisations offering the same help in the same place is
    overlap (a coordination question), not one record entered twice."""
    return {f"o:{group}"}


@dataclass(slots=True)
class Blocking:
    pairs: list[tuple[int, int]]
    blocks: int
    skipped_blocks: int


def candidate_pairs(keys: Sequence[Iterable[str]], *, max_block: int = MAX_BLOCK) -> Blocking:
    """Pairs of record indexes that share at least one block of at most `max_block`."""
    members: dict[str, list[int]] = defaultdict(list)
    for index, record_keys in enumerate(keys):
        for key in record_keys:
            members[key].append(index)
    pairs: set[tuple[int, int]] = set()
    used = skipped = 0
    for indexes in members.values():
        if len(indexes) < 2:
            continue
        if len(indexes) > max_block:
            skipped += 1
            continue
        used += 1
        pairs.update(itertools.combinations(indexes, 2))
    return Blocking(pairs=sorted(pairs), blocks=used, skipped_blocks=skipped)


class OrganisationGroups:
    """Organisations that are probable or confirmed duplicates of each other, as groups
    (union-find): their services are compared with each other."""

    def __init__(self, links: Iterable[tuple[str, str]] = ()) -> None:
        self._parent: dict[str, str] = {}
        for a, b in links:
            self.join(a, b)

    def find(self, id: str) -> str:
        root = id
        while self._parent.get(root, root) != root:
            root = self._parent[root]
        while id != root:
            self._parent[id], id = root, self._parent.get(id, id)
        return root

    def join(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def related(self, a: str, b: str) -> bool:
        return a != b and self.find(a) == self.find(b)


def find_matches(
    kind: Kind,
    records: Sequence[Any],
    *,
    groups: OrganisationGroups | None = None,
    min_score: float = THRESHOLD,
    max_block: int = MAX_BLOCK,
    progress: ProgressFn | None = None,
) -> tuple[list[tuple[int, int, Match]], int, int, int]:
    """Blocking and scoring, without the database: (matches as (i, j, match), blocks used,
    blocks skipped, pairs compared). Also what the quality benchmark runs."""
    groups = groups or OrganisationGroups()
    if kind is Kind.ORGANISATION:
        keys = [organisation_blocks(r) for r in records]
    else:
        keys = [service_blocks(r, groups.find(r.organisation_id)) for r in records]
    blocking = candidate_pairs(keys, max_block=max_block)
    total = len(blocking.pairs)
    matches: list[tuple[int, int, Match]] = []
    for n, (i, j) in enumerate(blocking.pairs):
        a, b = records[i], records[j]
        if kind is Kind.ORGANISATION:
            match = score_organisations(a, b)
        else:
            match = score_services(
                a, b, related=groups.related(a.organisation_id, b.organisation_id)
            )
        if match.score >= min_score:
            matches.append((i, j, match))
        if progress is not None and n % 20_000 == 0:
            progress("compare", n, total)
    if progress is not None:
        progress("compare", total, total)
    return matches, blocking.blocks, blocking.skipped_blocks, total
