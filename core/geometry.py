"""Points and municipality boundaries: which polygon holds a point, and how far a point lies
outside one.

The gazetteer's boundaries are a few dozen simplified polygons (a few thousand vertices for
all of Kosovo), so plain ray casting answers in microseconds and the project needs no
geometry library for it. Coordinates are GeoJSON's: `[lon, lat]` in WGS-84 degrees.
Distances are on a local flat approximation, good to a few per cent at the size of a
municipality, which is all a tolerance check needs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Ring = Sequence[Sequence[float]]  # closed or open list of [lon, lat]
KM_PER_DEGREE = 111.32


class BadGeometry(ValueError):
    """A GeoJSON geometry the gazetteer cannot use (not a Polygon or MultiPolygon, or rings
    that are not lists of coordinate pairs)."""


@dataclass(frozen=True, slots=True)
class Boundary:
    """A Polygon or MultiPolygon: per polygon its outer ring and its holes."""

    polygons: tuple[tuple[Ring, tuple[Ring, ...]], ...]
    south: float
    west: float
    north: float
    east: float

    def contains(self, lat: float, lon: float) -> bool:
        if not (self.south <= lat <= self.north and self.west <= lon <= self.east):
            return False
        return any(
            _in_ring(lon, lat, outer) and not any(_in_ring(lon, lat, hole) for hole in holes)
            for outer, holes in self.polygons
        )

    def distance_km(self, lat: float, lon: float) -> float:
        """0 inside, else the distance to the nearest edge."""
        if self.contains(lat, lon):
            return 0.0
        scale = math.cos(math.radians(lat))
        best = math.inf
        for outer, holes in self.polygons:
            for ring in (outer, *holes):
                for (x1, y1), (x2, y2) in zip(ring, [*ring[1:], ring[0]], strict=True):
                    best = min(best, _segment_km(lon, lat, x1, y1, x2, y2, scale))
        return best


def _in_ring(x: float, y: float, ring: Ring) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _segment_km(
    px: float, py: float, x1: float, y1: float, x2: float, y2: float, scale: float
) -> float:
    # Project onto a plane where a degree of longitude is `scale` degrees of latitude.
    ax, ay, bx, by = (x1 - px) * scale, y1 - py, (x2 - px) * scale, y2 - py
    dx, dy = bx - ax, by - ay
    length = dx * dx + dy * dy
    t = 0.0 if length == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length))
    return math.hypot(ax + t * dx, ay + t * dy) * KM_PER_DEGREE


def boundary(geometry: dict[str, Any]) -> Boundary:
    """A Boundary from a GeoJSON geometry object; raises BadGeometry."""
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        parts = [coordinates]
    elif kind == "MultiPolygon" and isinstance(coordinates, list):
        parts = coordinates
    else:
        raise BadGeometry(f"expected a Polygon or MultiPolygon, got {kind!r}")
    polygons = []
    lons: list[float] = []
    lats: list[float] = []
    for part in parts:
        if not isinstance(part, list) or not part:
            raise BadGeometry("a polygon needs at least its outer ring")
        rings = []
        for ring in part:
            if not isinstance(ring, list) or len(ring) < 4:
                raise BadGeometry("a ring needs at least four positions")
            for position in ring:
                if (
                    not isinstance(position, list)
                    or len(position) < 2
                    or not all(isinstance(v, int | float) for v in position[:2])
                    or not (-180 <= position[0] <= 180 and -90 <= position[1] <= 90)
                ):
                    raise BadGeometry(f"not a [lon, lat] position: {position!r}")
                lons.append(float(position[0]))
                lats.append(float(position[1]))
            rings.append(ring)
        polygons.append((rings[0], tuple(rings[1:])))
    return Boundary(
        polygons=tuple(polygons), south=min(lats), west=min(lons), north=max(lats), east=max(lons)
    )


def boundary_from_text(text: str) -> Boundary:
    return boundary(json.loads(text))


EARTH_RADIUS_KM = 6371.0


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance: which of a service's sites is nearest a place, as the search
    measures it in Neo4j (`point.distance`, on the same sphere)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))
