"""Areas: countries, regions, municipalities and settlements, linked by `PART_OF`.

Names are kept per language and script as `name_<tag>` properties (`name_sr_Cyrl`), so that a
full-text index can list them; `search_keys` holds the folded form of every name and alternate
name for exact lookups in any spelling.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, LiteralString

from pydantic import BaseModel, Field, field_validator

from graph.languages import LANGUAGE_TAG, pick, property_suffix, tag_from_suffix
from graph.text import fold, search_keys
from neo4j import AsyncManagedTransaction


class AreaLevel(StrEnum):
    COUNTRY = "country"
    REGION = "region"
    MUNICIPALITY = "municipality"
    SETTLEMENT = "settlement"


class GeoPoint(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class AreaRecord(BaseModel):
    """An area as the seed and importers provide it."""

    id: str = Field(min_length=2, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    level: AreaLevel
    parent: str | None = None
    names: dict[str, str] = Field(min_length=1)
    alt_names: list[str] = Field(default_factory=list)
    centroid: GeoPoint | None = None
    source: str | None = None

    @field_validator("names")
    @classmethod
    def _names_have_valid_tags(cls, names: dict[str, str]) -> dict[str, str]:
        for tag, label in names.items():
            if not LANGUAGE_TAG.match(tag):
                raise ValueError(f"{tag!r} is not a language tag such as 'sq' or 'sr-Cyrl'")
            if not label.strip():
                raise ValueError(f"name in {tag!r} is empty")
        if "en" not in names:
            raise ValueError("an English name ('en') is required")
        return names


class Area(BaseModel):
    id: str
    level: AreaLevel
    names: dict[str, str]
    alt_names: list[str]
    parent_id: str | None
    centroid: GeoPoint | None

    def name(self, lang: str | None = None) -> str:
        return pick(self.names, lang)


def _area_from_record(node: Any, parent_id: str | None) -> Area:
    props = dict(node)
    names = {
        tag_from_suffix(key.removeprefix("name_")): value
        for key, value in props.items()
        if key.startswith("name_")
    }
    point = props.get("centroid")
    return Area(
        id=props["id"],
        level=AreaLevel(props["level"]),
        names=names,
        alt_names=list(props.get("alt_names") or []),
        parent_id=parent_id,
        centroid=GeoPoint(lat=point.y, lon=point.x) if point is not None else None,
    )


def area_rows(records: list[AreaRecord]) -> list[dict[str, Any]]:
    """Parameters for `UPSERT_AREAS`: names flattened into `name_<tag>` properties."""
    rows = []
    for record in records:
        props: dict[str, Any] = {
            f"name_{property_suffix(tag)}": label for tag, label in record.names.items()
        }
        rows.append(
            {
                "id": record.id,
                "level": record.level.value,
                "parent": record.parent,
                "names": props,
                "alt_names": record.alt_names,
                "search_keys": search_keys([*record.names.values(), *record.alt_names]),
                "lat": record.centroid.lat if record.centroid else None,
                "lon": record.centroid.lon if record.centroid else None,
                "source": record.source,
            }
        )
    return rows


# Parents are matched, not merged: a missing parent is a data error the loader reports.
UPSERT_AREAS: LiteralString = """
UNWIND $rows AS row
MERGE (a:Area {id: row.id})
SET a += row.names,
    a.name = row.names.name_en,
    a.level = row.level,
    a.alt_names = row.alt_names,
    a.search_keys = row.search_keys,
    a.source = row.source,
    a.centroid = CASE WHEN row.lat IS NULL THEN null
                      ELSE point({latitude: row.lat, longitude: row.lon}) END
WITH a, row
OPTIONAL MATCH (a)-[old:PART_OF]->(p:Area) WHERE p.id <> coalesce(row.parent, '')
DELETE old
WITH a, row
OPTIONAL MATCH (parent:Area {id: row.parent})
FOREACH (_ IN CASE WHEN parent IS NULL THEN [] ELSE [1] END | MERGE (a)-[:PART_OF]->(parent))
RETURN count(a) AS written
"""


async def upsert_areas(tx: AsyncManagedTransaction, *, rows: list[dict[str, Any]]) -> int:
    result = await tx.run(UPSERT_AREAS, rows=rows)
    record = await result.single(strict=True)
    return int(record["written"])


AREAS_BY_IDS: LiteralString = """
UNWIND $ids AS id
MATCH (a:Area {id: id})
OPTIONAL MATCH (a)-[:PART_OF]->(p:Area)
RETURN a, p.id AS parent_id
"""


async def areas_by_ids(tx: AsyncManagedTransaction, *, ids: list[str]) -> dict[str, Area]:
    result = await tx.run(AREAS_BY_IDS, ids=ids)
    return {r["a"]["id"]: _area_from_record(r["a"], r["parent_id"]) async for r in result}


AREAS_BY_KEY: LiteralString = """
MATCH (a:Area) WHERE $key IN a.search_keys
OPTIONAL MATCH (a)-[:PART_OF]->(p:Area)
RETURN a, p.id AS parent_id
ORDER BY a.level, a.id
"""


async def find_areas_by_name(tx: AsyncManagedTransaction, *, name: str) -> list[Area]:
    """Areas whose name or alternate name, folded, equals the folded query."""
    result = await tx.run(AREAS_BY_KEY, key=fold(name))
    return [_area_from_record(r["a"], r["parent_id"]) async for r in result]


COUNTRY_EXISTS: LiteralString = """
MATCH (a:Area {id: $id, level: 'country'}) RETURN count(a) > 0 AS found
"""


async def country_exists(tx: AsyncManagedTransaction, *, code: str) -> bool:
    result = await tx.run(COUNTRY_EXISTS, id=code)
    record = await result.single(strict=True)
    return bool(record["found"])
