"""What a service is: one offer of an organisation, where and for whom it is delivered.

Field names follow HSDS 3.0's `service` where HSDS has the concept (name, description,
status, eligibility_description, minimum_age, maximum_age, fees_description); the rest is
what referral work needs (needs, coverage, languages, sending countries, response time,
capacity, verification).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from itertools import pairwise

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from core.languages import iso639_codes
from core.text import distinct
from graph.areas import GeoPoint

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class ServiceStatus(StrEnum):
    ACTIVE = "active"
    TEMPORARILY_CLOSED = "temporarily_closed"
    INACTIVE = "inactive"
    DEFUNCT = "defunct"


class DeliveryMode(StrEnum):
    IN_PERSON = "in_person"
    REMOTE = "remote"
    OUTREACH = "outreach"


class Capacity(StrEnum):
    AVAILABLE = "available"
    LIMITED = "limited"
    FULL = "full"
    UNKNOWN = "unknown"


class ReturnType(StrEnum):
    VOLUNTARY = "voluntary"
    MANDATORY = "mandatory"
    FORCED = "forced"


# The same rules as an organisation's own contacts (graph/organisations.py).
PHONE_PATTERN = r"^\+?[0-9 ()/.-]{5,}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
CLOCK = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


class Weekday(StrEnum):
    """HSDS 3.0's `byday` codes (iCalendar's), Monday first."""

    MO = "MO"
    TU = "TU"
    WE = "WE"
    TH = "TH"
    FR = "FR"
    SA = "SA"
    SU = "SU"


class OpeningHours(BaseModel):
    """One opening of a site on a weekday, local time; two on a day for a lunch break."""

    model_config = ConfigDict(str_strip_whitespace=True)

    weekday: Weekday
    opens: str = Field(description="HH:MM, 24-hour clock.")
    closes: str = Field(description="HH:MM, after `opens`.")

    @field_validator("opens", "closes")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not CLOCK.match(value):
            raise ValueError(f"{value!r} is not a time of day as HH:MM (00:00 to 23:59)")
        return value

    @field_validator("closes")
    @classmethod
    def _after_opening(cls, closes: str, info: ValidationInfo) -> str:
        opens = info.data.get("opens")
        if opens is not None and closes <= opens:
            raise ValueError(f"closes at {closes}, not after it opens at {opens}")
        return closes

    def stored(self) -> str:
        """As kept on the site node: a list property holds text, not maps."""
        return f"{self.weekday.value} {self.opens} {self.closes}"

    @classmethod
    def from_stored(cls, text: str) -> OpeningHours:
        weekday, opens, closes = text.split(" ")
        return cls(weekday=Weekday(weekday), opens=opens, closes=closes)


WEEK = list(Weekday)


def in_week_order(hours: list[OpeningHours]) -> list[OpeningHours]:
    return sorted(hours, key=lambda h: (WEEK.index(h.weekday), h.opens))


class LocationInput(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    id: str | None = Field(default=None, pattern=ID_PATTERN, max_length=80)
    name: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=300)
    area: str = Field(min_length=1, max_length=64, description="Area the site lies in.")
    point: GeoPoint | None = None
    opening_hours: list[OpeningHours] = Field(default_factory=list, max_length=21)

    @field_validator("opening_hours")
    @classmethod
    def _no_overlap(cls, hours: list[OpeningHours]) -> list[OpeningHours]:
        ordered = in_week_order(hours)
        for before, after in pairwise(ordered):
            if before.weekday == after.weekday and after.opens < before.closes:
                raise ValueError(
                    f"{before.weekday.value} {before.opens}-{before.closes} and "
                    f"{after.opens}-{after.closes} overlap"
                )
        return ordered


class HsdsIdentity(BaseModel):
    """What an HSDS import kept of a record: its HSDS id and the HSDS content Homeward has no
    field for (JSON), given back by an export."""

    hsds_id: str | None = None
    hsds_extra: str | None = None


class Location(HsdsIdentity):
    id: str
    name: str | None
    address: str | None
    area_id: str | None
    point: GeoPoint | None
    # 'given', or 'area centroid' for a site placed at its area's centroid.
    point_source: str | None = None
    opening_hours: list[OpeningHours] = Field(default_factory=list)


class ServiceInput(BaseModel):
    """Everything a registration or an import may say about a service; the single source of
    the rules that every entry path (GraphQL, seed, importers) applies."""

    model_config = ConfigDict(str_strip_whitespace=True)

    organisation_id: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    status: ServiceStatus = ServiceStatus.ACTIVE
    delivery: list[DeliveryMode] = Field(min_length=1)
    needs: list[str] = Field(min_length=1, max_length=30)
    target_groups: list[str] = Field(default_factory=list, max_length=30)
    covers: list[str] = Field(default_factory=list, max_length=200)
    locations: list[LocationInput] = Field(
        default_factory=list, max_length=50, validate_default=True
    )
    languages: list[str] = Field(default_factory=list, max_length=20)
    eligibility_description: str | None = Field(default=None, max_length=2000)
    minimum_age: int | None = Field(default=None, ge=0, le=120)
    maximum_age: int | None = Field(default=None, ge=0, le=120)
    sending_countries: list[str] = Field(default_factory=list)
    programmes: list[str] = Field(default_factory=list)
    return_types: list[ReturnType] = Field(default_factory=list)
    fees_description: str | None = Field(default=None, max_length=1000)
    referral_method: str | None = Field(default=None, max_length=1000)
    # The service's own line and address, where they are not the organisation's.
    phone: str | None = Field(default=None, max_length=40, pattern=PHONE_PATTERN)
    email: str | None = Field(default=None, max_length=254, pattern=EMAIL_PATTERN)
    expected_response_days: int | None = Field(default=None, ge=0, le=365)
    # Capacity has its own mutation; on an edit, None leaves the current capacity as it is.
    # Verification is never part of an edit (an edit is not a confirmation that all is true).
    capacity: Capacity | None = None
    capacity_note: str | None = Field(default=None, max_length=500)
    capacity_date: date | None = None

    @field_validator("needs", "target_groups", "covers", "programmes")
    @classmethod
    def _distinct_codes(cls, values: list[str]) -> list[str]:
        return distinct(values)

    @field_validator("languages")
    @classmethod
    def _iso639(cls, values: list[str]) -> list[str]:
        return iso639_codes(values)

    @field_validator("sending_countries")
    @classmethod
    def _countries(cls, values: list[str]) -> list[str]:
        codes = distinct([v.upper() for v in values])
        for code in codes:
            if len(code) != 2 or not code.isalpha():
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
        return codes

    # Field validators (not a model validator) so that the error names the field at fault.
    @field_validator("maximum_age")
    @classmethod
    def _age_range(cls, maximum: int | None, info: ValidationInfo) -> int | None:
        minimum = info.data.get("minimum_age")
        if maximum is not None and minimum is not None and minimum > maximum:
            raise ValueError(f"minimum_age {minimum} is above maximum_age {maximum}")
        return maximum

    @field_validator("locations")
    @classmethod
    def _in_person_has_a_place(
        cls, locations: list[LocationInput], info: ValidationInfo
    ) -> list[LocationInput]:
        delivery = info.data.get("delivery") or []
        if DeliveryMode.IN_PERSON in delivery and not (locations or info.data.get("covers")):
            raise ValueError("an in-person service needs a location or a covered area")
        return locations


class Service(HsdsIdentity):
    id: str
    organisation_id: str
    name: str
    description: str | None
    status: ServiceStatus
    delivery: list[DeliveryMode]
    need_codes: list[str]
    target_group_codes: list[str]
    covered_area_ids: list[str]
    locations: list[Location]
    programme_ids: list[str]
    languages: list[str]
    eligibility_description: str | None
    minimum_age: int | None
    maximum_age: int | None
    sending_countries: list[str]
    return_types: list[ReturnType]
    fees_description: str | None
    referral_method: str | None
    phone: str | None = None
    email: str | None = None
    expected_response_days: int | None
    capacity: Capacity
    capacity_note: str | None
    capacity_date: date | None
    last_verified_at: datetime | None
    last_verified_by: str | None
    reverification_reason: str | None
    responsiveness: Responsiveness | None = None
    # The eligibility rule's verdict (graph/eligibility.py), derived on every read: the
    # sending countries whose returnees may use the service ([] for everyone), and the
    # programmes that make the restriction when it comes from the funding.
    restricted_to: list[str] = Field(default_factory=list)
    restricting_programmes: list[str] = Field(default_factory=list)
    version: int
    created_at: datetime
    updated_at: datetime


class Responsiveness(BaseModel):
    """How the service answers referrals, kept current by graph/referrals/lifecycle.py."""

    referrals_received: int
    ack_median_hours: float | None
    acceptance_rate: float | None
    feedback_rate: float | None
