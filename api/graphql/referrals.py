"""GraphQL for referrals: creation, the lifecycle, consent, follow-up and the counts that
coordinators see. What each person may read of a referral is decided in graph/referrals/reads.py;
this module only shapes it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.graphql.areas import AreaType
from api.graphql.context import Info
from api.graphql.enums import (
    Access,
    Action,
    AgeBand,
    DataCategory,
    DeclineReason,
    DocumentKind,
    Employment,
    Housing,
    Intention,
    Outcome,
    ReferralStatus,
    ReturnType,
    Schooling,
    Side,
)
from api.graphql.errors import (
    ConsentMissingError,
    ForbiddenError,
    IllegalTransitionError,
    NotFoundError,
    ValidationError,
    VersionConflictError,
    to_referral_error,
    validate_input,
)
from api.graphql.needs import NeedType, TargetGroupType
from api.graphql.notices import AccessNoticeType, noticed
from api.graphql.pagination import Connection, to_connection
from api.graphql.programmes import ProgrammeType
from api.graphql.services import ServiceType
from core.errors import HomewardError, NotFound, ValidationFailed
from graph.access import Record
from graph.pagination import decode_cursor, page_size
from graph.referrals import (
    CaseConsentInput,
    Consent,
    ConsentInput,
    FollowUp,
    FollowUpInput,
    Referral,
    ReferralEvent,
    ReferralFilter,
    ReferralInput,
    allowed_actions,
    create_referral,
    get_referral,
    grant_consent,
    list_referrals,
    record_follow_up,
    referral_statistics,
    revoke_consent,
    transition,
)

if TYPE_CHECKING:
    from api.graphql.cases import ReturnCaseType
    from api.graphql.organisations import OrganisationType


OrganisationRef = Annotated["OrganisationType", strawberry.lazy("api.graphql.organisations")]
ReturnCaseRef = Annotated["ReturnCaseType", strawberry.lazy("api.graphql.cases")]


async def _organisation(info: Info, id: str) -> OrganisationType | None:
    from api.graphql.organisations import OrganisationType

    found = await info.context.loaders.organisation.load(id)
    return OrganisationType.from_model(found) if found else None


@strawberry.type(name="Household")
class HouseholdType:
    adults: int
    children: list[AgeBand]


@strawberry.type(name="ReferralEvent")
class ReferralEventType:
    at: datetime
    actor: str
    action: str
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    note: str | None
    reason: DeclineReason | None
    outcome: Outcome | None

    @classmethod
    def from_model(cls, e: ReferralEvent) -> ReferralEventType:
        return cls(**e.model_dump())


@strawberry.type(name="FollowUp")
class FollowUpType:
    id: strawberry.ID
    months_after_arrival: int
    visited_on: date
    employment: Employment | None
    schooling: Schooling | None
    health_care_access: Access | None
    housing: Housing | None
    feels_safe: Access | None
    intends_to_leave: Intention | None
    note: str | None
    recorded_at: datetime
    recorded_by: str
    recorded_by_organisation_id: strawberry.ID

    @classmethod
    def from_model(cls, f: FollowUp) -> FollowUpType:
        return cls(**f.model_dump())


@strawberry.type(name="Consent")
class ConsentType:
    id: strawberry.ID
    case_reference: str
    categories: list[DataCategory]
    purpose: str
    evidence_reference: str
    expires_on: date
    recorded_at: datetime
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None
    _consent: strawberry.Private[Consent]

    @strawberry.field(description="Neither revoked nor expired.")
    def valid(self, info: Info) -> bool:
        return self._consent.valid_at(info.context.now)

    @strawberry.field(description="The recipient this referral concerns (the first named).")
    async def recipient(self, info: Info) -> OrganisationRef | None:
        return await _organisation(info, self._consent.recipient_organisation_id)

    @strawberry.field(description="Every organisation the consent names.")
    async def recipients(self, info: Info) -> list[OrganisationRef]:
        found = [await _organisation(info, o) for o in self._consent.recipient_organisation_ids]
        return [o for o in found if o is not None]

    @classmethod
    def from_model(cls, c: Consent) -> ConsentType:
        return cls(
            id=strawberry.ID(c.id),
            case_reference=c.case_reference,
            categories=list(c.categories),
            purpose=c.purpose,
            evidence_reference=c.evidence_reference,
            expires_on=c.expires_on,
            recorded_at=c.recorded_at,
            recorded_by=c.recorded_by,
            revoked_at=c.revoked_at,
            revoked_by=c.revoked_by,
            _consent=c,
        )


@strawberry.type(name="Referral")
class ReferralType:
    id: strawberry.ID
    reference: str = strawberry.field(description="Generated; no names or birth dates exist.")
    case_reference: str = strawberry.field(
        description="Shared by a household's referrals.",
        deprecation_reason="Use returnCase { reference }: the case is a record of its own.",
    )
    status: ReferralStatus
    viewer_side: Side
    return_type: ReturnType
    planned_arrival: date | None
    household: HouseholdType | None
    languages: list[str]
    documents: list[DocumentKind]
    note: str | None
    contact: str | None
    health: str | None
    withheld_categories: list[DataCategory] = strawberry.field(
        description="Personal categories hidden from the viewer: no valid consent covers them."
    )
    decline_reason: DeclineReason | None
    outcome: Outcome | None
    response_due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    purged_at: datetime | None = strawberry.field(
        description="When the personal categories were erased after the retention period."
    )
    version: int
    events: list[ReferralEventType]
    follow_ups: list[FollowUpType]
    consents: list[ConsentType]
    follow_ups_due: list[int] = strawberry.field(
        description="Months after arrival whose monitoring visit is due and not recorded."
    )
    _referral: strawberry.Private[Referral]

    @strawberry.field(description="Sent and not acknowledged within the expected time.")
    def overdue(self, info: Info) -> bool:
        return self._referral.overdue_at(info.context.now)

    @strawberry.field(description="The household's return case this referral belongs to.")
    async def return_case(self, info: Info) -> ReturnCaseRef | None:
        from api.graphql.cases import ReturnCaseType

        if self._referral.return_case_id is None:
            return None
        from api.graphql.cases import case_organisations

        found = await info.context.party.return_case.load(self._referral.return_case_id)
        if found is None:
            return None
        [found] = await noticed(info, Record.CASE, [found], case_organisations)
        return ReturnCaseType.from_model(found)

    @strawberry.field(description="The earlier referral of the case this one takes up again.")
    async def continues(self, info: Info) -> ReferralType | None:
        if self._referral.continues_id is None:
            return None
        try:
            found = await info.context.graph.read(
                get_referral,
                id=self._referral.continues_id,
                **info.context.party_scope(),
            )
        except NotFound:
            return None
        [found] = await noticed(info, Record.REFERRAL, [found], referral_organisations)
        return ReferralType.from_model(found)

    @strawberry.field(description="What the viewer may do next.")
    def allowed_actions(self) -> list[Action]:
        r = self._referral
        return allowed_actions(r.status, r.viewer_side)

    @strawberry.field
    async def service(self, info: Info) -> ServiceType | None:
        found = await info.context.loaders.service.load(self._referral.service_id)
        return ServiceType.from_model(found) if found else None

    @strawberry.field
    async def from_organisation(self, info: Info) -> OrganisationRef | None:
        return await _organisation(info, self._referral.from_organisation_id)

    @strawberry.field
    async def receiving_organisation(self, info: Info) -> OrganisationRef | None:
        return await _organisation(info, self._referral.receiving_organisation_id)

    @strawberry.field
    async def destination(self, info: Info) -> AreaType | None:
        found = await info.context.loaders.area.load(self._referral.destination_id)
        return AreaType.from_model(found) if found else None

    @strawberry.field
    async def needs(self, info: Info) -> list[NeedType]:
        found = await info.context.loaders.need.load_many(self._referral.need_codes)
        return [NeedType.from_model(n) for n in found if n is not None]

    @strawberry.field
    async def target_groups(self, info: Info) -> list[TargetGroupType]:
        found = await info.context.loaders.target_group.load_many(self._referral.target_group_codes)
        return [TargetGroupType.from_model(g) for g in found if g is not None]

    @strawberry.field
    async def programme(self, info: Info) -> ProgrammeType | None:
        if self._referral.programme_id is None:
            return None
        found = await info.context.loaders.programme.load(self._referral.programme_id)
        return ProgrammeType.from_model(found) if found else None

    @strawberry.field(
        description="Reads through break-glass tokens: an admin made someone a reader of it."
    )
    def access_notices(self) -> list[AccessNoticeType]:
        return [AccessNoticeType.from_model(n) for n in self._referral.access_notices]

    @classmethod
    def from_model(cls, r: Referral) -> ReferralType:
        return cls(
            id=strawberry.ID(r.id),
            reference=r.reference,
            case_reference=r.case_reference,
            status=r.status,
            viewer_side=r.viewer_side,
            return_type=r.return_type,
            planned_arrival=r.planned_arrival,
            household=HouseholdType(adults=r.household.adults, children=list(r.household.children))
            if r.household
            else None,
            languages=r.languages,
            documents=list(r.documents),
            note=r.note,
            contact=r.contact,
            health=r.health,
            withheld_categories=list(r.withheld_categories),
            decline_reason=r.decline_reason,
            outcome=r.outcome,
            response_due_at=r.response_due_at,
            created_at=r.created_at,
            updated_at=r.updated_at,
            sent_at=r.sent_at,
            acknowledged_at=r.acknowledged_at,
            accepted_at=r.accepted_at,
            closed_at=r.closed_at,
            purged_at=r.purged_at,
            version=r.version,
            events=[ReferralEventType.from_model(e) for e in r.events],
            follow_ups=[FollowUpType.from_model(f) for f in r.follow_ups],
            consents=[ConsentType.from_model(c) for c in r.consents],
            follow_ups_due=r.follow_ups_due,
            _referral=r,
        )


def referral_organisations(r: Referral) -> list[str]:
    return [r.from_organisation_id, r.receiving_organisation_id]


@strawberry.type(name="Count")
class CountType:
    key: str
    count: int | None = strawberry.field(
        description="Null when fewer than the deployment's minimum: small counts identify people."
    )


@strawberry.type(name="ReferralStatistics")
class ReferralStatisticsType:
    total: int | None = strawberry.field(
        description="Null when fewer than the deployment's minimum, like every count here."
    )
    by_status: list[CountType]
    by_destination: list[CountType]
    by_need: list[CountType]


@strawberry.type
class ReferralQuery:
    @strawberry.field(description="A referral of the caller's organisations.")
    async def referral(self, info: Info, id: strawberry.ID) -> ReferralType | None:
        try:
            found = await info.context.graph.read(
                get_referral,
                id=str(id),
                **info.context.party_scope(),
            )
        except NotFound:
            return None
        [found] = await noticed(info, Record.REFERRAL, [found], referral_organisations)
        return ReferralType.from_model(found)

    @strawberry.field(description="Referrals sent or received by the caller's organisations.")
    async def referrals(
        self,
        info: Info,
        side: Side | None = None,
        status: list[ReferralStatus] | None = None,
        case_reference: Annotated[
            str | None,
            strawberry.argument(deprecation_reason="Use returnCase(id) { referrals }."),
        ] = None,
        overdue: bool | None = None,
        follow_ups_due: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ReferralType]:
        at, last_id = decode_cursor(after)
        position: tuple[datetime, str] | None = None
        if after is not None:
            try:
                position = (datetime.fromisoformat(at), last_id)
            except ValueError as exc:
                raise ValidationFailed.single("after", "not a cursor returned by this API") from exc
        page = await info.context.graph.read(
            list_referrals,
            filter=ReferralFilter(
                side=side,
                status=status or [],
                case_reference=case_reference,
                overdue=overdue,
                follow_ups_due=follow_ups_due,
            ),
            first=page_size(first),
            after=position,
            **info.context.party_scope(),
        )
        shown = await noticed(
            info, Record.REFERRAL, [e.node for e in page.edges], referral_organisations
        )
        for edge, referral in zip(page.edges, shown, strict=True):
            edge.node = referral
        return to_connection(page, ReferralType.from_model)

    @strawberry.field(
        description="Counts of referrals sent from the start of `since` to the end of `until` "
        "(both days included), by status, destination and need (coordinators)."
    )
    async def referral_statistics(
        self,
        info: Info,
        since: date,
        until: date,
        area_id: strawberry.ID | None = None,
    ) -> ReferralStatisticsType:
        if until < since:
            raise ValidationFailed.single("until", "must not be before since")
        stats = await info.context.graph.read(
            referral_statistics,
            area_id=str(area_id) if area_id is not None else None,
            since=datetime.combine(since, time(), UTC),
            # The whole of the last day: referrals sent on `until` count.
            until=datetime.combine(until + timedelta(days=1), time(), UTC),
            minimum_count=info.context.settings.statistics_minimum_count,
        )
        return ReferralStatisticsType(
            total=stats.total,
            by_status=[CountType(key=c.key, count=c.count) for c in stats.by_status],
            by_destination=[CountType(key=c.key, count=c.count) for c in stats.by_destination],
            by_need=[CountType(key=c.key, count=c.count) for c in stats.by_need],
        )


@strawberry.input(name="HouseholdInput")
class HouseholdInputType:
    adults: int
    children: list[AgeBand] = strawberry.field(default_factory=list)


@strawberry.input(name="ReferralInput")
class ReferralInputType:
    service_id: strawberry.ID
    needs: list[str]
    destination: strawberry.ID | None = strawberry.field(
        default=None,
        description="Area id of the place of return; taken from the case if left out.",
    )
    return_type: ReturnType | None = strawberry.field(
        default=None, description="Taken from the case if left out."
    )
    from_organisation_id: strawberry.ID | None = None
    return_case_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Make the referral from this case: household, languages, arrival, "
        "destination and programme come from it unless given here.",
    )
    case_reference: str | None = strawberry.field(
        default=None,
        description="Add to an existing case (another need of the same household).",
        deprecation_reason="Use returnCaseId.",
    )
    continues: strawberry.ID | None = strawberry.field(
        default=None, description="The earlier referral of the same case this one takes up again."
    )
    target_groups: list[str] = strawberry.field(default_factory=list)
    household: HouseholdInputType | None = None
    languages: list[str] = strawberry.field(default_factory=list, description="ISO 639 codes.")
    planned_arrival: date | None = None
    programme: strawberry.ID | None = None
    documents: list[DocumentKind] = strawberry.field(default_factory=list)
    note: str | None = None
    contact: str | None = strawberry.field(
        default=None, description="How to reach the household; encrypted at rest."
    )
    health: str | None = strawberry.field(
        default=None, description="Health information; encrypted at rest."
    )


@strawberry.input(name="ConsentInput")
class ConsentInputType:
    referral_id: strawberry.ID = strawberry.field(
        description="The consent covers this referral's case and receiving organisation."
    )
    categories: list[DataCategory]
    purpose: str
    evidence_reference: str = strawberry.field(description="e.g. the signed form's number.")
    expires_on: date


@strawberry.input(name="FollowUpInput")
class FollowUpInputType:
    referral_id: strawberry.ID
    months_after_arrival: int
    visited_on: date
    employment: Employment | None = None
    schooling: Schooling | None = None
    health_care_access: Access | None = None
    housing: Housing | None = None
    feels_safe: Access | None = None
    intends_to_leave: Intention | None = None
    note: str | None = None


@strawberry.type
class ReferralPayload:
    referral: ReferralType


@strawberry.type
class ConsentPayload:
    consent: ConsentType


_ERRORS = (
    ValidationError
    | NotFoundError
    | ForbiddenError
    | VersionConflictError
    | IllegalTransitionError
    | ConsentMissingError
)
ReferralResult = Annotated[ReferralPayload | _ERRORS, strawberry.union("ReferralResult")]
ConsentResult = Annotated[ConsentPayload | _ERRORS, strawberry.union("ConsentResult")]

MAX_NOTE = 4000


async def _step(
    info: Info,
    id: strawberry.ID,
    action: Action,
    *,
    note: str | None,
    expected_version: int | None,
    reason: DeclineReason | None = None,
    outcome: Outcome | None = None,
) -> ReferralResult:
    try:
        if note is not None and len(note) > MAX_NOTE:
            raise ValidationFailed.single("note", f"at most {MAX_NOTE} characters")
        referral = await info.context.graph.write(
            transition,
            id=str(id),
            action=action,
            **info.context.party_scope(),
            note=(note or "").strip() or None,
            reason=reason,
            outcome=outcome,
            expected_version=expected_version,
        )
    except HomewardError as exc:
        return to_referral_error(exc, argument="")
    return ReferralPayload(referral=ReferralType.from_model(referral))


async def consent_written(
    info: Info,
    work: Callable[..., Awaitable[Consent]],
    model: type[ConsentInput] | type[CaseConsentInput],
    input: object,
) -> ConsentResult:
    """A consent recorded, for one referral's receiver or for a whole case's recipients."""
    try:
        data = validate_input(model, strawberry.asdict(input))
        consent = await info.context.graph.write(
            work,
            id=str(uuid.uuid4()),
            data=data,
            actor=info.context.actor,
            now=info.context.now,
            cipher=info.context.cipher,
        )
    except HomewardError as exc:
        return to_referral_error(exc)
    return ConsentPayload(consent=ConsentType.from_model(consent))


async def consent_revoked(
    info: Info, work: Callable[..., Awaitable[Consent]], id: strawberry.ID
) -> ConsentResult:
    try:
        consent = await info.context.graph.write(
            work,
            id=str(id),
            actor=info.context.actor,
            now=info.context.now,
            cipher=info.context.cipher,
        )
    except HomewardError as exc:
        return to_referral_error(exc, argument="")
    return ConsentPayload(consent=ConsentType.from_model(consent))


async def _record(
    info: Info,
    work: Callable[..., Awaitable[Referral]],
    model: type[ReferralInput] | type[FollowUpInput],
    input: object,
) -> ReferralResult:
    """Something new on a referral (the referral itself, a follow-up), under a fresh id."""
    try:
        data = validate_input(model, strawberry.asdict(input))
        referral = await info.context.graph.write(
            work,
            id=str(uuid.uuid4()),
            data=data,
            **info.context.party_scope(),
        )
    except HomewardError as exc:
        return to_referral_error(exc)
    return ReferralPayload(referral=ReferralType.from_model(referral))


_VERSION = strawberry.argument(
    description="The version the caller last saw; if it moved on, nothing is written."
)


@strawberry.type
class ReferralMutation:
    @strawberry.mutation(description="A draft referral to one service; not shared until sent.")
    async def create_referral(self, info: Info, input: ReferralInputType) -> ReferralResult:
        return await _record(info, create_referral, ReferralInput, input)

    @strawberry.mutation(
        description="Share the referral with the receiving organisation; refused unless a "
        "valid consent covers every category of data it carries."
    )
    async def send_referral(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        expected_version: Annotated[int | None, _VERSION] = None,
    ) -> ReferralResult:
        return await _step(info, id, Action.SEND, note=note, expected_version=expected_version)

    @strawberry.mutation
    async def acknowledge_referral(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        expected_version: Annotated[int | None, _VERSION] = None,
    ) -> ReferralResult:
        return await _step(
            info, id, Action.ACKNOWLEDGE, note=note, expected_version=expected_version
        )

    @strawberry.mutation
    async def accept_referral(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        expected_version: Annotated[int | None, _VERSION] = None,
    ) -> ReferralResult:
        return await _step(info, id, Action.ACCEPT, note=note, expected_version=expected_version)

    @strawberry.mutation
    async def decline_referral(
        self,
        info: Info,
        id: strawberry.ID,
        reason: DeclineReason,
        note: str | None = None,
        expected_version: Annotated[int | None, _VERSION] = None,
    ) -> ReferralResult:
        return await _step(
            info, id, Action.DECLINE, note=note, expected_version=expected_version, reason=reason
        )

    @strawberry.mutation
    async def start_referral(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        expected_version: Annotated[int | None, _VERSION] = None,
    ) -> ReferralResult:
        return await _step(info, id, Action.START, note=note, expected_version=expected_version)

    @strawberry.mutation
    async def complete_referral(
        self,
        info: Info,
        id: strawberry.ID,
        outcome: Outcome,
        note: str | None = None,
        expected_version: Annotated[int | None, _VERSION] = None,
    ) -> ReferralResult:
        return await _step(
            info, id, Action.COMPLETE, note=note, expected_version=expected_version, outcome=outcome
        )

    @strawberry.mutation(description="Withdraw the referral; the sender may until completion.")
    async def cancel_referral(
        self,
        info: Info,
        id: strawberry.ID,
        note: str | None = None,
        expected_version: Annotated[int | None, _VERSION] = None,
        outcome: Annotated[
            Outcome | None,
            strawberry.argument(
                description="DECLINED_BY_RETURNEE or MOVED_AWAY when the household withdrew."
            ),
        ] = None,
    ) -> ReferralResult:
        return await _step(
            info, id, Action.CANCEL, note=note, expected_version=expected_version, outcome=outcome
        )

    @strawberry.mutation(description="A monitoring visit after arrival, with its indicators.")
    async def record_follow_up(self, info: Info, input: FollowUpInputType) -> ReferralResult:
        return await _record(info, record_follow_up, FollowUpInput, input)

    @strawberry.mutation(
        description="Record the returnee's consent to share these categories with the "
        "referral's receiving organisation (for every referral of the case to it)."
    )
    async def grant_consent(self, info: Info, input: ConsentInputType) -> ConsentResult:
        return await consent_written(info, grant_consent, ConsentInput, input)

    @strawberry.mutation(
        description="The receiving organisation loses access to the categories at once."
    )
    async def revoke_consent(self, info: Info, id: strawberry.ID) -> ConsentResult:
        return await consent_revoked(info, revoke_consent, id)
