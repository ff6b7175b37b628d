"""Areas: countries, regions, municipalities and settlements, linked by `PART_OF`.

Names are kept per language and script as `name_<tag>` properties (`name_sr_Cyrl`), so that a
full-text index can list them; `search_keys` holds the folded form of every name and alternate
name for exact lookups in any spelling.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from neo4j.spatial import WGS84Point
from pydantic import BaseModel, Field, field_validator
from rapidfuzz import fuzz, process

from core import geometry
from core.languages import from_properties, pick, to_properties, validate_labels
from core.text import fold, search_keys
from graph.pagination import (
    Page,
    ParentPage,
    decode_cursor,
    pages_by_parent,
    paginate,
    parent_cursors,
)


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
    # GeoJSON Polygon or MultiPolygon: the area's boundary, where the gazetteer has one.
    boundary: dict[str, Any] | None = None
    # The area's standard code (a statistical office's or OCHA's), where the geodata has one.
    code: str | None = Field(default=None, max_length=32)
    # Residents, where a census gives them: maps then show supply per 10,000 people.
    population: int | None = Field(default=None, ge=0)

    @field_validator("names")
    @classmethod
    def _names_have_valid_tags(cls, names: dict[str, str]) -> dict[str, str]:
        return validate_labels(names)


class Area(BaseModel):
    id: str
    level: AreaLevel
    names: dict[str, str]
    alt_names: list[str]
    parent_id: str | None
    centroid: GeoPoint | None
    # The standard code (a statistical office's or OCHA's), where the geodata has one.
    code: str | None = None

    def name(self, lang: str | None = None) -> str:
        return pick(self.names, lang)


def area_from_record(node: Any, parent_id: str | None) -> Area:
    props = dict(node)
    names = from_properties("name", props)
    point = props.get("centroid")
    return Area(
        id=props["id"],
        level=AreaLevel(props["level"]),
        names=names,
        alt_names=list(props.get("alt_names") or []),
        parent_id=parent_id,
        centroid=GeoPoint(lat=point.y, lon=point.x) if point is not None else None,
        code=props.get("code"),
    )


def area_rows(records: list[AreaRecord]) -> list[dict[str, Any]]:
    """Parameters for `UPSERT_AREAS`: names flattened into `name_<tag>` properties."""
    rows = []
    for record in records:
        props = to_properties("name", record.names)
        shape = geometry.boundary(record.boundary) if record.boundary else None
        rows.append(
            {
                "id": record.id,
                "level": record.level.value,
                "parent": record.parent,
                "names": props,
                "alt_names": record.alt_names,
                "search_keys": search_keys([*record.names.values(), *record.alt_names]),
                "search_text": " ".join(search_keys([*record.names.values(), *record.alt_names])),
                "lat": record.centroid.lat if record.centroid else None,
                "lon": record.centroid.lon if record.centroid else None,
                "source": record.source,
                "boundary": json.dumps(record.boundary) if record.boundary else None,
                "code": record.code,
                "population": record.population,
                "box": None
                if shape is None
                else {"s": shape.south, "w": shape.west, "n": shape.north, "e": shape.east},
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
    a.search_text = row.search_text,
    a.source = row.source,
    a.centroid = CASE WHEN row.lat IS NULL THEN null
                      ELSE point({latitude: row.lat, longitude: row.lon}) END,
    a.boundary = row.boundary,
    a.code = row.code,
    a.population = row.population,
    a.boundary_sw = CASE WHEN row.box IS NULL THEN null
                         ELSE point({latitude: row.box.s, longitude: row.box.w}) END,
    a.boundary_ne = CASE WHEN row.box IS NULL THEN null
                         ELSE point({latitude: row.box.n, longitude: row.box.e}) END
WITH a, row
// Expanded from the area (PART_OF only joins areas): with a label on `p` the planner
// scanned every area for every row.
CALL (a, row) {
  MATCH (a)-[old:PART_OF]->(p) WHERE p.id <> coalesce(row.parent, '')
  DELETE old
}
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
    return {r["a"]["id"]: area_from_record(r["a"], r["parent_id"]) async for r in result}


AREAS_BY_KEY: LiteralString = """
MATCH (a:Area) WHERE $key IN a.search_keys
OPTIONAL MATCH (a)-[:PART_OF]->(p:Area)
RETURN a, p.id AS parent_id
ORDER BY a.level, a.id
"""


async def find_areas_by_name(tx: AsyncManagedTransaction, *, name: str) -> list[Area]:
    """Areas whose name or alternate name, folded, equals the folded query."""
    result = await tx.run(AREAS_BY_KEY, key=fold(name))
    return [area_from_record(r["a"], r["parent_id"]) async for r in result]


COUNTRY_EXISTS: LiteralString = """
MATCH (a:Area {id: $id, level: 'country'}) RETURN count(a) > 0 AS found
"""


async def country_exists(tx: AsyncManagedTransaction, *, code: str) -> bool:
    result = await tx.run(COUNTRY_EXISTS, id=code)
    record = await result.single(strict=True)
    return bool(record["found"])


# Areas by level, parent and name: `name` matches the start of any folded name or alternate
# name, so "Pej", "Peć" and "Пећ" all suggest the municipality of Pejë.
LIST: LiteralString = """
MATCH (a:Area)
WHERE ($level IS NULL OR a.level = $level)
  AND ($parent IS NULL OR EXISTS { MATCH (a)-[:PART_OF]->(:Area {id: $parent}) })
  AND ($key IS NULL OR any(k IN a.search_keys WHERE k STARTS WITH $key))
  AND (a.name > $after_name OR (a.name = $after_name AND a.id > $after_id))
WITH a ORDER BY a.name, a.id LIMIT $limit
OPTIONAL MATCH (a)-[:PART_OF]->(p:Area)
RETURN a, p.id AS parent_id
"""


async def list_areas(
    tx: AsyncManagedTransaction,
    *,
    level: AreaLevel | None,
    parent_id: str | None,
    name: str | None,
    first: int,
    after: str | None,
) -> Page[Area]:
    after_name, after_id = decode_cursor(after)
    key = fold(name) if name is not None else None
    result = await tx.run(
        LIST,
        level=level.value if level else None,
        parent=parent_id,
        key=key or None,
        after_name=after_name,
        after_id=after_id,
        limit=first + 1,
    )
    areas = [area_from_record(r["a"], r["parent_id"]) async for r in result]
    return paginate([(a.names["en"], a.id, a) for a in areas], first)


# Candidates whose boundary box holds the point; the polygons decide in Python.
BOXES_HOLDING: LiteralString = """
MATCH (a:Area)
WHERE a.boundary_sw IS NOT NULL AND point.withinBBox($point, a.boundary_sw, a.boundary_ne)
RETURN a.id AS id, a.boundary AS boundary
ORDER BY a.id
"""


async def area_containing(tx: AsyncManagedTransaction, *, point: GeoPoint) -> str | None:
    """The id of the area whose boundary contains the point (the municipality, for Kosovo),
    or None when the point lies outside every boundary the gazetteer has."""
    result = await tx.run(BOXES_HOLDING, point=WGS84Point((point.lon, point.lat)))
    async for r in result:
        if geometry.boundary_from_text(r["boundary"]).contains(point.lat, point.lon):
            return str(r["id"])
    return None


async def has_boundaries(tx: AsyncManagedTransaction) -> bool:
    result = await tx.run("MATCH (a:Area) WHERE a.boundary_sw IS NOT NULL RETURN count(a) > 0 AS b")
    record = await result.single(strict=True)
    return bool(record["b"])


# How a name is read when several areas carry it: the municipality before the town of the
# same name (services cover municipalities), a region or country before a village that
# shares its name ("Kosovo" the country, not the village near Lipjan, which is
# "Kosovo (Lipjan)").
PLACE_ORDER: dict[AreaLevel, int] = {
    AreaLevel.MUNICIPALITY: 0,
    AreaLevel.REGION: 1,
    AreaLevel.COUNTRY: 2,
    AreaLevel.SETTLEMENT: 3,
}
# "Zllakuqan (Klinë)" or "Zllakuqan, Klinë": a name with the area that contains it.
_QUALIFIED = re.compile(r"^\s*(?P<name>[^(),]+?)\s*(?:\((?P<paren>[^()]+)\)|,(?P<comma>[^,]+))\s*$")

PLACE_LABELS: LiteralString = """
UNWIND $ids AS id
MATCH (a:Area {id: id})
OPTIONAL MATCH (a)-[:PART_OF]->(p:Area)
RETURN a.id AS id, a.name AS name, a.level AS level, p.name AS parent
"""

WITHIN: LiteralString = """
UNWIND $ids AS id
MATCH (a:Area {id: id})-[:PART_OF*1..]->(c:Area)
WHERE $key IN c.search_keys
RETURN DISTINCT a.id AS id
"""

# Every folded name, and the id (an `areaId` may be misspelt too).
ALL_PLACE_KEYS: LiteralString = """
MATCH (a:Area) UNWIND a.search_keys + [a.id] AS key RETURN key, a.id AS id
"""


class PlaceResolution(BaseModel):
    """What a place name reads as: one area, several equally good ones (choices), or none
    (suggestions). Choices and suggestions map area ids to labels that also resolve again
    as a place name."""

    area: Area | None = None
    choices: dict[str, str] = Field(default_factory=dict)
    suggestions: dict[str, str] = Field(default_factory=dict)


async def place_labels(tx: AsyncManagedTransaction, *, ids: list[str]) -> dict[str, str]:
    """A label per area that names it unambiguously enough to type back: a settlement with
    its municipality, "Zllakuqan (Klinë)"."""
    result = await tx.run(PLACE_LABELS, ids=ids)
    return {
        r["id"]: f"{r['name']} ({r['parent']})"
        if r["level"] == AreaLevel.SETTLEMENT and r["parent"]
        else r["name"]
        async for r in result
    }


async def resolve_place(tx: AsyncManagedTransaction, *, name: str) -> PlaceResolution:
    """A place name in any language, script or spelling. Among the areas that carry it, the
    preferred level wins (see `PLACE_ORDER`); several of that level are choices. A name
    may say which area contains it ("Zllakuqan (Klinë)", "Zllakuqan, Klinë")."""
    found = await find_areas_by_name(tx, name=name)
    qualified = _QUALIFIED.match(name)
    if not found and qualified:
        container = qualified["paren"] or qualified["comma"]
        found = await find_areas_by_name(tx, name=qualified["name"])
        result = await tx.run(WITHIN, ids=[a.id for a in found], key=fold(container))
        inside = {r["id"] async for r in result}
        found = [a for a in found if a.id in inside]
    if found:
        best = min(PLACE_ORDER[a.level] for a in found)
        found = sorted((a for a in found if PLACE_ORDER[a.level] == best), key=lambda a: a.id)
        if len(found) == 1:
            return PlaceResolution(area=found[0])
        return PlaceResolution(choices=await place_labels(tx, ids=[a.id for a in found]))
    return PlaceResolution(suggestions=await suggest_places(tx, name=name))


async def suggest_places(
    tx: AsyncManagedTransaction, *, name: str, limit: int = 5
) -> dict[str, str]:
    """Areas with a name spelt close to one that is not in the gazetteer, best first: id and
    place label."""
    rows = [(fold(r["key"]), r["id"]) async for r in await tx.run(ALL_PLACE_KEYS)]
    keys = [key for key, _ in rows]
    close = process.extract(fold(name), keys, scorer=fuzz.ratio, limit=limit * 4, score_cutoff=75)
    ids = list(dict.fromkeys(rows[index][1] for _, _, index in close))[:limit]
    labels = await place_labels(tx, ids=ids)
    return {i: labels[i] for i in ids if i in labels}


# The areas directly PART_OF each of many areas, by English name: one query for a whole level
# of a nested list instead of one per parent.
CHILDREN: LiteralString = """
UNWIND $wanted AS w
CALL (w) {
  MATCH (a:Area)-[:PART_OF]->(:Area {id: w.parent})
  WHERE a.name > w.after_name OR (a.name = w.after_name AND a.id > w.after_id)
  WITH a ORDER BY a.name, a.id LIMIT $limit
  RETURN a
}
RETURN w.parent AS parent, w.after AS after, a
"""


async def children_of_areas(
    tx: AsyncManagedTransaction, *, wanted: list[ParentPage], first: int
) -> dict[ParentPage, Page[Area]]:
    result = await tx.run(CHILDREN, wanted=parent_cursors(wanted), limit=first + 1)
    rows = [(r["parent"], r["after"], area_from_record(r["a"], r["parent"])) async for r in result]
    return pages_by_parent(wanted, [(p, a, x.names["en"], x.id, x) for p, a, x in rows], first)
