"""GraphQL for services: the `service` query and the Service type with its relations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.areas import AreaType, GeoPointType
from api.graphql.context import Info
from api.graphql.errors import (
    ForbiddenError,
    NotFoundError,
    ValidationError,
    VersionConflictError,
    to_graphql_error,
    validate_input,
)
from api.graphql.needs import NeedType, TargetGroupType
from api.graphql.programmes import ProgrammeType
from api.policy import service_scope
from graph.services import (
    Capacity,
    DeliveryMode,
    Location,
    ReturnType,
    Service,
    ServiceInput,
    ServiceStatus,
    register_service,
    update_service,
)
from homeward.errors import HomewardError

if TYPE_CHECKING:
    from api.graphql.organisations import OrganisationType

ServiceStatusType = strawberry.enum(ServiceStatus, name="ServiceStatus")
DeliveryModeType = strawberry.enum(DeliveryMode, name="DeliveryMode")
CapacityType = strawberry.enum(Capacity, name="Capacity")
ReturnTypeType = strawberry.enum(ReturnType, name="ReturnType")


@strawberry.type(name="Location")
class LocationType:
    id: strawberry.ID
    name: str | None
    address: str | None
    point: GeoPointType | None
    _area_id: strawberry.Private[str | None]

    @strawberry.field
    async def area(self, info: Info) -> AreaType | None:
        if self._area_id is None:
            return None
        found = await info.context.loaders.area.load(self._area_id)
        return AreaType.from_model(found) if found else None

    @classmethod
    def from_model(cls, loc: Location) -> LocationType:
        point = GeoPointType(lat=loc.point.lat, lon=loc.point.lon) if loc.point else None
        return cls(
            id=strawberry.ID(loc.id),
            name=loc.name,
            address=loc.address,
            point=point,
            _area_id=loc.area_id,
        )


@strawberry.type(name="Service")
class ServiceType:
    id: strawberry.ID
    name: str
    description: str | None
    status: ServiceStatusType  # type: ignore[valid-type]
    delivery: list[DeliveryModeType]  # type: ignore[valid-type]
    languages: list[str] = strawberry.field(description="ISO 639 codes.")
    eligibility_description: str | None
    minimum_age: int | None
    maximum_age: int | None
    sending_countries: list[str] = strawberry.field(
        description="Only returnees from these countries are eligible; empty means any."
    )
    return_types: list[ReturnTypeType]  # type: ignore[valid-type]
    fees_description: str | None
    referral_method: str | None
    expected_response_days: int | None
    capacity: CapacityType  # type: ignore[valid-type]
    capacity_note: str | None
    capacity_date: date | None
    last_verified_at: datetime | None
    last_verified_by: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    locations: list[LocationType]
    _service: strawberry.Private[Service]

    @strawberry.field
    async def organisation(
        self, info: Info
    ) -> Annotated[OrganisationType, strawberry.lazy("api.graphql.organisations")] | None:
        from api.graphql.organisations import OrganisationType

        found = await info.context.loaders.organisation.load(self._service.organisation_id)
        return OrganisationType.from_model(found) if found else None

    @strawberry.field
    async def needs(self, info: Info) -> list[NeedType]:
        found = await info.context.loaders.need.load_many(self._service.need_codes)
        return [NeedType.from_model(n) for n in found if n is not None]

    @strawberry.field
    async def target_groups(self, info: Info) -> list[TargetGroupType]:
        found = await info.context.loaders.target_group.load_many(self._service.target_group_codes)
        return [TargetGroupType.from_model(g) for g in found if g is not None]

    @strawberry.field(description="Areas the service covers explicitly (and all within them).")
    async def coverage(self, info: Info) -> list[AreaType]:
        found = await info.context.loaders.area.load_many(self._service.covered_area_ids)
        return [AreaType.from_model(a) for a in found if a is not None]

    @strawberry.field
    async def programmes(self, info: Info) -> list[ProgrammeType]:
        found = await info.context.loaders.programme.load_many(self._service.programme_ids)
        return [ProgrammeType.from_model(p) for p in found if p is not None]

    @classmethod
    def from_model(cls, s: Service) -> ServiceType:
        return cls(
            id=strawberry.ID(s.id),
            name=s.name,
            description=s.description,
            status=s.status,
            delivery=list(s.delivery),
            languages=s.languages,
            eligibility_description=s.eligibility_description,
            minimum_age=s.minimum_age,
            maximum_age=s.maximum_age,
            sending_countries=s.sending_countries,
            return_types=list(s.return_types),
            fees_description=s.fees_description,
            referral_method=s.referral_method,
            expected_response_days=s.expected_response_days,
            capacity=s.capacity,
            capacity_note=s.capacity_note,
            capacity_date=s.capacity_date,
            last_verified_at=s.last_verified_at,
            last_verified_by=s.last_verified_by,
            version=s.version,
            created_at=s.created_at,
            updated_at=s.updated_at,
            locations=[LocationType.from_model(loc) for loc in s.locations],
            _service=s,
        )


@strawberry.type
class ServiceQuery:
    @strawberry.field
    async def service(self, info: Info, id: strawberry.ID) -> ServiceType | None:
        found = await info.context.loaders.service.load(str(id))
        return ServiceType.from_model(found) if found else None


@strawberry.input
class GeoPointInput:
    lat: float
    lon: float


@strawberry.input(name="LocationInput")
class LocationInputType:
    area: strawberry.ID = strawberry.field(description="Area the site lies in.")
    id: strawberry.ID | None = None
    name: str | None = None
    address: str | None = None
    point: GeoPointInput | None = strawberry.field(
        default=None, description="Without coordinates the site is placed at its area's centroid."
    )


@strawberry.input(name="ServiceInput")
class ServiceInputType:
    organisation_id: strawberry.ID
    name: str
    delivery: list[DeliveryModeType]  # type: ignore[valid-type]
    needs: list[str] = strawberry.field(
        description="Need codes, e.g. `psychosocial.trauma-therapy`."
    )
    description: str | None = None
    status: ServiceStatusType = ServiceStatus.ACTIVE  # type: ignore[valid-type]
    target_groups: list[str] = strawberry.field(default_factory=list)
    covers: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Area ids; covering an area covers all within it."
    )
    locations: list[LocationInputType] = strawberry.field(default_factory=list)
    languages: list[str] = strawberry.field(default_factory=list, description="ISO 639 codes.")
    eligibility_description: str | None = None
    minimum_age: int | None = None
    maximum_age: int | None = None
    sending_countries: list[str] = strawberry.field(default_factory=list)
    programmes: list[strawberry.ID] = strawberry.field(default_factory=list)
    return_types: list[ReturnTypeType] = strawberry.field(default_factory=list)  # type: ignore[valid-type]
    fees_description: str | None = None
    referral_method: str | None = None
    expected_response_days: int | None = None
    capacity: CapacityType = Capacity.UNKNOWN  # type: ignore[valid-type]
    capacity_note: str | None = None


@strawberry.type
class ServicePayload:
    service: ServiceType


ServiceResult = Annotated[
    ServicePayload | ValidationError | NotFoundError | ForbiddenError | VersionConflictError,
    strawberry.union("ServiceResult"),
]


@strawberry.type
class ServiceMutation:
    @strawberry.mutation(
        description="Register a service of an organisation the caller is a partner of."
    )
    async def register_service(self, info: Info, input: ServiceInputType) -> ServiceResult:
        try:
            data = validate_input(ServiceInput, strawberry.asdict(input))
            service = await info.context.graph.write(
                register_service,
                id=str(uuid.uuid4()),
                data=data,
                actor=info.context.actor,
                allowed_organisations=service_scope(info.context.actor),
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return ServicePayload(service=ServiceType.from_model(service))

    @strawberry.mutation(
        description="Replace a service's description. `expectedVersion` is the version the "
        "caller last saw; if the service changed since, the result is a VersionConflictError "
        "with the current version and nothing is written."
    )
    async def update_service(
        self, info: Info, id: strawberry.ID, expected_version: int, input: ServiceInputType
    ) -> ServiceResult:
        try:
            data = validate_input(ServiceInput, strawberry.asdict(input))
            service = await info.context.graph.write(
                update_service,
                id=str(id),
                expected_version=expected_version,
                data=data,
                actor=info.context.actor,
                allowed_organisations=service_scope(info.context.actor),
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return ServicePayload(service=ServiceType.from_model(service))
