"""Coordinates for sites registered with an address but without a point.

Behind the small `Geocoder` protocol: the offline gazetteer by default (the most specific
area the address names, at its centroid), geopy's Nominatim when a deployment configures it
(rate-limited, with the deployment's own user agent, as Nominatim's usage policy asks).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from geopy.extra.rate_limiter import RateLimiter
from geopy.geocoders import Nominatim

from graph.areas import AreaLevel, GeoPoint, find_areas_by_name
from graph.driver import Graph
from graph.services import LocationInput, ServiceInput

# Smaller areas first: a street address names its town before its country.
_SPECIFICITY = [AreaLevel.SETTLEMENT, AreaLevel.MUNICIPALITY, AreaLevel.REGION, AreaLevel.COUNTRY]


class Geocoder(Protocol):
    async def locate(self, address: str) -> GeoPoint | None: ...


class GazetteerGeocoder:
    """Offline: finds the places an address names in the gazetteer; no street precision."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    async def locate(self, address: str) -> GeoPoint | None:
        parts = [p.strip() for p in address.replace(";", ",").split(",") if p.strip()]
        found = []
        for part in parts:
            found += await self.graph.read(find_areas_by_name, name=part)
        found = [a for a in found if a.centroid is not None]
        if not found:
            return None
        best = min(found, key=lambda a: _SPECIFICITY.index(a.level))
        return best.centroid


class NominatimGeocoder:
    """OpenStreetMap's Nominatim through geopy; at most one request per `min_delay_s`."""

    def __init__(
        self,
        *,
        user_agent: str,
        domain: str = "nominatim.openstreetmap.org",
        scheme: str = "https",
        min_delay_s: float = 1.0,
        timeout_s: float = 5.0,
    ) -> None:
        self._nominatim = Nominatim(
            user_agent=user_agent, domain=domain, scheme=scheme, timeout=timeout_s
        )
        self._geocode = RateLimiter(
            self._nominatim.geocode, min_delay_seconds=min_delay_s, max_retries=1
        )

    async def locate(self, address: str) -> GeoPoint | None:
        # geopy's default adapter blocks; keep it off the event loop.
        location = await asyncio.to_thread(self._geocode, address, exactly_one=True)
        if location is None:
            return None
        return GeoPoint(lat=location.latitude, lon=location.longitude)


async def place_sites(data: ServiceInput, geocoder: Geocoder) -> ServiceInput:
    """Fill in coordinates for sites that have an address but no point. Sites the geocoder
    cannot place keep none and are put at their area's centroid when written."""
    sites: list[LocationInput] = []
    for site in data.locations:
        if site.point is None and site.address:
            point = await geocoder.locate(site.address)
            site = site.model_copy(update={"point": point})
        sites.append(site)
    return data.model_copy(update={"locations": sites})
