"""Loads the seed files into the graph. Idempotent: every row is MERGEd on its key.

All files are parsed and validated before anything is written, so a broken file leaves the
graph as it was and the error names the file, the entry and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from graph.areas import AreaRecord, area_rows, upsert_areas
from graph.driver import Graph
from graph.organisations import OrganisationInput, upsert_organisations
from homeward.errors import FieldProblem, ValidationFailed

DATA_DIR = Path(__file__).resolve().parent / "data"
M = TypeVar("M", bound=BaseModel)
AREA_FILES = ("countries.json", "regions.json", "xk_municipalities.json")


class SeedOrganisation(OrganisationInput):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    # Which fields hold invented, illustrative values rather than public facts.
    illustrative: list[str] = Field(default_factory=list)
    source: str | None = None


@dataclass
class SeedReport:
    counts: dict[str, int] = field(default_factory=dict)


def _read_list(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValidationFailed.single(
            f"{path.name}:{exc.lineno}", f"not valid JSON: {exc.msg}"
        ) from exc
    if not isinstance(data, list):
        raise ValidationFailed.single(path.name, "expected a JSON list of entries")
    return data


def _parse(model: type[M], path: Path) -> list[M]:
    parsed: list[M] = []
    problems: list[FieldProblem] = []
    for index, entry in enumerate(_read_list(path)):
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
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationFailed.single("areas.id", f"ids used twice: {', '.join(duplicates)}")
    known = set(ids)
    missing = [
        FieldProblem(f"areas.{r.id}.parent", f"unknown parent area {r.parent!r}")
        for r in records
        if r.parent and r.parent not in known
    ]
    if missing:
        raise ValidationFailed(missing)
    return parents_first(records)


def load_organisations(data_dir: Path = DATA_DIR) -> list[SeedOrganisation]:
    path = data_dir / "organisations.json"
    return _parse(SeedOrganisation, path) if path.exists() else []


async def seed(graph: Graph, *, data_dir: Path = DATA_DIR) -> SeedReport:
    areas = load_area_records(data_dir)
    organisations = load_organisations(data_dir)
    unknown_countries = [
        FieldProblem(f"organisations.json:{o.id}.country", f"unknown country {o.country!r}")
        for o in organisations
        if o.country not in {a.id for a in areas}
    ]
    if unknown_countries:
        raise ValidationFailed(unknown_countries)

    report = SeedReport()
    rows = area_rows(areas)
    # Parents come first in `rows`, and batches run in order, so every PART_OF finds its parent.
    written = 0
    for start in range(0, len(rows), 500):
        written += await graph.write(upsert_areas, rows=rows[start : start + 500])
    report.counts["areas"] = written
    report.counts["organisations"] = await graph.write(
        upsert_organisations,
        rows=[
            (
                o.id,
                OrganisationInput.model_validate(
                    o.model_dump(exclude={"id", "illustrative", "source"})
                ),
                {"illustrative_fields": o.illustrative, "source": o.source},
            )
            for o in organisations
        ],
    )
    return report
