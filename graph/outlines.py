"""The municipality outlines of a country or region, as maps draw them: boundary, names,
standard code and population where the gazetteer has them.

A map is drawn on every request, but the outlines change only when the gazetteer is loaded
again: `outline_versions` answers, without carrying a polygon, whether the copy a caller keeps
is still the stored one.
"""

from __future__ import annotations

import json
from typing import Any, LiteralString

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel

from core.languages import from_properties
from graph.areas import GeoPoint

# Without the boundaries themselves: per municipality its id and the length of its stored
# boundary text, which changes whenever a boundary is replaced by a different one.
VERSIONS: LiteralString = """
MATCH (scope:Area {id: $area})
CALL (scope) {
  MATCH (scope)<-[:PART_OF*0..]-(m:Area) WHERE m.level = 'municipality' RETURN m
}
RETURN m.id AS id, size(coalesce(m.boundary, '')) AS size, m.population AS population
ORDER BY id
"""


async def outline_versions(tx: AsyncManagedTransaction, *, area_id: str) -> tuple[Any, ...]:
    """A value that changes when a municipality, its boundary or its population does."""
    result = await tx.run(VERSIONS, area=area_id)
    return tuple([(r["id"], r["size"], r["population"]) async for r in result])


OUTLINES: LiteralString = """
MATCH (scope:Area {id: $area})
CALL (scope) {
  MATCH (scope)<-[:PART_OF*0..]-(m:Area) WHERE m.level = 'municipality' RETURN m
}
RETURN m.id AS id, properties(m) AS props
ORDER BY id
"""


class Outline(BaseModel):
    area_id: str
    names: dict[str, str]
    # GeoJSON Polygon or MultiPolygon; None where the gazetteer has no boundary.
    boundary: dict[str, Any] | None
    centroid: GeoPoint | None
    # The municipality's standard code where the geodata has one (Kosovo: the two-digit
    # municipality code of the statistical office, as GeoNames carries it, e.g. "XK01").
    code: str | None
    population: int | None


async def municipality_outlines(tx: AsyncManagedTransaction, *, area_id: str) -> list[Outline]:
    result = await tx.run(OUTLINES, area=area_id)
    outlines = []
    async for r in result:
        props = r["props"]
        point = props.get("centroid")
        outlines.append(
            Outline(
                area_id=r["id"],
                names=from_properties("name", props),
                boundary=json.loads(props["boundary"]) if props.get("boundary") else None,
                centroid=GeoPoint(lat=point.y, lon=point.x) if point is not None else None,
                code=props.get("code"),
                population=props.get("population"),
            )
        )
    return outlines
