"""GraphQL for coordination: overlaps, gaps and support by sending country."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import strawberry

from api.graphql.areas import AreaType
from api.graphql.context import Info
from core.errors import ValidationFailed
from graph.coordination import (
    GapCell,
    Overlap,
    period,
    service_gaps,
    service_overlaps,
    support_comparison,
)


async def _area(info: Info, area_id: str) -> AreaType | None:
    """The area of a row, through the request's loader: one read however many rows."""
    area = await info.context.loaders.area.load(area_id)
    return AreaType.from_model(area) if area else None


@strawberry.type(name="OverlapService")
class OverlapServiceType:
    service_id: strawberry.ID
    name: str
    organisation_id: strawberry.ID
    organisation_name: str
    capacity: str
    referrals: int | None = strawberry.field(
        description="Referrals sent to it in the period; null below the deployment's minimum count."
    )
    counted: bool = strawberry.field(
        description="Counts as supply (can take a referral now); only these make an overlap."
    )
    not_counted_because: str | None = strawberry.field(
        description="Why it does not count: inactive, flagged, never verified, stale, full."
    )


@strawberry.type(name="Overlap")
class OverlapType:
    area_id: strawberry.ID
    need: str
    organisations: int
    services: list[OverlapServiceType]

    @strawberry.field(description="The municipality, for its name in the caller's language.")
    async def area(self, info: Info) -> AreaType | None:
        return await _area(info, self.area_id)

    @classmethod
    def from_model(cls, o: Overlap) -> OverlapType:
        return cls(
            area_id=strawberry.ID(o.area_id),
            need=o.need,
            organisations=o.organisations,
            services=[
                OverlapServiceType(
                    service_id=strawberry.ID(s.service),
                    name=s.name,
                    organisation_id=strawberry.ID(s.organisation),
                    organisation_name=s.organisation_name,
                    counted=s.counted,
                    not_counted_because=s.not_counted_because,
                    capacity=s.capacity,
                    referrals=s.referrals,
                )
                for s in o.services
            ],
        )


@strawberry.type(name="NearestPartner")
class NearestPartnerType:
    service_id: strawberry.ID
    service_name: str
    organisation_name: str
    distance_km: float


@strawberry.type(name="NotCounted")
class NotCountedType:
    reason: str
    services: int


@strawberry.type(name="GapCell")
class GapCellType:
    area_id: strawberry.ID
    need: str
    demand: int | None = strawberry.field(
        description="Referrals to the area for the need; null below the deployment's minimum "
        "count, and for the cells it could be recovered from through the need's total."
    )
    supply: int = strawberry.field(
        description="Services covering the area that can take a referral now: active, "
        "verified within the stale period, not full, not flagged for re-verification."
    )
    listed_not_counted: int = strawberry.field(
        description="Active services covering the area that cannot take a referral now: "
        "flagged for re-verification, never verified, stale or full (or, with "
        "`sendingCountry`, closed to returnees from there)."
    )
    not_counted: list[NotCountedType] = strawberry.field(
        description="The services of `listedNotCounted` by reason: flagged (a referral came "
        "back 'no capacity' or 'could not contact'), never verified, stale, full; with "
        "`sendingCountry`, not eligible (closed to that country)."
    )
    gap_score: float | None = strawberry.field(
        description="demand / (supply + 1); null where the demand is."
    )
    unmet: bool = strawberry.field(description="Demand and no supply.")
    nearest_partner: NearestPartnerType | None

    @strawberry.field(description="The municipality, for its name in the caller's language.")
    async def area(self, info: Info) -> AreaType | None:
        return await _area(info, self.area_id)

    @classmethod
    def from_model(cls, c: GapCell) -> GapCellType:
        nearest = c.nearest_partner
        return cls(
            area_id=strawberry.ID(c.area_id),
            need=c.need,
            demand=c.demand,
            supply=c.supply,
            listed_not_counted=c.listed_not_counted,
            not_counted=[NotCountedType(reason=k, services=v) for k, v in c.not_counted.items()],
            gap_score=c.gap_score,
            unmet=c.unmet,
            nearest_partner=NearestPartnerType(
                service_id=strawberry.ID(nearest.service_id),
                service_name=nearest.service_name,
                organisation_name=nearest.organisation_name,
                distance_km=nearest.distance_km,
            )
            if nearest
            else None,
        )


@strawberry.type(name="SupportService")
class SupportServiceType:
    id: strawberry.ID
    name: str
    organisation: str


@strawberry.type(name="SupportRow")
class SupportRowType:
    sending_country: str
    services: list[SupportServiceType]
    programmes: list[str]
    open_to_all: int = strawberry.field(description="Of `services`, those open to anyone.")


@strawberry.type
class CoordinationQuery:
    @strawberry.field(
        description="Several organisations offering the same need in the same municipality "
        "(local services only). The period (default: the last 12 months) counts referrals."
    )
    async def service_overlaps(
        self,
        info: Info,
        area_id: strawberry.ID,
        need: str | None = None,
        target_group: str | None = None,
        since: date | None = None,
    ) -> list[OverlapType]:
        start, _ = period(since, None, info.context.now)
        found = await info.context.graph.read(
            service_overlaps,
            area_id=str(area_id),
            need=need,
            target_group=target_group,
            since=start,
            minimum_count=info.context.settings.statistics_minimum_count,
            stale_after_days=info.context.settings.verification_stale_days,
            now=info.context.now,
        )
        return [OverlapType.from_model(o) for o in found]

    @strawberry.field(
        description="Per municipality of a country or region and need: demand against "
        "supply; cells with demand and no supply first. Default period: last 12 months."
    )
    async def service_gaps(
        self,
        info: Info,
        area_id: strawberry.ID,
        needs: list[str],
        since: date | None = None,
        until: date | None = None,
        sending_country: Annotated[
            str | None,
            strawberry.argument(
                description="ISO 3166-1 alpha-2: count as supply only the services returnees "
                "from this country may use (docs/eligibility.md); the others are listed as "
                "`not eligible`."
            ),
        ] = None,
    ) -> list[GapCellType]:
        if not needs:
            raise ValidationFailed.single("needs", "name at least one need")
        if sending_country is not None and not (
            len(sending_country) == 2 and sending_country.isascii() and sending_country.isalpha()
        ):
            raise ValidationFailed.single(
                "sendingCountry", "an ISO 3166-1 alpha-2 country code, such as DE"
            )
        start, end = period(since, until, info.context.now)
        cells = await info.context.graph.read(
            service_gaps,
            area_id=str(area_id),
            needs=needs,
            since=start,
            until=end,
            stale_after_days=info.context.settings.verification_stale_days,
            now=info.context.now,
            minimum_count=info.context.settings.statistics_minimum_count,
            sending_country=sending_country,
        )
        return [GapCellType.from_model(c) for c in cells]

    @strawberry.field(
        description="For one destination and need, what returnees from each sending "
        "country can use (services restricted to countries or programmes respected)."
    )
    async def support_comparison(
        self,
        info: Info,
        destination: strawberry.ID,
        need: str,
        sending_countries: list[str] | None = None,
    ) -> list[SupportRowType]:
        found = await info.context.graph.read(
            support_comparison,
            destination_id=str(destination),
            need=need,
            sending_countries=sending_countries or [],
        )
        return [
            SupportRowType(
                sending_country=r.sending_country,
                services=[
                    SupportServiceType(
                        id=strawberry.ID(s.id), name=s.name, organisation=s.organisation
                    )
                    for s in r.services
                ],
                programmes=r.programmes,
                open_to_all=r.open_to_all,
            )
            for r in found.rows
        ]
