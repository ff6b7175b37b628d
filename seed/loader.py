"""Loads the seed files into the graph. Idempotent: every row is MERGEd on its key.

All files are parsed and validated before anything is written, so a broken file leaves the
graph as it was and the error names the file, the entry and the field.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from neo4j import AsyncManagedTransaction
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from core.errors import FieldProblem, ValidationFailed
from graph.areas import AreaLevel, AreaRecord, area_rows, upsert_areas
from graph.driver import Graph
from graph.needs import NeedRecord, Term, upsert_needs
from graph.organisations import OrganisationInput, upsert_organisations
from graph.programmes import ProgrammeRecord, upsert_programmes
from graph.referrals import ReferralHistoryRecord, write_referral_history
from graph.services import ServiceInput, reference_problems, upsert_row, upsert_services
from graph.target_groups import upsert_target_groups
from seed.gazetteer import BOUNDARIES_FILE, SETTLEMENTS_FILE, read_boundaries, read_settlements

DATA_DIR = Path(__file__).resolve().parent / "data"
M = TypeVar("M", bound=BaseModel)
AREA_FILES = ("countries.json", "regions.json", "xk_municipalities.json")


class SeedOrganisation(OrganisationInput):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    # Which fields hold invented, illustrative values rather than public facts.
    illustrative: list[str] = Field(default_factory=list)
    source: str | None = None
    # Why a deliberately imperfect entry (a duplicate, an overlap) is in the demo data.
    seed_note: str | None = None


# The seed files use the short names of the field's spreadsheets; the model uses HSDS's.
_SERVICE_ALIASES = {
    "organisation": "organisation_id",
    "eligibility": "eligibility_description",
    "min_age": "minimum_age",
    "max_age": "maximum_age",
    "fees": "fees_description",
}


class SeedService(ServiceInput):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$", max_length=120)
    last_verified_at: datetime | None = None
    last_verified_by: str | None = None

    @field_validator("last_verified_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # The files give dates; a moment without a zone is read as UTC.
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    illustrative: list[str] = Field(default_factory=list)
    source: str | None = None
    seed_note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {_SERVICE_ALIASES.get(k, k): v for k, v in data.items()}
        return data


@dataclass
class SeedReport:
    counts: dict[str, int] = field(default_factory=dict)


def _read_list(path: Path, key: str | None = None) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationFailed.single(
            f"{path.name}:{exc.lineno}", f"not valid JSON: {exc.msg}"
        ) from exc
    if key is not None and isinstance(data, dict):
        data = data.get(key)
    if not isinstance(data, list):
        raise ValidationFailed.single(path.name, "expected a JSON list of entries")
    return data


def _parse(model: type[M], path: Path, key: str | None = None) -> list[M]:
    parsed: list[M] = []
    problems: list[FieldProblem] = []
    for index, entry in enumerate(_read_list(path, key)):
        try:
            parsed.append(model.model_validate(entry))
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"])
                problems.append(FieldProblem(f"{path.name}[{index}].{where}", error["msg"]))
    if problems:
        raise ValidationFailed(problems)
    return parsed


def parents_first(records: list[AreaRecord]) -> list[AreaRecord]:
    """Order areas so that each parent is written before its children."""
    by_id = {r.id: r for r in records}
    ordered: list[AreaRecord] = []
    placed: set[str] = set()

    def place(record: AreaRecord, trail: tuple[str, ...]) -> None:
        if record.id in placed:
            return
        if record.id in trail:
            raise ValidationFailed.single(f"areas.{record.id}.parent", "parent cycle")
        parent = by_id.get(record.parent) if record.parent else None
        if parent is not None:
            place(parent, (*trail, record.id))
        placed.add(record.id)
        ordered.append(record)

    for record in records:
        place(record, ())
    return ordered


def load_area_records(data_dir: Path = DATA_DIR) -> list[AreaRecord]:
    records: list[AreaRecord] = []
    for name in AREA_FILES:
        path = data_dir / "areas" / name
        if path.exists():
            records.extend(_parse(AreaRecord, path))
    ids = [r.id for r in records]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        raise ValidationFailed.single("areas.id", f"ids used twice: {', '.join(duplicates)}")
    records = _with_settlements(data_dir / "areas", records)
    ids = [r.id for r in records]
    known = set(ids)
    missing = [
        FieldProblem(f"areas.{r.id}.parent", f"unknown parent area {r.parent!r}")
        for r in records
        if r.parent and r.parent not in known
    ]
    if missing:
        raise ValidationFailed(missing)
    return parents_first(records)


def _with_settlements(folder: Path, records: list[AreaRecord]) -> list[AreaRecord]:
    """Municipalities with their boundaries, and the settlements under them."""
    boundaries, settlements = folder / BOUNDARIES_FILE, folder / SETTLEMENTS_FILE
    if not boundaries.exists():
        return records
    municipalities = [r for r in records if r.level is AreaLevel.MUNICIPALITY]
    by_code, geometries = read_boundaries(boundaries, municipalities)
    # The boundary file's municipality codes are Kosovo's statistical codes ("01" Deçan);
    # with the country's code before them they are unique beyond one country ("XK01").
    parents = {r.id: r.parent or "" for r in municipalities}
    codes = {m.area_id: f"{parents[m.area_id]}{code}" for code, m in by_code.items()}
    records = [
        r.model_copy(update={"boundary": geometries[r.id], "code": codes[r.id]})
        if r.id in geometries
        else r
        for r in records
    ]
    if settlements.exists():
        records += read_settlements(settlements, by_code)
    return records


def _optional(model: type[M], path: Path) -> list[M]:
    return _parse(model, path) if path.exists() else []


def _referral_history(path: Path) -> list[ReferralHistoryRecord]:
    """`referrals.json` is an object: a note on what is invented, and the list."""
    return _parse(ReferralHistoryRecord, path, key="referrals") if path.exists() else []


def broader_first(records: list[NeedRecord]) -> list[NeedRecord]:
    known = {r.code for r in records}
    problems = [
        FieldProblem(f"needs.json:{r.code}.broader", f"unknown need {r.broader!r}")
        for r in records
        if r.broader and r.broader not in known
    ]
    if problems:
        raise ValidationFailed(problems)
    # Codes are dotted paths, so fewer dots means nearer the top of the tree.
    return sorted(records, key=lambda r: (r.code.count("."), r.code))


@dataclass
class SeedData:
    areas: list[AreaRecord]
    needs: list[NeedRecord]
    target_groups: list[Term]
    programmes: list[ProgrammeRecord]
    organisations: list[SeedOrganisation]
    services: list[SeedService]
    referrals: list[ReferralHistoryRecord]


def read_seed(data_dir: Path = DATA_DIR) -> SeedData:
    """Parse and check every seed file; raises ValidationFailed naming file, entry and field."""
    return SeedData(
        areas=load_area_records(data_dir),
        needs=broader_first(_optional(NeedRecord, data_dir / "needs.json")),
        target_groups=_optional(Term, data_dir / "target_groups.json"),
        programmes=_optional(ProgrammeRecord, data_dir / "programmes.json"),
        organisations=_optional(SeedOrganisation, data_dir / "organisations.json"),
        services=_optional(SeedService, data_dir / "services.json"),
        referrals=_referral_history(data_dir / "referrals.json"),
    )


def _provenance(entry: SeedOrganisation | SeedService) -> dict[str, Any]:
    provenance: dict[str, Any] = {
        "illustrative_fields": entry.illustrative,
        "source": entry.source,
        "seed_note": entry.seed_note,
    }
    if isinstance(entry, SeedService):
        # Verification dates are part of the demo data; edits never carry them.
        provenance |= {
            "last_verified_at": entry.last_verified_at,
            "last_verified_by": entry.last_verified_by,
        }
    return provenance


async def write_seed(tx: AsyncManagedTransaction, *, data: SeedData) -> SeedReport:
    """One transaction: a service that names something missing rolls back the whole seed."""
    report = SeedReport()
    report.counts["areas"] = await upsert_areas(tx, rows=area_rows(data.areas))
    report.counts["needs"] = await upsert_needs(tx, records=data.needs)
    report.counts["target groups"] = await upsert_target_groups(tx, records=data.target_groups)
    report.counts["programmes"] = await upsert_programmes(tx, records=data.programmes)

    known_areas = {a.id for a in data.areas}
    problems = [
        FieldProblem(f"organisations.json:{o.id}.{field}", f"unknown area {value!r}")
        for o in data.organisations
        for field, value in (("country", o.country), ("based_in", o.based_in))
        if value is not None and value not in known_areas
    ]
    if problems:
        raise ValidationFailed(problems)
    report.counts["organisations"] = await upsert_organisations(
        tx,
        rows=[
            (
                o.id,
                OrganisationInput.model_validate(o.model_dump(include=_ORG_FIELDS)),
                _provenance(o),
            )
            for o in data.organisations
        ],
    )

    rows = []
    for service in data.services:
        found = await reference_problems(tx, data=service, service_id=service.id)
        problems += [
            FieldProblem(f"services.json:{service.id}.{p.field}", p.message) for p in found
        ]
        rows.append(upsert_row(service.id, service, _provenance(service)))
    if problems:
        raise ValidationFailed(problems)
    report.counts["services"] = await upsert_services(tx, rows=rows)

    organisations = {o.id for o in data.organisations}
    services = {s.id for s in data.services}
    needs = {n.code for n in data.needs}
    problems = [
        FieldProblem(f"referrals.json:{r.id}.{field}", f"unknown {what} {value!r}")
        for r in data.referrals
        for field, what, value, known in (
            ("from", "organisation", r.from_organisation, organisations),
            ("service", "service", r.service, services),
            ("destination", "area", r.destination, known_areas),
            *(("needs", "need", n, needs) for n in r.needs),
        )
        if value not in known
    ]
    if problems:
        raise ValidationFailed(problems)
    report.counts["referrals"] = await write_referral_history(tx, records=data.referrals)
    return report


_ORG_FIELDS = set(OrganisationInput.model_fields)


async def seed(graph: Graph, *, data_dir: Path = DATA_DIR) -> SeedReport:
    data = read_seed(data_dir)
    return await graph.write(write_seed, data=data)
