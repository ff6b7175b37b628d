"""GraphQL types for areas (countries, regions, municipalities)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.common import GeoPointType, LocalizedName
from api.graphql.context import Info
from api.graphql.enums import AreaLevel
from api.graphql.pagination import Connection, to_connection
from graph.areas import Area, list_areas
from graph.pagination import checked_cursor, page_size

if TYPE_CHECKING:
    from api.graphql.organisations import OrganisationType
    from api.graphql.services import ServiceType


@strawberry.type(name="Area")
class AreaType:
    id: strawberry.ID
    level: AreaLevel
    alt_names: list[str]
    _area: strawberry.Private[Area]

    @strawberry.field(description="Name in `lang`, else Accept-Language, else English.")
    def name(self, info: Info, lang: str | None = None) -> str:
        return self._area.name(lang or info.context.lang)

    @strawberry.field
    def names(self) -> list[LocalizedName]:
        return [LocalizedName(lang=k, value=v) for k, v in sorted(self._area.names.items())]

    @strawberry.field(
        description="The standard code (a statistical office's or OCHA's, e.g. `XK03`), "
        "where the geodata has one: the code exchange formats such as HXL's `#adm2+code` use."
    )
    def code(self) -> str | None:
        return self._area.code

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

    @strawberry.field(
        description="Services that cover this area (or an area containing it) or have a "
        "site in it or below it, by name."
    )
    async def services(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[ServiceType, strawberry.lazy("api.graphql.services")]]:
        from api.graphql.services import ServiceType

        page = await info.context.loaders.services_in_area.load(
            (self._area.id, page_size(first), checked_cursor(after))
        )
        info.context.loaders.service.prime_many({e.node.id: e.node for e in page.edges})
        return to_connection(page, ServiceType.from_model)

    @strawberry.field(description="Organisations based in this area or below it, by name.")
    async def organisations(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[OrganisationType, strawberry.lazy("api.graphql.organisations")]]:
        from api.graphql.organisations import OrganisationType

        page = await info.context.loaders.organisations_in_area.load(
            (self._area.id, page_size(first), checked_cursor(after))
        )
        info.context.loaders.organisation.prime_many({e.node.id: e.node for e in page.edges})
        return to_connection(page, OrganisationType.from_model)

    @strawberry.field(description="Areas directly PART_OF this one, by English name.")
    async def children(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[AreaType]:
        page = await info.context.loaders.children_of_area.load(
            (self._area.id, page_size(first), checked_cursor(after))
        )
        return to_connection(page, AreaType.from_model)

    @classmethod
    def from_model(cls, area: Area) -> AreaType:
        return cls(
            id=strawberry.ID(area.id),
            level=area.level,
            alt_names=area.alt_names,
            _area=area,
        )


@strawberry.type
class AreaQuery:
    @strawberry.field
    async def area(self, info: Info, id: strawberry.ID) -> AreaType | None:
        found = await info.context.loaders.area.load(str(id))
        return AreaType.from_model(found) if found else None

    @strawberry.field(
        description="Areas by level, parent and name. `name` matches the beginning of any "
        "name or alternate name in any language or script, ignoring case and diacritics: "
        "'Peja', 'Peć', 'Pec' and 'Пећ' all find the municipality of Pejë."
    )
    async def areas(
        self,
        info: Info,
        level: AreaLevel | None = None,
        parent_id: strawberry.ID | None = None,
        name: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[AreaType]:
        page = await info.context.graph.read(
            list_areas,
            level=level,
            parent_id=str(parent_id) if parent_id is not None else None,
            name=name,
            first=page_size(first),
            after=after,
        )
        info.context.loaders.area.prime_many({e.node.id: e.node for e in page.edges})
        return to_connection(page, AreaType.from_model)
