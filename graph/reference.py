"""Reference data kept per process: areas and the chains of areas containing them (the
gazetteer), needs and their narrower terms (the taxonomy), target groups and programmes.

They change with a seed or an import, not between two requests, yet a search and the
reasons it gives name them again and again; reading them from Neo4j each time costs a
transaction per kind and request. Entries are forgotten `ttl_s` seconds after they were
read, so a change is seen after at most that long; what was not found is never kept, so a
new area or need is found at once. Each API process holds one cache (like its driver);
nothing here is shared between processes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Generic, TypeVar

from graph.areas import Area
from graph.needs import Need
from graph.programmes import Programme
from graph.target_groups import TargetGroup

# How long a process trusts what it read from the gazetteer and the taxonomy.
REFERENCE_TTL_S = 300.0

K = TypeVar("K")
V = TypeVar("V")


class Expiring(Generic[K, V]):
    """A dict whose entries are forgotten `ttl_s` seconds after they were stored. Its size is
    bounded by the reference data it holds."""

    def __init__(self, ttl_s: float, clock: Callable[[], float]) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] < self._clock():
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        self._entries[key] = (self._clock() + self._ttl_s, value)

    async def get_many(
        self, keys: list[K], fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]
    ) -> dict[K, V]:
        """The entries for `keys`, fetching the missing ones in one call and keeping them."""
        found = {k: v for k in keys if (v := self.get(k)) is not None}
        missing = [k for k in keys if k not in found]
        if missing:
            fetched = await fetch(missing)
            for key, value in fetched.items():
                self.put(key, value)
            found |= fetched
        return found


class ReferenceCache:
    def __init__(
        self, *, ttl_s: float = REFERENCE_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.areas: Expiring[str, Area] = Expiring(ttl_s, clock)
        # An area and every area containing it, smallest first.
        self.chains: Expiring[str, list[Area]] = Expiring(ttl_s, clock)
        self.needs: Expiring[str, Need] = Expiring(ttl_s, clock)
        # A need code with itself and every narrower code.
        self.narrower: Expiring[str, list[str]] = Expiring(ttl_s, clock)
        self.target_groups: Expiring[str, TargetGroup] = Expiring(ttl_s, clock)
        self.programmes: Expiring[str, Programme] = Expiring(ttl_s, clock)
        # A place name as searched for, with the one area it names (names that name several
        # places or none are not kept: they answer with choices or suggestions).
        self.places: Expiring[str, Area] = Expiring(ttl_s, clock)
