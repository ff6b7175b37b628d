"""The vocabulary of referrals and the models the rest of the package shares: statuses,
actions and sides, the categories a consent covers, what a caller sends in and what a viewer
reads back, and the deployment's policy. Nothing here talks to the database.

No names or birth dates exist anywhere in the model: a referral is known by its generated
reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.languages import iso639_codes
from core.text import distinct
from graph.access import AccessNotice
from graph.services import ReturnType

# --- statuses, actions and sides -------------------------------------------------------


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


CLOSED = frozenset({ReferralStatus.DECLINED, ReferralStatus.COMPLETED, ReferralStatus.CANCELLED})


class Action(StrEnum):
    SEND = "send"
    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    DECLINE = "decline"
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"


class Side(StrEnum):
    """Which end of a referral a person stands on; each action belongs to one side."""

    SENDER = "sender"
    RECEIVER = "receiver"


# --- vocabulary ----------------------------------------------------------------------------


class DataCategory(StrEnum):
    """What a consent may cover; a referral carries some of these."""

    NEEDS = "needs"
    HOUSEHOLD = "household"
    HEALTH = "health"
    CONTACT = "contact"
    DOCUMENTS = "documents"
    NOTES = "notes"


class AgeBand(StrEnum):
    AGE_0_2 = "age_0_2"
    AGE_3_5 = "age_3_5"
    AGE_6_14 = "age_6_14"
    AGE_15_17 = "age_15_17"


class DocumentKind(StrEnum):
    MEDICAL_RECORDS_TRANSLATED = "medical_records_translated"
    DIPLOMAS = "diplomas"
    SCHOOL_RECORDS = "school_records"
    BIRTH_CERTIFICATES = "birth_certificates"
    IDENTITY_DOCUMENTS = "identity_documents"
    OTHER = "other"


class DeclineReason(StrEnum):
    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    OUTSIDE_AREA = "outside_area"
    SERVICE_NOT_OFFERED = "service_not_offered"
    OTHER = "other"


class Outcome(StrEnum):
    GOT_HELP = "got_help"
    NOT_ELIGIBLE = "not_eligible"
    NO_CAPACITY = "no_capacity"
    COULD_NOT_CONTACT = "could_not_contact"
    DECLINED_BY_RETURNEE = "declined_by_returnee"
    REFERRED_ELSEWHERE = "referred_elsewhere"
    MOVED_AWAY = "moved_away"


# Outcomes that say the directory entry may be wrong: the service is flagged for
# re-verification with this reason.
REVERIFY_AFTER: dict[Outcome | DeclineReason, str] = {
    Outcome.COULD_NOT_CONTACT: "a referral could not reach the service",
    Outcome.NO_CAPACITY: "a referral found the service without capacity",
    DeclineReason.NO_CAPACITY: "the service declined a referral for lack of capacity",
}


# Monitoring visits concern a returnee the receiver has taken on: from acceptance on, and
# after completion too (the follow-up outlives the service's own work).
FOLLOW_UP_STATUSES = frozenset(
    {ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS, ReferralStatus.COMPLETED}
)


class Employment(StrEnum):
    EMPLOYED = "employed"
    SELF_EMPLOYED = "self_employed"
    IN_TRAINING = "in_training"
    UNEMPLOYED = "unemployed"
    NOT_APPLICABLE = "not_applicable"


class Schooling(StrEnum):
    ALL_CHILDREN = "all_children"
    SOME_CHILDREN = "some_children"
    NO_CHILDREN = "no_children"
    NOT_APPLICABLE = "not_applicable"


class Access(StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"


class Housing(StrEnum):
    ADEQUATE = "adequate"
    TEMPORARY = "temporary"
    INADEQUATE = "inadequate"
    NONE = "none"


class Intention(StrEnum):
    NO = "no"
    UNDECIDED = "undecided"
    YES = "yes"


# --- input models ------------------------------------------------------------------------

_CODE = Field(min_length=1, max_length=80)


class Household(BaseModel):
    """The household's shape: counts and age bands, never names or birth dates."""

    adults: int = Field(ge=0, le=30)
    children: list[AgeBand] = Field(default_factory=list, max_length=30)

    @classmethod
    def of_ages(cls, ages: list[str]) -> Household | None:
        """The shape of a case's household from its members' age bands: grown-ups counted,
        children by band."""
        if not ages:
            return None
        bands = {b.value for b in AgeBand}
        children = [AgeBand(a) for a in ages if a in bands]
        return cls(adults=len(ages) - len(children), children=children)


class ReferralInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    service_id: str = _CODE
    # Destination and return type come from the case when the referral is made from one.
    destination: str | None = Field(default=None, min_length=1, max_length=64)
    needs: list[str] = Field(min_length=1, max_length=20)
    return_type: ReturnType | None = None
    # The sending organisation; may be left out by counsellors of one organisation only.
    from_organisation_id: str | None = Field(default=None, max_length=80)
    # The return case the referral belongs to: household, languages, arrival, destination
    # and programme are taken from it unless given here.
    return_case_id: str | None = Field(default=None, max_length=80)
    # Joins an existing case by its reference (the older way to say the same).
    case_reference: str | None = Field(default=None, max_length=40)
    # The earlier referral of the same case this one takes up again (after a return from
    # abroad, a "no capacity", a decline).
    continues: str | None = Field(default=None, max_length=80)
    target_groups: list[str] = Field(default_factory=list, max_length=20)
    household: Household | None = None
    languages: list[str] = Field(default_factory=list, max_length=10)
    planned_arrival: date | None = None
    programme: str | None = Field(default=None, max_length=80)
    documents: list[DocumentKind] = Field(default_factory=list, max_length=10)
    note: str | None = Field(default=None, max_length=4000)
    contact: str | None = Field(default=None, max_length=1000)
    health: str | None = Field(default=None, max_length=4000)

    @field_validator("needs", "target_groups")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return distinct(values)

    @field_validator("languages")
    @classmethod
    def _iso639(cls, values: list[str]) -> list[str]:
        return iso639_codes(values)

    @field_validator("note", "contact", "health")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    def carried_categories(self) -> set[DataCategory]:
        """What sending this referral shares; the consent must cover all of it."""
        carried = {DataCategory.NEEDS}
        if self.household is not None or self.target_groups or self.languages:
            carried.add(DataCategory.HOUSEHOLD)
        if self.health:
            carried.add(DataCategory.HEALTH)
        if self.contact:
            carried.add(DataCategory.CONTACT)
        if self.documents:
            carried.add(DataCategory.DOCUMENTS)
        if self.note:
            carried.add(DataCategory.NOTES)
        return carried


class ConsentInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    referral_id: str = _CODE
    categories: list[DataCategory] = Field(min_length=1)
    purpose: str = Field(min_length=3, max_length=500)
    evidence_reference: str = Field(
        min_length=1, max_length=200, description="e.g. the id of the signed consent form"
    )
    expires_on: date


class CaseConsentInput(BaseModel):
    """One consent for a whole case: every referral of the case to a named recipient is
    covered by it. A recipient added later extends this consent (`CaseConsentRecipients`):
    the household signs one form, not one per organisation."""

    model_config = ConfigDict(str_strip_whitespace=True)

    case_id: str = _CODE
    recipients: list[str] = Field(min_length=1, max_length=30)
    categories: list[DataCategory] = Field(min_length=1)
    purpose: str = Field(min_length=3, max_length=500)
    evidence_reference: str = Field(min_length=1, max_length=200)
    expires_on: date

    @field_validator("recipients")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return distinct(values)


class FollowUpInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    referral_id: str = _CODE
    months_after_arrival: int = Field(ge=0, le=60)
    visited_on: date
    employment: Employment | None = None
    schooling: Schooling | None = None
    health_care_access: Access | None = None
    housing: Housing | None = None
    feels_safe: Access | None = None
    intends_to_leave: Intention | None = None
    note: str | None = Field(default=None, max_length=4000)


# --- read models ---------------------------------------------------------------------------


class ReferralEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    from_status: ReferralStatus | None
    to_status: ReferralStatus
    note: str | None
    reason: DeclineReason | None
    outcome: Outcome | None


class FollowUp(BaseModel):
    id: str
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
    recorded_by_organisation_id: str


class Consent(BaseModel):
    id: str
    case_reference: str
    recipient_organisation_id: str
    # Every organisation the consent names; a referral's view shows the one it concerns
    # as `recipient_organisation_id`.
    recipient_organisation_ids: list[str] = Field(default_factory=list)
    categories: list[DataCategory]
    purpose: str
    evidence_reference: str
    expires_on: date
    recorded_at: datetime
    recorded_by: str
    revoked_at: datetime | None
    revoked_by: str | None

    def valid_at(self, at: datetime) -> bool:
        return self.revoked_at is None and at.date() < self.expires_on


class Referral(BaseModel):
    """A referral as one viewer may see it. Personal fields the viewer may not read are
    None and their categories listed in `withheld_categories`."""

    id: str
    reference: str
    case_reference: str
    return_case_id: str | None
    continues_id: str | None
    status: ReferralStatus
    viewer_side: Side
    from_organisation_id: str
    service_id: str
    receiving_organisation_id: str
    destination_id: str
    return_type: ReturnType
    planned_arrival: date | None
    programme_id: str | None
    need_codes: list[str]
    target_group_codes: list[str]
    household: Household | None
    languages: list[str]
    documents: list[DocumentKind]
    note: str | None
    contact: str | None
    health: str | None
    withheld_categories: list[DataCategory]
    decline_reason: DeclineReason | None
    outcome: Outcome | None
    response_due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    accepted_at: datetime | None
    closed_at: datetime | None
    purged_at: datetime | None
    version: int
    events: list[ReferralEvent]
    follow_ups: list[FollowUp]
    consents: list[Consent]
    # Reads through break-glass credentials (graph/access.py).
    access_notices: list[AccessNotice] = Field(default_factory=list)
    follow_ups_due: list[int]

    def overdue_at(self, now: datetime) -> bool:
        return (
            self.status is ReferralStatus.SENT
            and self.response_due_at is not None
            and self.response_due_at < now
        )


# --- the deployment's rules ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """Deployment rules that referral functions need (from Settings)."""

    default_response_days: int = 5
    follow_up_months: tuple[int, ...] = (1, 3, 6, 12)
    retention_days: int = 365
