"""Spreadsheet import: one row per service, read by `importers.sheet.source`, checked here
against the directory's reference data, written by the HSDS import's writer.

- Needs, target groups, areas and languages are named by code or id, or by name in any
  language and script; unknown values are row errors with close matches.
- The organisation is matched by id, name, alternate name or acronym (folded) among the
  directory's canonical organisations, else created (country from the Country column or
  from its first area). Organisations are created, never changed: contact columns of a
  row whose organisation exists are compared and differences reported, not written.
- A service's id is the Service id column, else a service of that organisation with the
  same name (folded), else derived from organisation and name (`uuid5`), so importing the
  same sheet again updates the same services and changes nothing else. What the sheet has
  no column for (sites, programmes, ...) stays as it is on an existing service.
- Every row becomes `ServiceInput` / `OrganisationInput`, whose rules are the rules; each
  problem is reported as `file:line: column: message`, with the column as the file names it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from core.errors import NotFound
from core.text import close_matches, did_you_mean, fold
from graph.areas import PLACE_ORDER, AreaLevel
from graph.driver import Graph
from graph.hsds import AreaFact, directory_facts
from graph.needs import Term, all_needs
from graph.organisations import (
    OrganisationInput,
    OrganisationKind,
    OrganisationMatch,
    organisations_by_names,
)
from graph.services import (
    ID_PATTERN,
    LocationInput,
    Service,
    ServiceInput,
    service_ids_by_names,
    services_by_ids,
    upsert_row,
)
from graph.target_groups import all_target_groups
from graph.users import SYSTEM
from importers.plan import Plan, Provenance, write_plan
from importers.report import ImportRejected, ImportReport
from importers.rows import Row
from importers.sheet.columns import (
    CAPACITY_WORDS,
    DELIVERY_WORDS,
    EXAMPLE_MARK,
    choice_index,
    language_index,
)
from importers.sheet.source import Sheet

TABLE = "services"
# Identifies ids derived by this import (uuid5), apart from any other import's.
ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:homeward:sheet-import")
# ServiceInput / OrganisationInput field -> the column a problem is reported on.
SERVICE_COLUMNS = {
    "name": "service",
    "description": "description",
    "needs": "needs",
    "target_groups": "target_groups",
    "covers": "areas",
    "locations": "areas",
    "languages": "languages",
    "delivery": "delivery",
    "eligibility_description": "eligibility",
    "minimum_age": "minimum_age",
    "maximum_age": "maximum_age",
    "capacity": "capacity",
}
ORGANISATION_COLUMNS = {
    "name": "organisation",
    "phone": "phone",
    "email": "email",
    "website": "website",
    "country": "country",
}
ID_RE = re.compile(ID_PATTERN)


def stable_id(kind: str, *parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, ":".join((kind, *parts))))


def split_values(text: str) -> list[str]:
    """A cell's values: separated by ';', '|' or line breaks (commas are read later, only
    where the whole text names nothing: some names hold a comma)."""
    for sep in ("|", "\n"):
        text = text.replace(sep, ";")
    return [v.strip() for v in text.split(";") if v.strip()]


@dataclass
class Vocabulary:
    """Folded names and codes -> the value stored, with what to suggest for a typo."""

    what: str  # "need", "target group", ...
    index: dict[str, str]
    suggest: dict[str, str] = field(default_factory=dict)

    def lookup(self, text: str) -> str | None:
        return self.index.get(fold(text))

    def resolve(self, text: str) -> tuple[list[str], list[str]]:
        """The values a cell names, and a message for each part that names nothing."""
        found: list[str] = []
        problems: list[str] = []
        for value in split_values(text):
            match = self.lookup(value)
            parts = [value] if match is not None or "," not in value else value.split(",")
            for part in (p.strip() for p in parts):
                code = self.lookup(part) if part else None
                if code is not None:
                    found.append(code)
                elif part:
                    hint = did_you_mean(close_matches(part, self.suggest or self.index))
                    problems.append(f"unknown {self.what} {part!r}{hint}")
        return list(dict.fromkeys(found)), problems


def _term_vocabulary(what: str, terms: list[Term]) -> Vocabulary:
    index: dict[str, str] = {}
    for term in terms:
        index.setdefault(fold(term.code), term.code)
        for label in term.labels.values():
            index.setdefault(fold(label), term.code)
    return Vocabulary(what, index)


def _area_vocabulary(areas: list[AreaFact], *, countries_only: bool = False) -> Vocabulary:
    """A name of several areas is read as a place name is everywhere (`PLACE_ORDER`: the
    municipality before its town, a region or country before a village of the same name);
    ids match in any case."""
    by_key: dict[str, list[AreaFact]] = {}
    for area in areas:
        if countries_only and area.level != "country":
            continue
        for key in {fold(area.id), *area.keys}:
            by_key.setdefault(key, []).append(area)
    index: dict[str, str] = {}
    for key, found in by_key.items():
        found.sort(key=lambda a: (PLACE_ORDER.get(AreaLevel(a.level), 9), a.id))
        most_local = [a for a in found if a.level == found[0].level]
        if len(most_local) == 1 or key == fold(found[0].id):
            index[key] = found[0].id
    suggest = {k: next((a.name or a.id for a in areas if a.id == v), v) for k, v in index.items()}
    what = "country" if countries_only else "area"
    return Vocabulary(what, index, suggest)


@dataclass
class References:
    needs: Vocabulary
    target_groups: Vocabulary
    areas: Vocabulary
    countries: Vocabulary
    languages: Vocabulary
    delivery: Vocabulary
    capacity: Vocabulary
    country_of: Callable[[str], str | None]


async def read_references(graph: Graph) -> References:
    facts = await graph.read(directory_facts)
    needs = await graph.read(all_needs)
    groups = await graph.read(all_target_groups)
    parents = {a.id: (a.level, a.parent) for a in facts.areas}

    def country_of(area_id: str) -> str | None:
        seen: set[str] = set()
        current: str | None = area_id
        while current is not None and current in parents and current not in seen:
            level, parent = parents[current]
            if level == "country":
                return current
            seen.add(current)
            current = parent
        return None

    languages = language_index()
    return References(
        needs=_term_vocabulary("need", list(needs)),
        target_groups=_term_vocabulary("target group", list(groups)),
        areas=_area_vocabulary(facts.areas),
        countries=_area_vocabulary(facts.areas, countries_only=True),
        languages=Vocabulary(
            "language", languages, {k: f"{k} ({v})" for k, v in languages.items() if len(k) > 3}
        ),
        delivery=Vocabulary("delivery", choice_index(DELIVERY_WORDS)),
        capacity=Vocabulary("capacity", choice_index(CAPACITY_WORDS)),
        country_of=country_of,
    )


class _Cells:
    """One row's cells by column key, reporting problems under the file's own headers."""

    def __init__(self, row: Row, sheet: Sheet, report: ImportReport) -> None:
        self.row = row
        self.sheet = sheet
        self.report = report
        self.ok = True

    def has(self, key: str) -> bool:
        return key in self.sheet.columns.positions

    def text(self, key: str) -> str | None:
        return self.row.get(key).strip() or None

    def problem(self, key: str, message: str) -> None:
        self.report.add(self.row.where, self.sheet.columns.header(key), message)
        self.ok = False

    def warn(self, key: str, message: str) -> None:
        self.report.add(self.row.where, self.sheet.columns.header(key), message, "warning")

    def values(self, key: str, vocabulary: Vocabulary) -> list[str]:
        found, problems = vocabulary.resolve(self.row.get(key))
        for message in problems:
            self.problem(key, message)
        return found

    def choice(self, key: str, vocabulary: Vocabulary) -> str | None:
        text = self.text(key)
        if text is None:
            return None
        value = vocabulary.lookup(text)
        if value is None:
            values = dict.fromkeys(vocabulary.index.values())
            choices = ", ".join(v.replace("_", " ") for v in values)
            self.problem(key, f"{text!r} is not one of {choices}")
        return value

    def integer(self, key: str) -> int | None:
        text = self.text(key)
        if text is None:
            return None
        try:
            number = float(text.replace(",", "."))
        except ValueError:
            number = None
        if number is None or not number.is_integer():
            self.problem(key, f"{text!r} is not a whole number")
            return None
        return int(number)

    def reject(self, exc: ValidationError, columns: dict[str, str]) -> None:
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]]
            key = columns.get(loc[0], "service") if loc else "service"
            given = error.get("input")
            shown = f"{given!r}: " if isinstance(given, str | int) and given != "" else ""
            self.problem(key, f"{shown}{error['msg']}")


@dataclass
class _NewOrganisation:
    id: str
    data: OrganisationInput
    line: int | str
    services: int = 0


@dataclass
class _Parsed:
    """A row read and resolved, before its organisation's id is known."""

    cells: _Cells
    organisation: str | None  # as written
    name: str | None
    fields: dict[str, Any]


def _website(text: str | None) -> str | None:
    if text and "://" not in text:
        return f"https://{text}"
    return text


def _contact(cells: _Cells) -> dict[str, str | None]:
    return {
        "phone": cells.text("phone"),
        "email": cells.text("email"),
        "website": _website(cells.text("website")),
    }


class _Planner:
    def __init__(
        self,
        sheet: Sheet,
        refs: References,
        report: ImportReport,
        matches: list[OrganisationMatch],
        given: OrganisationMatch | None,
    ) -> None:
        self.sheet = sheet
        self.refs = refs
        self.report = report
        self.given = given
        self.by_id = {m.id: m for m in matches}
        self.by_key: dict[str, list[OrganisationMatch]] = {}
        for match in matches:
            for key in match.keys:
                self.by_key.setdefault(key, []).append(match)
        self.new: dict[str, _NewOrganisation] = {}  # folded name -> organisation to create
        self.plan = Plan()

    def parse(self, row: Row) -> _Parsed | None:
        cells = _Cells(row, self.sheet, self.report)
        self.report.read[TABLE] += 1
        id = cells.text("id")
        if id is not None and fold(id).startswith(fold(EXAMPLE_MARK)):
            cells.warn("id", "the template's example row; skipped")
            return None
        fields: dict[str, Any] = {
            "description": cells.text("description"),
            "needs": cells.values("needs", self.refs.needs),
            "target_groups": cells.values("target_groups", self.refs.target_groups),
            "covers": cells.values("areas", self.refs.areas),
            "languages": cells.values("languages", self.refs.languages),
            "delivery": cells.values("delivery", self.refs.delivery),
            "eligibility_description": cells.text("eligibility"),
            "minimum_age": cells.integer("minimum_age"),
            "maximum_age": cells.integer("maximum_age"),
            "capacity": cells.choice("capacity", self.refs.capacity),
            "id": id,
        }
        if cells.has("needs") and not cells.text("needs"):
            cells.problem("needs", "required: at least one need code or name")
        name = cells.text("service")
        if name is None:
            cells.problem("service", "required, but empty")
        organisation = cells.text("organisation")
        if organisation is None and self.given is None:
            cells.problem("organisation", "required, but empty")
        return _Parsed(cells, organisation, name, fields)

    def organisation(self, parsed: _Parsed) -> tuple[str, OrganisationMatch | None] | None:
        """The organisation's id and, when it exists, what the directory holds of it."""
        cells, written = parsed.cells, parsed.organisation
        if self.given is not None:
            if written and not (written == self.given.id or fold(written) in self.given.keys):
                cells.problem(
                    "organisation",
                    f"this import is for {self.given.name!r} ({self.given.id}); the row names "
                    f"{written!r}",
                )
                return None
            return self.given.id, self.given
        if written is None:
            return None  # reported by `parse`
        if written in self.by_id:
            return written, self.by_id[written]
        found = self.by_key.get(fold(written), [])
        if len(found) > 1:
            ids = ", ".join(m.id for m in found)
            cells.problem(
                "organisation",
                f"{len(found)} organisations are called {written!r} ({ids}); write the id",
            )
            return None
        if found:
            return found[0].id, found[0]
        key = fold(written)
        if key in self.new:
            return self.new[key].id, None
        return self._create(parsed, written, key)

    def _create(self, parsed: _Parsed, written: str, key: str) -> tuple[str, None] | None:
        cells = parsed.cells
        country_text = cells.text("country")
        country: str | None
        if country_text:
            countries = cells.values("country", self.refs.countries)
            country = countries[0] if countries else None
            if country is None:
                return None
        else:
            covered = parsed.fields["covers"]
            country = self.refs.country_of(covered[0]) if covered else None
        if country is None:
            cells.problem(
                "organisation",
                f"{written!r} is not in the directory, and its country is unknown: fill in "
                f"{self.sheet.columns.header('country')!r} or the municipalities",
            )
            return None
        try:
            data = OrganisationInput.model_validate(
                {"name": written, "kind": OrganisationKind.OTHER, "country": country}
                | {k: v for k, v in _contact(cells).items() if v}
            )
        except ValidationError as exc:
            cells.reject(exc, ORGANISATION_COLUMNS)
            return None
        new = _NewOrganisation(stable_id("organisation", key), data, cells.row.line)
        self.new[key] = new
        return new.id, None

    def compare_contact(
        self, cells: _Cells, organisation_id: str, match: OrganisationMatch | None
    ) -> None:
        """Organisations are never changed by a sheet: say where the sheet differs."""
        if match is not None:
            held = {"phone": match.phone, "email": match.email, "website": match.website}
            origin = "the directory"
        else:
            new = next((n for n in self.new.values() if n.id == organisation_id), None)
            if new is None or new.line == cells.row.line:
                return
            held = {
                "phone": new.data.phone,
                "email": new.data.email,
                "website": str(new.data.website) if new.data.website else None,
            }
            origin = f"line {new.line}"
        for key, value in _contact(cells).items():
            known = held[key]
            if value and known and _norm(value, key) != _norm(known, key):
                cells.warn(key, f"{value!r} differs from {known!r} in {origin}; not changed")


def _norm(value: str, key: str) -> str:
    if key == "phone":
        return "".join(ch for ch in value if ch.isdigit())
    return value.lower().rstrip("/")


def _carried(existing: Service | None, cells: _Cells) -> dict[str, Any]:
    """What an existing service keeps: every field the sheet has no column for."""
    if existing is None:
        return {}
    kept: dict[str, Any] = {
        "status": existing.status,
        "locations": [
            LocationInput(
                id=loc.id,
                name=loc.name,
                address=loc.address,
                area=loc.area_id,
                point=loc.point,
                opening_hours=loc.opening_hours,
            )
            for loc in existing.locations
            if loc.area_id
        ],
        "programmes": existing.programme_ids,
        "sending_countries": existing.sending_countries,
        "return_types": existing.return_types,
        "fees_description": existing.fees_description,
        "referral_method": existing.referral_method,
        "expected_response_days": existing.expected_response_days,
        "phone": existing.phone,
        "email": existing.email,
    }
    absent = {
        "description": existing.description,
        "target_groups": existing.target_group_codes,
        "covers": existing.covered_area_ids,
        "languages": existing.languages,
        "delivery": existing.delivery,
        "eligibility_description": existing.eligibility_description,
        "minimum_age": existing.minimum_age,
        "maximum_age": existing.maximum_age,
    }
    for name, value in absent.items():
        if not cells.has(SERVICE_COLUMNS[name]):
            kept[name] = value
    return kept


async def prepare_sheet(
    graph: Graph, sheet: Sheet, *, organisation_id: str | None = None, today: date | None = None
) -> tuple[Plan, ImportReport]:
    """Read and check every row; nothing is written."""
    report = ImportReport()
    for where, message in sheet.notices:
        report.add(where, "(file)", message, "warning")
    for header in sheet.columns.unknown:
        report.add(f"{sheet.name}:1", header, "not a column the import reads; ignored", "warning")
    refs = await read_references(graph)
    given: OrganisationMatch | None = None
    if organisation_id is not None:
        found = await graph.read(organisations_by_names, keys=[], ids=[organisation_id])
        if not found:
            raise NotFound("organisation", organisation_id)
        given = found[0]
    written = [r.get("organisation").strip() for r in sheet.rows if r.get("organisation").strip()]
    matches = (
        await graph.read(
            organisations_by_names,
            keys=sorted({fold(w) for w in written}),
            ids=sorted(set(written)),
        )
        if written
        else []
    )
    planner = _Planner(sheet, refs, report, matches, given)

    rows = [p for p in (planner.parse(row) for row in sheet.rows) if p is not None]
    resolved = [(p, planner.organisation(p)) for p in rows]
    # Services of the directory with the same organisation and name keep their ids.
    wanted = sorted(
        {(o[0], fold(p.name)) for p, o in resolved if o and p.name and not p.fields["id"]}
    )
    by_name = await graph.read(service_ids_by_names, wanted=wanted) if wanted else {}
    ids: list[str | None] = []
    for p, organisation in resolved:
        ids.append(_service_id(p, organisation[0], by_name) if organisation else None)
    existing = await graph.read(services_by_ids, ids=sorted({i for i in ids if i}))

    seen: dict[str, int | str] = {}
    for (p, organisation), id in zip(resolved, ids, strict=True):
        if organisation is not None:
            planner.compare_contact(p.cells, *organisation)
        if organisation is not None and id is not None:
            _service(planner, p, id, organisation[0], existing.get(id), seen, today or date.today())
        if not p.cells.ok:
            report.rejected[TABLE] += 1
    planner.plan.organisations = [
        (n.id, n.data, {}) for n in planner.new.values() if n.services > 0
    ]
    # In the order of the file, row by row and column by column, whichever step found it.
    columns = {header: position for position, header in sheet.columns.positions.values()}
    report.problems.sort(key=lambda p: (_line_of(p.where), columns.get(p.field, -1)))
    return planner.plan, report


def _line_of(where: str) -> int:
    line = where.rpartition(":")[2]
    return int(line) if line.isdigit() else 0


def _service_id(
    p: _Parsed, organisation: str, by_name: dict[tuple[str, str], list[str]]
) -> str | None:
    """The Service id column, else the one service of the organisation with that name,
    else an id derived from both."""
    if p.fields["id"] is not None:
        return str(p.fields["id"])
    if p.name is None:
        return None
    same = by_name.get((organisation, fold(p.name)), [])
    if len(same) > 1:
        p.cells.problem(
            "service",
            f"the organisation has {len(same)} services called {p.name!r} "
            f"({', '.join(same)}); give the one meant in the "
            f"{p.cells.sheet.columns.header('id')!r} column",
        )
        return None
    return same[0] if same else stable_id("service", organisation, fold(p.name))


def _service(
    planner: _Planner,
    p: _Parsed,
    id: str,
    organisation: str,
    existing: Service | None,
    seen: dict[str, int | str],
    today: date,
) -> None:
    cells = p.cells
    if not ID_RE.match(id) or len(id) > 80:
        cells.problem("id", f"{id!r} is not an id: letters, digits, '.', '-', '_', at most 80")
        return
    if existing is not None and existing.organisation_id != organisation:
        cells.problem(
            "id" if p.fields["id"] else "service",
            f"service {id} belongs to organisation {existing.organisation_id}, not {organisation}",
        )
    if id in seen:
        cells.problem("service", f"the same service as line {seen[id]}; one row per service")
        return
    seen[id] = cells.row.line
    data: dict[str, Any] = _carried(existing, cells) | {
        k: v for k, v in p.fields.items() if k in SERVICE_COLUMNS and cells.has(SERVICE_COLUMNS[k])
    }
    data |= {"organisation_id": organisation, "name": p.name}
    if not data.get("delivery"):
        placed = data.get("covers") or data.get("locations")
        data["delivery"] = ["in_person"] if placed else ["remote"]
    # A capacity given anew is dated today; the same capacity again keeps its date, so that
    # importing a sheet twice changes nothing.
    capacity = data.pop("capacity", None)
    if capacity is not None and (existing is None or existing.capacity.value != capacity):
        data |= {"capacity": capacity, "capacity_note": None, "capacity_date": today}
    if not cells.ok:
        return
    try:
        service = ServiceInput.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        cells.reject(exc, SERVICE_COLUMNS)
        return
    planner.plan.services.append(upsert_row(id, service, {}))
    for new in planner.new.values():
        if new.id == organisation:
            new.services += 1


async def import_sheet(
    graph: Graph,
    sheet: Sheet,
    *,
    strict: bool = False,
    organisation_id: str | None = None,
    provenance: Provenance | None = None,
) -> ImportReport:
    plan, report = await prepare_sheet(graph, sheet, organisation_id=organisation_id)
    if strict and report.errors:
        raise ImportRejected(report)
    await write_plan(graph, plan, report, provenance=provenance or Provenance(SYSTEM, sheet.name))
    return report
