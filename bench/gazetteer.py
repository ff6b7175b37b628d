"""The gazetteer of data set M: the real one of the seed, ranked into towns per country, plus
synthetic settlements under the towns of the countries of origin."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field

from bench.sampling import Weighted, allocate, jitter, rng_for
from bench.shape import (
    BIG_TOWNS,
    M_AREAS,
    NAME_STYLE,
    ORIGIN_SHARES,
    REGION_SUFFIXES,
    SENDING_SHARES,
    SETTLEMENT_RADIUS_KM,
    SETTLEMENT_SHARES,
    SETTLEMENT_ZIPF,
    SOURCE,
    SYLLABLES,
    TOWN_NAMES,
    TOWN_ZIPF,
)
from graph.areas import AreaLevel, AreaRecord, GeoPoint
from graph.duplicates.scoring import distance_km


def _display_name(record: AreaRecord) -> str:
    if record.id in TOWN_NAMES:
        return TOWN_NAMES[record.id]
    name = record.names["en"]
    for suffix in REGION_SUFFIXES:
        name = name.removesuffix(suffix)
    return name


@dataclass(slots=True)
class Place:
    """An area as the generator sees it. A *town* is where organisations sit: a municipality,
    a region without sub-regions, or a country without regions."""

    id: str
    country: str
    name: str
    lat: float
    lon: float
    level: AreaLevel
    parent: str | None
    region: str | None = None  # the region above a town, for regional coverage
    rank: int = 0  # of a town within its country, 0 = the capital
    settlements: list[str] = field(default_factory=list)
    neighbours: list[str] = field(default_factory=list)  # nearest towns of the same country


@dataclass(slots=True)
class Gazetteer:
    records: list[AreaRecord]  # every area, parents first
    places: dict[str, Place]
    towns: dict[str, list[Place]]  # by country, biggest first
    town_choice: dict[str, Weighted[str]]  # by country, Zipf-like
    towns_under: dict[str, list[str]]  # area id -> towns in it (a town is under itself)


def _settlement_name(style: str, rng: random.Random, taken: set[str]) -> str:
    starts, middles, ends = SYLLABLES[style]
    for attempt in range(50):
        name = rng.choice(starts) + rng.choice(middles) + rng.choice(ends)
        name = name[0].upper() + name[1:]
        if attempt > 20:
            name = f"{name} {rng.randint(2, 9)}"
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("could not find a fresh settlement name")


def build_gazetteer(seed_areas: list[AreaRecord], *, seed: int) -> Gazetteer:
    """The real gazetteer, ranked into towns per country, plus synthetic settlements under the
    towns of the countries of origin until there are `M_AREAS` areas."""
    rng = rng_for(seed, "gazetteer")
    by_id = {r.id: r for r in seed_areas}
    order = {r.id: i for i, r in enumerate(seed_areas)}
    children: dict[str, list[str]] = defaultdict(list)
    for record in seed_areas:
        if record.parent:
            children[record.parent].append(record.id)

    def country_of(record: AreaRecord) -> str:
        while record.parent:
            record = by_id[record.parent]
        return record.id

    def centroid(record: AreaRecord) -> GeoPoint:
        while record.centroid is None:
            if record.parent is None:
                raise ValueError(f"area {record.id} has no centroid, nor has any parent")
            record = by_id[record.parent]
        return record.centroid

    places: dict[str, Place] = {}
    for record in seed_areas:
        point = centroid(record)
        parent = by_id.get(record.parent) if record.parent else None
        places[record.id] = Place(
            id=record.id,
            country=country_of(record),
            name=_display_name(record),
            lat=point.lat,
            lon=point.lon,
            level=record.level,
            parent=record.parent,
            region=parent.id if parent is not None and parent.level is AreaLevel.REGION else None,
        )

    towns: dict[str, list[Place]] = {}
    for country in [*ORIGIN_SHARES, *SENDING_SHARES]:
        if country not in by_id:
            raise ValueError(f"country {country} is missing from the seed gazetteer")
        candidates = [
            r
            for r in seed_areas
            if country_of(r) == country
            and (
                r.level is AreaLevel.MUNICIPALITY
                or (
                    r.level is AreaLevel.REGION
                    and not any(by_id[c].level is AreaLevel.REGION for c in children[r.id])
                )
            )
        ] or [by_id[country]]
        big = BIG_TOWNS.get(country, ())
        candidates.sort(key=lambda r: (big.index(r.id) if r.id in big else len(big), order[r.id]))
        towns[country] = [places[r.id] for r in candidates]
        for rank, town in enumerate(towns[country]):
            town.rank = rank
            town.neighbours = [
                t.id
                for t in sorted(
                    (t for t in towns[country] if t is not town),
                    key=lambda t: distance_km((town.lat, town.lon), (t.lat, t.lon)),
                )[:6]
            ]

    # Synthetic settlements under the towns of the countries of origin.
    wanted = max(0, M_AREAS - len(seed_areas))
    per_country = allocate(wanted, [SETTLEMENT_SHARES[c] for c in ORIGIN_SHARES])
    records = list(seed_areas)
    taken: set[str] = set()
    for country, count in zip(ORIGIN_SHARES, per_country, strict=True):
        country_towns = towns[country]
        per_town = allocate(
            count,
            [1 / (t.rank + 1) ** SETTLEMENT_ZIPF for t in country_towns],
            minimum=1,
        )
        style = NAME_STYLE.get(country, "balkan")
        for town, n in zip(country_towns, per_town, strict=True):
            for k in range(1, n + 1):
                name = _settlement_name(style, rng, taken)
                point = jitter(town.lat, town.lon, SETTLEMENT_RADIUS_KM, rng)
                record = AreaRecord(
                    id=f"{town.id}-s{k:03d}",
                    level=AreaLevel.SETTLEMENT,
                    parent=town.id,
                    names={"en": f"{name} (synthetic)"},
                    centroid=point,
                    source=SOURCE,
                )
                records.append(record)
                places[record.id] = Place(
                    id=record.id,
                    country=country,
                    name=name,
                    lat=point.lat,
                    lon=point.lon,
                    level=AreaLevel.SETTLEMENT,
                    parent=town.id,
                    region=town.region,
                )
                town.settlements.append(record.id)

    towns_under: dict[str, list[str]] = defaultdict(list)
    for country_towns in towns.values():
        for town in country_towns:
            area: str | None = town.id
            while area is not None:
                towns_under[area].append(town.id)
                area = places[area].parent

    return Gazetteer(
        records=records,
        places=places,
        towns=towns,
        town_choice={
            c: Weighted.of({t.id: 1 / (t.rank + 1) ** TOWN_ZIPF for t in ts})
            for c, ts in towns.items()
        },
        towns_under=dict(towns_under),
    )
