"""Reproducible random choices: every phase of the generator draws from its own seeded
`random.Random`, so that adding a draw to one phase never shifts the data of another."""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from graph.areas import GeoPoint

T = TypeVar("T")
KM_PER_DEGREE = 111.32


@dataclass(frozen=True, slots=True)
class Weighted(Generic[T]):
    """A weighted choice that costs one random number and a bisection per draw."""

    items: tuple[T, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, weights: Mapping[T, float]) -> Weighted[T]:
        items = tuple(weights)
        running = 0.0
        cumulative: list[float] = []
        for item in items:
            running += weights[item]
            cumulative.append(running)
        if not items or running <= 0:
            raise ValueError("a weighted choice needs a positive total weight")
        return cls(items, tuple(cumulative))

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]

    def pick_distinct(self, rng: random.Random, k: int) -> list[T]:
        chosen: dict[T, None] = {}
        for _ in range(k * 8):
            if len(chosen) == k:
                break
            chosen.setdefault(self.pick(rng), None)
        return list(chosen)


def rng_for(seed: int, phase: str) -> random.Random:
    # Not for security: reproducible pseudo-random data.
    return random.Random(f"{seed}:{phase}")


def jitter(lat: float, lon: float, radius_km: float, rng: random.Random) -> GeoPoint:
    """A point uniformly distributed within `radius_km` of (lat, lon)."""
    distance = radius_km * math.sqrt(rng.random())
    bearing = rng.random() * 2 * math.pi
    dlat = distance * math.cos(bearing) / KM_PER_DEGREE
    dlon = distance * math.sin(bearing) / (KM_PER_DEGREE * math.cos(math.radians(lat)))
    return GeoPoint(lat=round(lat + dlat, 5), lon=round(lon + dlon, 5))


def allocate(total: int, weights: Sequence[float], *, minimum: int = 0) -> list[int]:
    """Split `total` into integers proportional to `weights` (largest remainder)."""
    floor_total = minimum * len(weights)
    if floor_total > total:
        minimum, floor_total = 0, 0
    rest = total - floor_total
    whole = sum(weights)
    shares = [rest * w / whole for w in weights]
    counts = [minimum + int(s) for s in shares]
    order = sorted(range(len(weights)), key=lambda i: (int(shares[i]) - shares[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts
