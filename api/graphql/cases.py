"""GraphQL for return cases: opening one at either end, its details, phases and whereabouts,
one consent for its recipients, visits, and the counts coordinators see. What each viewer may
read of a case is decided in graph/cases/reads.py; this module only shapes it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from pydantic import BaseModel

from api.graphql.areas import AreaType
from api.graphql.context import Info
from api.graphql.enums import (
    Access,
    CaseSide,
    DataCategory,
    Dimension,
    DocumentState,
    DocumentType,
    Employment,
    Housing,
    Intention,
    MemberAge,
    MemberRole,
    Phase,
    ReturnType,
    Schooling,
    Whereabouts,
)
from api.graphql.errors import (
    ForbiddenError,
    NotFoundError,
    ValidationError,
    VersionConflictError,
    to_case_error,
    to_referral_error,
    validate_input,
)
from api.graphql.needs import NeedType, TargetGroupType
from api.graphql.notices import AccessNoticeType, noticed
from api.graphql.pagination import Connection, to_connection
from api.graphql.programmes import ProgrammeType
from api.graphql.referrals import (
    ConsentPayload,
    ConsentResult,
    ConsentType,
    CountType,
    ReferralType,
    consent_revoked,
    consent_written,
    referral_organisations,
)
from core.errors import HomewardError, NotFound, ValidationFailed
from graph.access import Record
from graph.cases import (
    CaseConsentRecipients,
    CaseDetails,
    CaseEvent,
    CaseFilter,
    CaseFollowUp,
    CaseFollowUpInput,
    Member,
    OpenCaseInput,
    ReturnCase,
    StatusInput,
    case_statistics,
    extend_case_consent,
    get_case,
    grant_case_consent,
    list_cases,
    open_case,
    planned_arrivals,
    record_case_follow_up,
    record_status,
    revoke_case_consent,
    update_case,
)
from graph.pagination import decode_cursor, page_size
from graph.referrals import CaseConsentInput

if TYPE_CHECKING:
    from api.graphql.organisations import OrganisationType

OrganisationRef = Annotated["OrganisationType", strawberry.lazy("api.graphql.organisations")]


async def _needs(info: Info, codes: list[str]) -> list[NeedType]:
    found = await info.context.loaders.need.load_many(codes)
    return [NeedType.from_model(n) for n in found if n is not None]


async def _groups(info: Info, codes: list[str]) -> list[TargetGroupType]:
    found = await info.context.loaders.target_group.load_many(codes)
    return [TargetGroupType.from_model(g) for g in found if g is not None]


async def _area(info: Info, id: str | None) -> AreaType | None:
    if id is None:
        return None
    found = await info.context.loaders.area.load(id)
    return AreaType.from_model(found) if found else None


@strawberry.type(name="HouseholdMember")
class HouseholdMemberType:
    role: MemberRole
    age: MemberAge
    _member: strawberry.Private[Member]

    @strawberry.field(description="What this member needs (empty without consent to needs).")
    async def needs(self, info: Info) -> list[NeedType]:
        return await _needs(info, self._member.needs)

    @strawberry.field
    async def target_groups(self, info: Info) -> list[TargetGroupType]:
        return await _groups(info, self._member.target_groups)


@strawberry.type(name="CaseDocumentCheck")
class CaseDocumentCheckType:
    document: DocumentType
    state: DocumentState


@strawberry.type(name="CaseEvent")
class CaseEventType:
    at: datetime
    actor: str
    action: str = strawberry.field(description="opened, updated, status or visit.")
    phase: Phase
    whereabouts: Whereabouts
    note: str | None
    _event: strawberry.Private[CaseEvent]

    @strawberry.field(description="The place named by this change, if it named one.")
    async def destination(self, info: Info) -> AreaType | None:
        return await _area(info, self._event.destination_id)


@strawberry.type(name="CaseFollowUp")
class CaseFollowUpType:
    id: strawberry.ID
    months_after_arrival: int
    visited_on: date
    whereabouts: Whereabouts
    employment: Employment | None
    schooling: Schooling | None
    health_care_access: Access | None
    housing: Housing | None
    feels_safe: Access | None
    intends_to_leave: Intention | None
    economic: float | None
    social: float | None
    psychosocial: float | None
    note: str | None
    recorded_at: datetime
    recorded_by: str
    recorded_by_organisation_id: strawberry.ID

    @classmethod
    def from_model(cls, f: CaseFollowUp) -> CaseFollowUpType:
        return cls(**f.model_dump())


@strawberry.type(name="ReintegrationScore")
class ReintegrationScoreType:
    dimension: Dimension
    score: float | None = strawberry.field(description="0 to 1; the latest visit that scored it.")


@strawberry.type(name="ReturnCase")
class ReturnCaseType:
    id: strawberry.ID
    reference: str = strawberry.field(description="Generated; no names or birth dates exist.")
    file_number: str | None = strawberry.field(
        description="The owning organisation's own file number (only it sees it)."
    )
    viewer_side: CaseSide
    return_type: ReturnType
    sending_country: str | None
    planned_arrival: date | None
    actual_arrival: date | None
    phase: Phase
    whereabouts: Whereabouts
    members: list[HouseholdMemberType]
    languages: list[str]
    documents: list[CaseDocumentCheckType]
    note: str | None
    withheld_categories: list[DataCategory]
    consents: list[ConsentType]
    events: list[CaseEventType]
    follow_ups: list[CaseFollowUpType]
    follow_ups_due: list[int] = strawberry.field(
        description="Months after arrival whose visit is due and not recorded."
    )
    reintegration: list[ReintegrationScoreType]
    responsible_user_id: strawberry.ID | None
    created_at: datetime
    updated_at: datetime
    purged_at: datetime | None = strawberry.field(
        description="When the personal data was erased, the retention period after closing."
    )
    version: int
    _case: strawberry.Private[ReturnCase]

    @strawberry.field
    async def owner_organisation(self, info: Info) -> OrganisationRef | None:
        from api.graphql.organisations import OrganisationType

        found = await info.context.loaders.organisation.load(self._case.owner_organisation_id)
        return OrganisationType.from_model(found) if found else None

    @strawberry.field
    async def destination(self, info: Info) -> AreaType | None:
        return await _area(info, self._case.destination_id)

    @strawberry.field
    async def programmes(self, info: Info) -> list[ProgrammeType]:
        found = await info.context.loaders.programme.load_many(self._case.programme_ids)
        return [ProgrammeType.from_model(p) for p in found if p is not None]

    @strawberry.field(description="Needs of the household as a whole.")
    async def needs(self, info: Info) -> list[NeedType]:
        return await _needs(info, self._case.need_codes)

    @strawberry.field
    async def target_groups(self, info: Info) -> list[TargetGroupType]:
        return await _groups(info, self._case.target_group_codes)

    @strawberry.field(
        description="The case's referrals the viewer may see: all for the owner, its own for "
        "a receiving organisation."
    )
    async def referrals(self, info: Info) -> list[ReferralType]:
        found = await info.context.party.case_referrals.load(self._case.reference)
        shown = await noticed(info, Record.REFERRAL, list(found), referral_organisations)
        return [ReferralType.from_model(r) for r in shown]

    @strawberry.field(
        description="Reads through break-glass tokens: an admin made someone a reader of it."
    )
    def access_notices(self) -> list[AccessNoticeType]:
        return [AccessNoticeType.from_model(n) for n in self._case.access_notices]

    @classmethod
    def from_model(cls, c: ReturnCase) -> ReturnCaseType:
        return cls(
            id=strawberry.ID(c.id),
            reference=c.reference,
            file_number=c.file_number,
            viewer_side=c.viewer_side,
            return_type=c.return_type,
            sending_country=c.sending_country,
            planned_arrival=c.planned_arrival,
            actual_arrival=c.actual_arrival,
            phase=c.phase,
            whereabouts=c.whereabouts,
            members=[HouseholdMemberType(role=m.role, age=m.age, _member=m) for m in c.members],
            languages=c.languages,
            documents=[
                CaseDocumentCheckType(document=d.document, state=d.state) for d in c.documents
            ],
            note=c.note,
            withheld_categories=list(c.withheld_categories),
            consents=[ConsentType.from_model(k) for k in c.consents],
            events=[
                CaseEventType(
                    at=e.at,
                    actor=e.actor,
                    action=e.action,
                    phase=e.phase,
                    whereabouts=e.whereabouts,
                    note=e.note,
                    _event=e,
                )
                for e in c.events
            ],
            follow_ups=[CaseFollowUpType.from_model(f) for f in c.follow_ups],
            follow_ups_due=c.follow_ups_due,
            reintegration=[
                ReintegrationScoreType(dimension=d, score=s) for d, s in c.reintegration().items()
            ],
            responsible_user_id=strawberry.ID(c.responsible_user_id)
            if c.responsible_user_id
            else None,
            created_at=c.created_at,
            updated_at=c.updated_at,
            purged_at=c.purged_at,
            version=c.version,
            _case=c,
        )


@strawberry.type(name="PlannedArrivals")
class PlannedArrivalsType:
    month: str = strawberry.field(description="YYYY-MM")
    households: int | None = strawberry.field(description="Null below the minimum count.")
    people: int | None = strawberry.field(description="Null below the minimum count.")
    _municipality: strawberry.Private[str]

    @strawberry.field
    async def municipality(self, info: Info) -> AreaType | None:
        return await _area(info, self._municipality)


@strawberry.type(name="ReturnCaseStatistics")
class ReturnCaseStatisticsType:
    total: int | None = strawberry.field(
        description="Null when fewer than the deployment's minimum, like every count here."
    )
    by_phase: list[CountType]
    by_whereabouts: list[CountType]
    followed_up_at_6_months: float | None = strawberry.field(
        description="Share of arrived cases 6 months on that were visited then; null over "
        "too few cases, or where those visited or not visited are too few."
    )
    followed_up_at_12_months: float | None
    re_migration_rate: float | None = strawberry.field(
        description="Share of arrived cases that re-migrated at some point."
    )


def case_organisations(c: ReturnCase) -> list[str]:
    return [c.owner_organisation_id, c.viewer_organisation_id]


@strawberry.type
class CaseQuery:
    @strawberry.field(description="A return case of the caller's organisations.")
    async def return_case(self, info: Info, id: strawberry.ID) -> ReturnCaseType | None:
        try:
            found = await info.context.graph.read(
                get_case,
                id=str(id),
                **info.context.party_scope(),
            )
        except NotFound:
            return None
        [found] = await noticed(info, Record.CASE, [found], case_organisations)
        return ReturnCaseType.from_model(found)

    @strawberry.field(
        description="Cases the caller's organisations own or receive referrals of, newest first."
    )
    async def return_cases(
        self,
        info: Info,
        phase: list[Phase] | None = None,
        whereabouts: list[Whereabouts] | None = None,
        follow_ups_due: bool | None = None,
        overdue_referrals: bool | None = None,
        file_number: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ReturnCaseType]:
        at, last_id = decode_cursor(after)
        position: tuple[datetime, str] | None = None
        if after is not None:
            try:
                position = (datetime.fromisoformat(at), last_id)
            except ValueError as exc:
                raise ValidationFailed.single("after", "not a cursor returned by this API") from exc
        page = await info.context.graph.read(
            list_cases,
            filter=CaseFilter(
                phase=phase or [],
                whereabouts=whereabouts or [],
                follow_ups_due=follow_ups_due,
                overdue_referrals=overdue_referrals,
                file_number=(file_number or "").strip() or None,
            ),
            first=page_size(first),
            after=position,
            **info.context.party_scope(),
        )
        shown = await noticed(info, Record.CASE, [e.node for e in page.edges], case_organisations)
        for edge, case in zip(page.edges, shown, strict=True):
            edge.node = case
        return to_connection(page, ReturnCaseType.from_model)

    @strawberry.field(
        description="Households still preparing, by municipality of destination and month of "
        "planned arrival (coordinators)."
    )
    async def planned_arrivals(
        self,
        info: Info,
        since: date,
        until: date,
        area_id: strawberry.ID | None = None,
    ) -> list[PlannedArrivalsType]:
        if until <= since:
            raise ValidationFailed.single("until", "must be after since")
        cells = await info.context.graph.read(
            planned_arrivals,
            since=since,
            until=until,
            area_id=str(area_id) if area_id is not None else None,
            minimum_count=info.context.settings.statistics_minimum_count,
        )
        return [
            PlannedArrivalsType(
                month=c.month,
                households=c.households,
                people=c.people,
                _municipality=c.municipality_id,
            )
            for c in cells
        ]

    @strawberry.field(
        description="Cases by phase and whereabouts, follow-up and re-migration (coordinators)."
    )
    async def return_case_statistics(
        self, info: Info, area_id: strawberry.ID | None = None
    ) -> ReturnCaseStatisticsType:
        stats = await info.context.graph.read(
            case_statistics,
            area_id=str(area_id) if area_id is not None else None,
            today=info.context.now.date(),
            minimum_count=info.context.settings.statistics_minimum_count,
        )
        return ReturnCaseStatisticsType(
            total=stats.total,
            by_phase=[CountType(key=c.key, count=c.count) for c in stats.by_phase],
            by_whereabouts=[CountType(key=c.key, count=c.count) for c in stats.by_whereabouts],
            followed_up_at_6_months=stats.followed_up_at_6_months,
            followed_up_at_12_months=stats.followed_up_at_12_months,
            re_migration_rate=stats.re_migration_rate,
        )


# --- inputs -----------------------------------------------------------------------------------


@strawberry.input(name="HouseholdMemberInput")
class HouseholdMemberInputType:
    role: MemberRole
    age: MemberAge
    needs: list[str] = strawberry.field(default_factory=list, description="Need codes.")
    target_groups: list[str] = strawberry.field(default_factory=list)


@strawberry.input(name="CaseDocumentCheckInput")
class CaseDocumentCheckInputType:
    document: DocumentType
    state: DocumentState


@strawberry.input(name="ReturnCaseInput")
class ReturnCaseInputType:
    return_type: ReturnType
    destination: strawberry.ID = strawberry.field(
        description="Area id: any place of the gazetteer, a settlement where known."
    )
    file_number: str | None = strawberry.field(
        default=None, description="The owning organisation's own number; unique in it."
    )
    responsible_user_id: strawberry.ID | None = strawberry.field(
        default=None, description="A counsellor or partner of the owning organisation."
    )
    sending_country: str | None = strawberry.field(default=None, description="ISO 3166 code.")
    programmes: list[strawberry.ID] = strawberry.field(default_factory=list)
    planned_arrival: date | None = None
    actual_arrival: date | None = None
    members: list[HouseholdMemberInputType] = strawberry.field(default_factory=list)
    languages: list[str] = strawberry.field(default_factory=list, description="ISO 639 codes.")
    needs: list[str] = strawberry.field(default_factory=list)
    target_groups: list[str] = strawberry.field(default_factory=list)
    documents: list[CaseDocumentCheckInputType] = strawberry.field(default_factory=list)
    note: str | None = strawberry.field(default=None, description="Encrypted at rest.")


@strawberry.input(name="OpenReturnCaseInput")
class OpenReturnCaseInputType(ReturnCaseInputType):
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None, description="The owning organisation, for members of several."
    )


@strawberry.input(name="CaseStatusInput")
class CaseStatusInputType:
    case_id: strawberry.ID
    phase: Phase | None = None
    whereabouts: Whereabouts | None = None
    destination: strawberry.ID | None = strawberry.field(
        default=None, description="The new place, for a move within the country."
    )
    arrived_on: date | None = None
    note: str | None = None
    expected_version: int | None = None


@strawberry.input(name="CaseConsentInput")
class CaseConsentInputType:
    case_id: strawberry.ID
    recipients: list[strawberry.ID] = strawberry.field(
        description="Organisations a referral of the case is addressed to."
    )
    categories: list[DataCategory]
    purpose: str
    evidence_reference: str = strawberry.field(description="e.g. the signed form's number.")
    expires_on: date


@strawberry.input(name="CaseConsentRecipientsInput")
class CaseConsentRecipientsInputType:
    consent_id: strawberry.ID
    recipients: list[strawberry.ID] = strawberry.field(
        description="Further organisations a referral of the case is addressed to."
    )


@strawberry.input(name="CaseFollowUpInput")
class CaseFollowUpInputType:
    case_id: strawberry.ID
    months_after_arrival: int
    visited_on: date
    whereabouts: Whereabouts
    employment: Employment | None = None
    schooling: Schooling | None = None
    health_care_access: Access | None = None
    housing: Housing | None = None
    feels_safe: Access | None = None
    intends_to_leave: Intention | None = None
    economic: float | None = None
    social: float | None = None
    psychosocial: float | None = None
    note: str | None = None


@strawberry.type
class ReturnCasePayload:
    return_case: ReturnCaseType


ReturnCaseResult = Annotated[
    ReturnCasePayload | ValidationError | NotFoundError | ForbiddenError | VersionConflictError,
    strawberry.union("ReturnCaseResult"),
]


async def _case_written(
    info: Info,
    work: Callable[..., Awaitable[ReturnCase]],
    model: type[BaseModel],
    input: object,
    **arguments: object,
) -> ReturnCaseResult:
    """A change to a case from its GraphQL input: validated against the domain model, written
    with the caller's scope, and any expected failure returned as a member of the union."""
    try:
        data = validate_input(model, strawberry.asdict(input))
        case = await info.context.graph.write(
            work, data=data, **arguments, **info.context.party_scope()
        )
    except HomewardError as exc:
        return to_case_error(exc)
    return ReturnCasePayload(return_case=ReturnCaseType.from_model(case))


@strawberry.type
class CaseMutation:
    @strawberry.mutation(
        description="Open a case: by a counsellor before departure, or by a receiving partner "
        "after arrival (give the actual arrival)."
    )
    async def open_return_case(
        self, info: Info, input: OpenReturnCaseInputType
    ) -> ReturnCaseResult:
        return await _case_written(info, open_case, OpenCaseInput, input, id=str(uuid.uuid4()))

    @strawberry.mutation(description="Replace the case's details (the owning organisation).")
    async def update_return_case(
        self,
        info: Info,
        id: strawberry.ID,
        input: ReturnCaseInputType,
        expected_version: int | None = None,
    ) -> ReturnCaseResult:
        return await _case_written(
            info,
            update_case,
            CaseDetails,
            input,
            id=str(id),
            expected_version=expected_version,
        )

    @strawberry.mutation(description="A new phase or whereabouts of the household, as an event.")
    async def record_case_status(self, info: Info, input: CaseStatusInputType) -> ReturnCaseResult:
        return await _case_written(info, record_status, StatusInput, input)

    @strawberry.mutation(
        description="A visit after arrival with the indicators, where the household is, and "
        "a score per dimension of reintegration."
    )
    async def record_case_follow_up(
        self, info: Info, input: CaseFollowUpInputType
    ) -> ReturnCaseResult:
        return await _case_written(
            info, record_case_follow_up, CaseFollowUpInput, input, id=str(uuid.uuid4())
        )

    @strawberry.mutation(
        description="The returnee's one consent for the case: it covers every referral of the "
        "case to each recipient named. While it is valid, a further recipient extends it "
        "(extendCaseConsent); a second consent is refused."
    )
    async def grant_case_consent(self, info: Info, input: CaseConsentInputType) -> ConsentResult:
        return await consent_written(info, grant_case_consent, CaseConsentInput, input)

    @strawberry.mutation(
        description="Name further recipients on the case's consent (the same signed form): its "
        "categories, purpose and expiry then cover the case's referrals to them too."
    )
    async def extend_case_consent(
        self, info: Info, input: CaseConsentRecipientsInputType
    ) -> ConsentResult:
        try:
            data = validate_input(CaseConsentRecipients, strawberry.asdict(input))
            consent = await info.context.graph.write(
                extend_case_consent,
                data=data,
                actor=info.context.actor,
                now=info.context.now,
                cipher=info.context.cipher,
            )
        except HomewardError as exc:
            return to_referral_error(exc)
        return ConsentPayload(consent=ConsentType.from_model(consent))

    @strawberry.mutation(
        description="Every recipient loses the categories at once, for all referrals covered."
    )
    async def revoke_case_consent(self, info: Info, id: strawberry.ID) -> ConsentResult:
        return await consent_revoked(info, revoke_case_consent, id)
