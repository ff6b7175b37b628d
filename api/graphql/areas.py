"""GraphQL types for areas (countries, regions, municipalities)."""

from __future__ import annotations

import strawberry

from api.graphql.context import Info
from graph.areas import Area, AreaLevel

AreaLevelType = strawberry.enum(AreaLevel, name="AreaLevel")


@strawberry.type
class LocalizedName:
    lang: str = strawberry.field(description="BCP 47 tag, e.g. `sq`, `sr-Cyrl`.")
    value: str


@strawberry.type
class GeoPointType:
    lat: float
    lon: float


@strawberry.type(name="Area")
class AreaType:
    id: strawberry.ID
    level: AreaLevelType  # type: ignore[valid-type]
    alt_names: list[str]
    _area: strawberry.Private[Area]

    @strawberry.field(description="Name in `lang`, else Accept-Language, else English.")
    def name(self, info: Info, lang: str | None = None) -> str:
        return self._area.name(lang or info.context.lang)

    @strawberry.field
    def names(self) -> list[LocalizedName]:
        return [LocalizedName(lang=k, value=v) for k, v in sorted(self._area.names.items())]

    @strawberry.field
    def centroid(self) -> GeoPointType | None:
        c = self._area.centroid
        return GeoPointType(lat=c.lat, lon=c.lon) if c else None

    @strawberry.field
    async def parent(self, info: Info) -> AreaType | None:
        if self._area.parent_id is None:
            return None
        parent = await info.context.loaders.area.load(self._area.parent_id)
        return AreaType.from_model(parent) if parent else None

    @classmethod
    def from_model(cls, area: Area) -> AreaType:
        return cls(
            id=strawberry.ID(area.id),
            level=area.level,
            alt_names=area.alt_names,
            _area=area,
        )
