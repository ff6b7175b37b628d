"""What the table importers build: drafts of organisations, services, sites and programmes,
and the facts of the graph they are checked against.

Each table importer (`importers/hsds/tables/`) reads its rows into drafts; the loader then
turns the drafts into the application's own input models (`OrganisationInput`,
`ServiceInput`), whose rules are the only ones, and writes them.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.geometry import Boundary
from importers.report import ImportReport
from importers.rows import Row

if TYPE_CHECKING:
    from importers.hsds.taxonomy_map import TaxonomyMap

UUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class Fields:
    """Reads the fields of one row, recording every problem; `ok` is False when the row
    must be rejected."""

    def __init__(self, row: Row, report: ImportReport) -> None:
        self.row = row
        self.report = report
        self.ok = True
        for name, message in row.problems:
            self.problem(name, message)

    def problem(self, name: str, message: str) -> None:
        self.report.add(self.row.where, name, message)
        self.ok = False

    def warn(self, name: str, message: str) -> None:
        self.report.add(self.row.where, name, message, "warning")

    # `text` and `uuid` run for every field of every row (millions in a large import), so
    # they read the row's dict directly.
    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self.row.data.get(name, "").strip()
        if not value:
            if required:
                self.problem(name, "required, but empty or missing")
            return None
        return value

    def uuid(self, name: str, *, required: bool = False) -> str | None:
        value = self.row.data.get(name, "").strip()
        if not value:
            if required:
                self.problem(name, "required, but empty or missing")
            return None
        if not UUID_RE.match(value):
            self.problem(name, f"{value!r} is not a UUID")
            return None
        return value.lower()

    def number(self, name: str) -> float | None:
        value = self.text(name)
        if value is None:
            return None
        if not NUMBER_RE.match(value):
            self.problem(name, f"{value!r} is not a number")
            return None
        return float(value)

    def integer(self, name: str) -> int | None:
        number = self.number(name)
        if number is None:
            return None
        if not number.is_integer():
            self.problem(name, f"{number:g} is not a whole number")
            return None
        return int(number)


@dataclass(frozen=True, slots=True)
class TermInfo:
    id: str
    code: str | None
    name: str
    taxonomy: str  # name of its taxonomy (from taxonomies, or the term's own `taxonomy`)
    where: str
    row: Row | None = None


@dataclass
class Extras:
    """HSDS content Homeward has no field for, kept on the node as `hsds_extra` (JSON) so
    that an export gives it back: unmodelled columns and rows of unmodelled tables."""

    fields: dict[str, str] = field(default_factory=dict)
    tables: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    def keep_fields(self, row: Row, used: set[str]) -> None:
        for key, value in row.data.items():
            if key not in used and value.strip():
                self.fields[key] = value

    def keep_row(self, table: str, row: Row) -> None:
        self.tables.setdefault(table, []).append({k: v for k, v in row.data.items() if v})

    def dump(self) -> str | None:
        if not self.fields and not self.tables:
            return None
        return json.dumps({"fields": self.fields, "tables": self.tables}, sort_keys=True)


def load_extras(value: str | None) -> Extras:
    if not value:
        return Extras()
    data: dict[str, Any] = json.loads(value)
    return Extras(fields=dict(data.get("fields", {})), tables=dict(data.get("tables", {})))


@dataclass
class Draft:
    """What every imported record has: its row, its HSDS id and the profile attributes."""

    row: Row
    hsds_id: str
    profile: dict[str, list[str]] = field(default_factory=dict)
    extras: Extras = field(default_factory=Extras)
    # The Homeward id of the record of the directory this one's HSDS id names (by any of
    # the ids it is known by), when there is one.
    known_id: str | None = None

    def profile_value(self, code: str) -> str | None:
        values = self.profile.get(code)
        return values[0] if values else None

    @property
    def id(self) -> str:
        """The Homeward id: the one carried in the profile, else that of the record the HSDS
        id names, else the HSDS id."""
        return self.profile_value("homeward-id") or self.known_id or self.hsds_id


@dataclass
class OrganisationDraft(Draft):
    fields: dict[str, Any] = field(default_factory=dict)
    phone: str | None = None
    homeward_identifier: str | None = None

    @property
    def id(self) -> str:
        return (
            self.homeward_identifier
            or self.profile_value("homeward-id")
            or self.known_id
            or self.hsds_id
        )


@dataclass
class LocationDraft(Draft):
    organization_id: str | None = None
    name: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    external_id: str | None = None
    # From addresses: ISO country code, town, region, and one line for `Location.address`.
    country: str | None = None
    city: str | None = None
    region: str | None = None
    address: str | None = None
    # HSDS `location_type` "virtual": an online place (a url), not a site; the services
    # there are delivered remotely.
    virtual: bool = False
    # From `schedules` rows of the plain weekly form (tables/schedules.py): LocationInput
    # `opening_hours` entries.
    opening_hours: list[dict[str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return (
            self.profile_value("homeward-id") or self.external_id or self.known_id or self.hsds_id
        )


@dataclass
class ServiceDraft(Draft):
    organization_id: str | None = None
    program_id: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    needs: list[str] = field(default_factory=list)
    target_groups: list[str] = field(default_factory=list)
    covers: list[str] = field(default_factory=list)
    location_ids: list[str] = field(default_factory=list)
    # The `service_at_location` row of each site, kept for a virtual location.
    site_rows: dict[str, Row] = field(default_factory=dict)
    languages: list[str] = field(default_factory=list)
    unknown_terms: list[str] = field(default_factory=list)


@dataclass
class ProgrammeDraft(Draft):
    name: str = ""
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AreaFacts:
    id: str
    level: str
    parent: str | None
    keys: tuple[str, ...]
    centroid: tuple[float, float] | None = None
    boundary: Boundary | None = None


@dataclass
class Known:
    """What the graph holds already, read once before the rows are checked."""

    needs: set[str] = field(default_factory=set)
    target_groups: set[str] = field(default_factory=set)
    programmes: set[str] = field(default_factory=set)
    areas: dict[str, AreaFacts] = field(default_factory=dict)
    # Existing organisations referenced by the import: HSDS id or Homeward id -> (id, country)
    organisations: dict[str, tuple[str, str]] = field(default_factory=dict)
    # Existing sites the import names: HSDS id or Homeward id -> area id
    locations: dict[str, str] = field(default_factory=dict)

    def country_of(self, area_id: str) -> str | None:
        seen: set[str] = set()
        current = self.areas.get(area_id)
        while current is not None and current.id not in seen:
            if current.level == "country":
                return current.id
            seen.add(current.id)
            current = self.areas.get(current.parent) if current.parent else None
        return None


@dataclass
class Assembly:
    report: ImportReport
    known: Known
    mapping: TaxonomyMap
    taxonomies: dict[str, str] = field(default_factory=dict)  # id -> name
    terms: dict[str, TermInfo] = field(default_factory=dict)
    organisations: dict[str, OrganisationDraft] = field(default_factory=dict)
    programmes: dict[str, ProgrammeDraft] = field(default_factory=dict)
    locations: dict[str, LocationDraft] = field(default_factory=dict)
    services: dict[str, ServiceDraft] = field(default_factory=dict)
    service_at_locations: set[str] = field(default_factory=set)
    # Unknown taxonomy terms, with how many attributes use each: reported once per term.
    unknown_terms: Counter[str] = field(default_factory=Counter)
    taxonomy_rows: dict[str, Row] = field(default_factory=dict)  # id -> its row
    # Fields read and neither held nor kept: (table, field) -> (first row, how many rows).
    dropped: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    _dropped_rows: set[tuple[str, str]] = field(default_factory=set)

    def drop(self, table: str, row: Row, held: set[str]) -> None:
        """Note the row's fields outside `held`: Homeward has nowhere to put them, and the
        report says so (once per table and field) instead of losing them silently."""
        for key, value in row.data.items():
            if key not in held and value.strip():
                where, count = self.dropped.get((table, key), (row.where, 0))
                self.dropped[(table, key)] = (where, count + 1)

    def report_dropped(self) -> None:
        for (table, name), (where, count) in self.dropped.items():
            self.report.add(
                where,
                name,
                f"{table}.{name} ({count} row(s)): Homeward has no field for it; not imported",
                "warning",
            )

    def entity(self, kind: str, id: str) -> Draft | None:
        """The draft an attribute or a kept row belongs to, by its HSDS entity kind."""
        found: Draft | None
        match kind:
            case "organization":
                found = self.organisations.get(id)
            case "service":
                found = self.services.get(id)
            case "location":
                found = self.locations.get(id)
            case "program":
                found = self.programmes.get(id)
            case _:
                found = None
        return found

    def any_entity(self, id: str) -> tuple[str, Draft] | None:
        for kind in ("service", "organization", "location", "program"):
            draft = self.entity(kind, id)
            if draft is not None:
                return kind, draft
        return None


def keep_under_owner(
    assembly: Assembly, table: str, rows: list[Row], owners: tuple[str, ...]
) -> int:
    """Rows of a table Homeward does not model, kept with the first record they name
    (`service_id`, `location_id`, `organization_id`, ...) so that an export gives them back.
    Returns how many were kept."""
    kept = 0
    for row in rows:
        assembly.report.read[table] += 1
        fields = Fields(row, assembly.report)
        fields.uuid("id", required=True)
        if not fields.ok:
            assembly.report.rejected[table] += 1
            continue
        for owner in owners:
            id = row.get(f"{owner}_id").strip().lower()
            draft = assembly.entity(owner, id) if id else None
            if draft is not None:
                draft.extras.keep_row(table, row)
                kept += 1
                break
        else:
            fields.warn("id", "belongs to no imported organisation, service or location; skipped")
            assembly.report.skipped[table] += 1
    return kept
