"""GraphQL for services: the `service` query and the Service type with its relations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.areas import AreaType
from api.graphql.common import GeoPointType
from api.graphql.context import Info
from api.graphql.enums import (
    Capacity,
    DeliveryMode,
    Freshness,
    ReturnType,
    ServiceStatus,
    Weekday,
)
from api.graphql.errors import (
    ForbiddenError,
    NotFoundError,
    PossibleDuplicatesError,
    ValidationError,
    VersionConflictError,
    to_graphql_error,
    validate_input,
)
from api.graphql.needs import NeedType, TargetGroupType
from api.graphql.programmes import ProgrammeType
from api.policy import service_scope
from core.disclosure import too_small
from core.errors import HomewardError, ValidationFailed
from core.i18n import translator
from graph.geocoding import place_sites
from graph.services import (
    Location,
    OpeningHours,
    Service,
    ServiceInput,
    freshness,
    register_service,
    set_service_capacity,
    update_service,
    verify_service,
)

if TYPE_CHECKING:
    from api.graphql.organisations import OrganisationType


@strawberry.type(name="OpeningHours", description="One opening of a site on a weekday.")
class OpeningHoursType:
    weekday: Weekday
    opens: str = strawberry.field(description="Local time, HH:MM.")
    closes: str = strawberry.field(description="Local time, HH:MM.")

    @classmethod
    def from_model(cls, hours: OpeningHours) -> OpeningHoursType:
        return cls(weekday=hours.weekday, opens=hours.opens, closes=hours.closes)


@strawberry.type(name="Location")
class LocationType:
    id: strawberry.ID
    name: str | None
    address: str | None
    point: GeoPointType | None
    opening_hours: list[OpeningHoursType] = strawberry.field(
        description="In week order; none listed means not stated."
    )
    point_approximate: bool = strawberry.field(
        description="The site was placed at its area's centroid: no coordinates were given "
        "and its address could not be located."
    )
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
            opening_hours=[OpeningHoursType.from_model(h) for h in loc.opening_hours],
            point_approximate=loc.point_source == "area centroid",
            _area_id=loc.area_id,
        )


@strawberry.type(name="Responsiveness")
class ResponsivenessType:
    referrals_received: int = strawberry.field(description="Referrals sent to the service.")
    ack_median_hours: float | None = strawberry.field(
        description="Median hours from sending to acknowledgement."
    )
    acceptance_rate: float | None = strawberry.field(
        description="Share of accepted among accepted and declined referrals (0 to 1)."
    )
    feedback_rate: float | None = strawberry.field(
        description="Share of accepted referrals that came back with an outcome (0 to 1)."
    )


def responsiveness_disclosed(info: Info, referrals_received: int) -> bool:
    """A few referrals' outcomes are those of a few families; signed-in members of staff see
    them, the public only counts that no longer point at anyone (core.disclosure). The one
    decision for the service's responsiveness and the search reasons that word it."""
    minimum = info.context.settings.statistics_minimum_count
    return info.context.actor.authenticated or not too_small(referrals_received, minimum)


@strawberry.type(name="Service")
class ServiceType:
    id: strawberry.ID
    name: str
    description: str | None
    status: ServiceStatus
    delivery: list[DeliveryMode]
    languages: list[str] = strawberry.field(description="ISO 639 codes.")
    eligibility_description: str | None
    minimum_age: int | None
    maximum_age: int | None
    sending_countries: list[str] = strawberry.field(
        description="Only returnees from these countries are eligible; empty means any."
    )
    return_types: list[ReturnType]
    fees_description: str | None
    referral_method: str | None
    phone: str | None = strawberry.field(
        description="The service's own line, if not the organisation's."
    )
    email: str | None = strawberry.field(
        description="The service's own address, if not the organisation's."
    )
    expected_response_days: int | None
    capacity: Capacity
    capacity_note: str | None
    capacity_date: date | None
    last_verified_at: datetime | None

    @strawberry.field
    async def last_verified_by(self, info: Info) -> str | None:
        """Who verified is a member of staff (an e-mail address): signed-in callers see who,
        anyone else the organisation that verified its own entry."""
        by = self._service.last_verified_by
        if by is None or info.context.actor.authenticated:
            return by
        organisation = await info.context.loaders.organisation.load(self._service.organisation_id)
        return organisation.name if organisation else None

    version: int
    created_at: datetime
    updated_at: datetime
    locations: list[LocationType]
    _service: strawberry.Private[Service]

    reverification_reason: str | None = strawberry.field(
        description="Why the entry was flagged for re-verification, if it was."
    )

    @strawberry.field(
        description="By the eligibility rule (docs/eligibility.md), the sending countries "
        "whose returnees may use the service: its own `sendingCountries`, else those named "
        "by every programme funding it. Empty: open to returnees from everywhere."
    )
    def restricted_to(self) -> list[str]:
        return self._service.restricted_to

    @strawberry.field(
        description="The programmes that make `restrictedTo` when it comes from the funding "
        "(names); empty when the service restricts itself or is open to everyone."
    )
    def restricting_programmes(self) -> list[str]:
        return self._service.restricting_programmes

    @strawberry.field(
        description="`restrictedTo` in words, as the search gives it: 'only for returnees "
        "from Germany (REAG/GARP)'. Null when open to everyone. In `lang`, else "
        "Accept-Language, else English."
    )
    async def restriction(self, info: Info, lang: str | None = None) -> str | None:
        countries = self._service.restricted_to
        if not countries:
            return None
        language = lang or info.context.lang
        areas = await info.context.loaders.area.load_many(countries)
        names = ", ".join(
            a.name(language) if a else code for a, code in zip(areas, countries, strict=True)
        )
        t = translator(language)
        if self._service.restricting_programmes:
            programmes = ", ".join(self._service.restricting_programmes)
            return t("match.only_from_programmes", countries=names, programmes=programmes)
        return t("match.only_from", countries=names)

    @strawberry.field(
        description="How it answers referrals; null until it has received one, and for "
        "anonymous callers until it has received the deployment's smallest published count."
    )
    def responsiveness(self, info: Info) -> ResponsivenessType | None:
        found = self._service.responsiveness
        if found is None or not responsiveness_disclosed(info, found.referrals_received):
            return None
        return ResponsivenessType(**found.model_dump())

    @strawberry.field(description="From the last verification and the deployment's thresholds.")
    def freshness(self, info: Info) -> Freshness:
        settings = info.context.settings
        return freshness(
            self.last_verified_at,
            now=info.context.now,
            ageing_after_days=settings.verification_ageing_days,
            stale_after_days=settings.verification_stale_days,
        )

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
            phone=s.phone,
            email=s.email,
            expected_response_days=s.expected_response_days,
            capacity=s.capacity,
            capacity_note=s.capacity_note,
            capacity_date=s.capacity_date,
            last_verified_at=s.last_verified_at,
            version=s.version,
            created_at=s.created_at,
            updated_at=s.updated_at,
            locations=[LocationType.from_model(loc) for loc in s.locations],
            reverification_reason=s.reverification_reason,
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


@strawberry.input(name="OpeningHoursInput")
class OpeningHoursInput:
    weekday: Weekday
    opens: str = strawberry.field(description="Local time, HH:MM.")
    closes: str = strawberry.field(description="Local time, HH:MM, after `opens`.")


@strawberry.input(name="LocationInput")
class LocationInputType:
    area: strawberry.ID = strawberry.field(description="Area the site lies in.")
    id: strawberry.ID | None = None
    name: str | None = None
    address: str | None = None
    point: GeoPointInput | None = strawberry.field(
        default=None, description="Without coordinates the site is placed at its area's centroid."
    )
    opening_hours: list[OpeningHoursInput] = strawberry.field(
        default_factory=list,
        description="Opening times by weekday; `closes` after `opens`, two on a day may not "
        "overlap. Empty: not stated.",
    )


@strawberry.input(name="ServiceInput")
class ServiceInputType:
    organisation_id: strawberry.ID
    name: str
    delivery: list[DeliveryMode]
    needs: list[str] = strawberry.field(
        description="Need codes, e.g. `psychosocial.trauma-therapy`."
    )
    description: str | None = None
    status: ServiceStatus = ServiceStatus.ACTIVE
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
    return_types: list[ReturnType] = strawberry.field(default_factory=list)
    fees_description: str | None = None
    referral_method: str | None = None
    phone: str | None = None
    email: str | None = None
    expected_response_days: int | None = None
    capacity: Capacity | None = strawberry.field(
        default=None, description="Initial capacity; on an update, null keeps the current one."
    )
    capacity_note: str | None = None


@strawberry.type
class ServicePayload:
    service: ServiceType


# Why a registration is not a duplicate: a sentence or two for the reviewers.
MAX_REASON = 1000

ServiceResult = Annotated[
    ServicePayload
    | ValidationError
    | NotFoundError
    | ForbiddenError
    | VersionConflictError
    | PossibleDuplicatesError,
    strawberry.union("ServiceResult"),
]


@strawberry.type
class ServiceMutation:
    @strawberry.mutation(
        description="Register a service of an organisation the caller is a partner of."
    )
    async def register_service(
        self,
        info: Info,
        input: ServiceInputType,
        confirm_not_duplicate: bool = False,
        not_duplicate_reason: Annotated[
            str | None,
            strawberry.argument(
                description="With confirmNotDuplicate: why this is not one of the candidates "
                "the check named (kept in the audit trail)."
            ),
        ] = None,
    ) -> ServiceResult:
        try:
            reason = (not_duplicate_reason or "").strip() or None
            if reason is not None and len(reason) > MAX_REASON:
                raise ValidationFailed.single(
                    "notDuplicateReason", f"at most {MAX_REASON} characters"
                )
            data = validate_input(ServiceInput, strawberry.asdict(input))
            data = await place_sites(data, info.context.geocoder)
            service = await info.context.graph.write(
                register_service,
                id=str(uuid.uuid4()),
                data=data,
                actor=info.context.actor,
                allowed_organisations=service_scope(info.context.actor),
                confirm_not_duplicate=confirm_not_duplicate,
                not_duplicate_reason=reason,
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
            data = await place_sites(data, info.context.geocoder)
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

    @strawberry.mutation(
        description="Confirm that the entry is correct as it stands. Not an edit: the "
        "version stays, the freshness starts again."
    )
    async def verify_service(self, info: Info, id: strawberry.ID) -> ServiceResult:
        try:
            service = await info.context.graph.write(
                verify_service,
                id=str(id),
                at=info.context.now,
                actor=info.context.actor,
                allowed_organisations=service_scope(info.context.actor),
            )
        except HomewardError as exc:
            return to_graphql_error(exc)
        return ServicePayload(service=ServiceType.from_model(service))

    @strawberry.mutation(description="How much the service can take on now; full stays findable.")
    async def set_service_capacity(
        self,
        info: Info,
        id: strawberry.ID,
        capacity: Capacity,
        note: str | None = None,
        as_of: date | None = None,
    ) -> ServiceResult:
        try:
            if note is not None and len(note) > 500:
                raise ValidationFailed.single("note", "at most 500 characters")
            service = await info.context.graph.write(
                set_service_capacity,
                id=str(id),
                capacity=capacity,
                note=note.strip() or None if note else None,
                as_of=as_of or info.context.now.date(),
                actor=info.context.actor,
                allowed_organisations=service_scope(info.context.actor),
            )
        except HomewardError as exc:
            return to_graphql_error(exc, argument="")
        return ServicePayload(service=ServiceType.from_model(service))
