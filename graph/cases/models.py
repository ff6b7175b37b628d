"""The vocabulary of return cases and the models the package shares: phases and whereabouts
with the changes that make sense between them, the household without names, the documents
checklist, what a caller sends in and what a viewer reads back. Nothing here talks to the
database.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.languages import iso639_codes
from core.text import distinct
from graph.access import AccessNotice
from graph.referrals import (
    Access,
    Consent,
    DataCategory,
    Employment,
    Housing,
    Intention,
    Schooling,
)
from graph.services import ReturnType

# --- phases and whereabouts --------------------------------------------------------------


class Phase(StrEnum):
    PREPARING = "preparing"
    ARRIVED = "arrived"
    REINTEGRATING = "reintegrating"
    MONITORING = "monitoring"
    CLOSED = "closed"


PHASE_ORDER = list(Phase)


class Whereabouts(StrEnum):
    """Where the household is; the report names each of these as a state cases end up in."""

    HOST_COUNTRY = "host_country"
    IN_DESTINATION = "in_destination"
    MOVED = "moved"
    TEMPORARILY_ABROAD = "temporarily_abroad"
    RE_MIGRATED = "re_migrated"
    RETURNED_AGAIN = "returned_again"
    UNREACHABLE = "unreachable"


W = Whereabouts
# Where a household may be said to be next, given where it was. "Returned again" only follows
# a stay abroad; nobody is back in the host country once they have left (that is re-migration),
# and "moved" means moving within the country of return.
WHEREABOUTS_FROM: dict[Whereabouts, frozenset[Whereabouts]] = {
    W.HOST_COUNTRY: frozenset(),
    W.IN_DESTINATION: frozenset(
        {W.HOST_COUNTRY, W.MOVED, W.TEMPORARILY_ABROAD, W.RETURNED_AGAIN, W.UNREACHABLE}
    ),
    W.MOVED: frozenset(
        {W.IN_DESTINATION, W.MOVED, W.TEMPORARILY_ABROAD, W.RETURNED_AGAIN, W.UNREACHABLE}
    ),
    W.TEMPORARILY_ABROAD: frozenset({W.IN_DESTINATION, W.MOVED, W.RETURNED_AGAIN, W.UNREACHABLE}),
    W.RE_MIGRATED: frozenset(
        {W.IN_DESTINATION, W.MOVED, W.TEMPORARILY_ABROAD, W.RETURNED_AGAIN, W.UNREACHABLE}
    ),
    W.RETURNED_AGAIN: frozenset({W.TEMPORARILY_ABROAD, W.RE_MIGRATED, W.UNREACHABLE}),
    W.UNREACHABLE: frozenset(set(W) - {W.UNREACHABLE}),
}
del W


def whereabouts_problem(current: Whereabouts, new: Whereabouts) -> str | None:
    """Why the household cannot be said to be `new` after `current`, or None."""
    if current is new and new is not Whereabouts.MOVED:
        return None  # saying it again is harmless (a visit confirms it)
    if current not in WHEREABOUTS_FROM[new]:
        allowed = sorted(w.value for w, sources in WHEREABOUTS_FROM.items() if current in sources)
        return f"cannot be {new.value} after {current.value}; possible next: " + (
            ", ".join(allowed) or "none"
        )
    return None


def phase_problem(current: Phase, new: Phase) -> str | None:
    """Phases only move forward (a closed case is reopened by opening a new one)."""
    if PHASE_ORDER.index(new) < PHASE_ORDER.index(current):
        return f"cannot go back from {current.value} to {new.value}"
    return None


# --- household and documents ---------------------------------------------------------------


class MemberRole(StrEnum):
    MOTHER = "mother"
    FATHER = "father"
    DAUGHTER = "daughter"
    SON = "son"
    GRANDMOTHER = "grandmother"
    GRANDFATHER = "grandfather"
    ADULT = "adult"
    CHILD = "child"
    OTHER_RELATIVE = "other_relative"


class MemberAge(StrEnum):
    """The child bands of a referral's household, and two for grown-ups."""

    AGE_0_2 = "age_0_2"
    AGE_3_5 = "age_3_5"
    AGE_6_14 = "age_6_14"
    AGE_15_17 = "age_15_17"
    ADULT = "adult"
    ELDERLY = "elderly"


class DocumentType(StrEnum):
    IDENTITY = "identity"
    CIVIL_REGISTRATION = "civil_registration"
    DIPLOMAS = "diplomas"
    MEDICAL_RECORDS = "medical_records"


class DocumentState(StrEnum):
    REQUESTED = "requested"
    AVAILABLE = "available"
    TRANSLATED = "translated"
    RECOGNISED = "recognised"


class Member(BaseModel):
    """One member of the household: a role and an age band, never a name or birth date."""

    model_config = ConfigDict(str_strip_whitespace=True)

    role: MemberRole
    age: MemberAge
    needs: list[str] = Field(default_factory=list, max_length=20)
    target_groups: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("needs", "target_groups")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return distinct(values)


class DocumentCheck(BaseModel):
    document: DocumentType
    state: DocumentState


# --- input models ----------------------------------------------------------------------------


class CaseDetails(BaseModel):
    """What opening a case records and an update may change (all of it, each time)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    file_number: str | None = Field(default=None, max_length=60)
    responsible_user_id: str | None = Field(default=None, max_length=80)
    return_type: ReturnType
    sending_country: str | None = Field(default=None, min_length=2, max_length=2)
    programmes: list[str] = Field(default_factory=list, max_length=10)
    destination: str = Field(min_length=1, max_length=64, description="Area id")
    planned_arrival: date | None = None
    actual_arrival: date | None = None
    members: list[Member] = Field(default_factory=list, max_length=30)
    languages: list[str] = Field(default_factory=list, max_length=10)
    needs: list[str] = Field(default_factory=list, max_length=20)
    target_groups: list[str] = Field(default_factory=list, max_length=20)
    documents: list[DocumentCheck] = Field(default_factory=list, max_length=20)
    note: str | None = Field(default=None, max_length=4000)

    @field_validator("file_number", "note", "responsible_user_id")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("sending_country")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @field_validator("languages")
    @classmethod
    def _iso639(cls, values: list[str]) -> list[str]:
        return iso639_codes(values)

    @field_validator("needs", "target_groups", "programmes")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return distinct(values)

    @field_validator("documents")
    @classmethod
    def _one_state_per_document(cls, values: list[DocumentCheck]) -> list[DocumentCheck]:
        seen = [d.document for d in values]
        if len(set(seen)) != len(seen):
            raise ValueError("each document appears once")
        return values


class CaseConsentRecipients(BaseModel):
    """Organisations added to a case's consent, each explicitly and once: the form the
    household signed now names them too."""

    model_config = ConfigDict(str_strip_whitespace=True)

    consent_id: str = Field(min_length=1, max_length=80)
    recipients: list[str] = Field(min_length=1, max_length=30)

    @field_validator("recipients")
    @classmethod
    def _distinct(cls, values: list[str]) -> list[str]:
        return distinct(values)


class OpenCaseInput(CaseDetails):
    # The organisation that owns the case; may be left out by members of one organisation.
    organisation_id: str | None = Field(default=None, max_length=80)


class StatusInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    case_id: str = Field(min_length=1, max_length=80)
    phase: Phase | None = None
    whereabouts: Whereabouts | None = None
    # A move within the country names the new destination.
    destination: str | None = Field(default=None, max_length=64)
    # When the household arrived, for the change to "arrived" (today if left out).
    arrived_on: date | None = None
    note: str | None = Field(default=None, max_length=4000)
    expected_version: int | None = None


class Dimension(StrEnum):
    ECONOMIC = "economic"
    SOCIAL = "social"
    PSYCHOSOCIAL = "psychosocial"


class CaseFollowUpInput(BaseModel):
    """A visit to the household, with today's indicators, where it is, and a score per
    dimension of reintegration (0 to 1, as in IOM's reintegration sustainability survey)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    case_id: str = Field(min_length=1, max_length=80)
    months_after_arrival: int = Field(ge=0, le=60)
    visited_on: date
    whereabouts: Whereabouts
    employment: Employment | None = None
    schooling: Schooling | None = None
    health_care_access: Access | None = None
    housing: Housing | None = None
    feels_safe: Access | None = None
    intends_to_leave: Intention | None = None
    economic: float | None = Field(default=None, ge=0, le=1)
    social: float | None = Field(default=None, ge=0, le=1)
    psychosocial: float | None = Field(default=None, ge=0, le=1)
    note: str | None = Field(default=None, max_length=4000)


# --- read models ---------------------------------------------------------------------------


class CaseSide(StrEnum):
    """The owning organisation works on the case; a receiving one sees what consent allows."""

    OWNER = "owner"
    RECEIVER = "receiver"


class CaseEvent(BaseModel):
    at: datetime
    actor: str
    action: str
    phase: Phase
    whereabouts: Whereabouts
    destination_id: str | None
    note: str | None


class CaseFollowUp(BaseModel):
    id: str
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
    recorded_by_organisation_id: str


class ReturnCase(BaseModel):
    """A case as one viewer may see it; categories the viewer may not read are empty and
    listed in `withheld_categories`."""

    id: str
    reference: str
    file_number: str | None
    viewer_side: CaseSide
    # The viewer's organisation on that side: the owner, or the receiving organisation.
    viewer_organisation_id: str
    owner_organisation_id: str
    responsible_user_id: str | None
    return_type: ReturnType
    sending_country: str | None
    programme_ids: list[str]
    destination_id: str | None
    planned_arrival: date | None
    actual_arrival: date | None
    phase: Phase
    whereabouts: Whereabouts
    members: list[Member]
    languages: list[str]
    need_codes: list[str]
    target_group_codes: list[str]
    documents: list[DocumentCheck]
    note: str | None
    withheld_categories: list[DataCategory]
    referral_ids: list[str]
    consents: list[Consent]
    events: list[CaseEvent]
    follow_ups: list[CaseFollowUp]
    # Reads through break-glass credentials (graph/access.py).
    access_notices: list[AccessNotice] = Field(default_factory=list)
    follow_ups_due: list[int]
    created_at: datetime
    updated_at: datetime
    # When the personal data was erased after the retention period.
    purged_at: datetime | None = None
    version: int

    @property
    def arrival(self) -> date | None:
        return self.actual_arrival or self.planned_arrival

    def reintegration(self) -> dict[Dimension, float | None]:
        """The latest score per dimension over the visits (the newest visit that scored it)."""
        latest: dict[Dimension, float | None] = dict.fromkeys(Dimension)
        for visit in sorted(self.follow_ups, key=lambda f: f.visited_on):
            for dimension in Dimension:
                score = getattr(visit, dimension.value)
                if score is not None:
                    latest[dimension] = score
        return latest
