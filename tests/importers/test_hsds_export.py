"""HSDS 3.0 export: both forms validate against the HSDS schemas, and export, wipe, import
gives the same directory (the seed's demo directory: 45 organisations, 97 services)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from neo4j import AsyncManagedTransaction

from graph.driver import Graph
from graph.organisations import Organisation, organisations_after
from graph.services import Service, services_after
from importers.hsds.export import (
    export_tables,
    nested_organisations,
    write_json,
    write_tabular,
)
from importers.hsds.loader import import_hsds
from importers.hsds.schemas import TABLE_SCHEMAS, problems, typed
from importers.hsds.source import read_path
from seed.loader import seed
from tests.importers.snapshot import snapshot

# Written by the database, or kept by the import to say where a record came from; and the
# responsiveness measured from referrals, which an HSDS file does not carry.
UNCOMPARED = {"created_at", "updated_at", "version", "hsds_id", "hsds_extra", "responsiveness"}


async def _directory(graph: Graph) -> tuple[list[Organisation], list[Service]]:
    orgs = await graph.read(organisations_after, after="", limit=10_000)
    services = await graph.read(services_after, after="", limit=10_000)
    return orgs, services


def _comparable(records: list[Organisation] | list[Service]) -> list[dict[str, object]]:
    rows = []
    for record in records:
        data = record.model_dump(exclude=UNCOMPARED)
        for loc in data.get("locations", []):
            for key in ("hsds_id", "hsds_extra"):
                loc.pop(key)
        rows.append(data)
    return rows


async def _wipe_directory(graph: Graph) -> None:
    async with graph.driver.session(database=graph.database) as session:
        await (
            await session.run("MATCH (n:Organisation|Service|Location) DETACH DELETE n")
        ).consume()


@pytest.fixture
async def demo(graph: Graph) -> Graph:
    await seed(graph)
    return graph


async def test_the_tabular_export_validates_row_by_row(demo: Graph) -> None:
    tables = await export_tables(demo)
    assert len(tables["organizations"]) == 53
    assert len(tables["services"]) == 109
    for table, rows in tables.items():
        for row in rows:
            assert problems(TABLE_SCHEMAS[table], typed(table, row)) == [], (table, row)


async def test_the_json_export_validates_against_the_nested_schemas(demo: Graph) -> None:
    organisations = nested_organisations(await export_tables(demo))
    assert len(organisations) == 53
    services = [s for org in organisations for s in org["services"]]
    assert len(services) == 109
    for org in organisations:
        assert problems("organization", org) == []
    for service in services:
        assert problems("service", service) == []
    # Needs travel as attributes with their taxonomy term nested.
    trauma = next(s for s in services if s["name"].startswith("Trauma therapy for survivors"))
    codes = {a["taxonomy_term"]["code"] for a in trauma["attributes"]}
    assert "psychosocial.trauma-therapy" in codes


@pytest.mark.parametrize("form", ["csv", "zip", "json"])
async def test_export_wipe_import_gives_the_same_directory(
    demo: Graph, tmp_path: Path, form: str
) -> None:
    before_orgs, before_services = await _directory(demo)
    tables = await export_tables(demo)
    out = tmp_path / {"csv": "hsds", "zip": "hsds.zip", "json": "hsds.json"}[form]
    if form == "json":
        write_json(tables, out)
    else:
        write_tabular(tables, out)

    await _wipe_directory(demo)
    report = await import_hsds(demo, read_path(out))
    assert report.errors == [], [str(p) for p in report.errors[:5]]
    assert report.warnings == [], [str(p) for p in report.warnings[:5]]

    after_orgs, after_services = await _directory(demo)
    assert _comparable(after_orgs) == _comparable(before_orgs)
    assert _comparable(after_services) == _comparable(before_services)

    # And again: the export of the imported directory is the same export.
    assert await export_tables(demo) == tables


async def test_csv_cells_never_start_a_formula_and_import_as_they_were(
    demo: Graph, tmp_path: Path
) -> None:
    formula = '=HYPERLINK("http://example.org/x","Open")'

    async def rename(tx: AsyncManagedTransaction) -> str:
        query = "MATCH (s:Service) WITH s ORDER BY s.id LIMIT 1 SET s.name = $name RETURN s.id"
        record = await (await tx.run(query, name=formula)).single(strict=True)
        return str(record[0])

    service_id = await demo.write(rename)
    write_tabular(await export_tables(demo), tmp_path / "hsds")
    with (tmp_path / "hsds" / "services.csv").open(newline="") as f:
        names = [row["name"] for row in csv.DictReader(f)]
    assert "'" + formula in names
    assert not [n for n in names if n.startswith(("=", "+", "-", "@"))]
    with (tmp_path / "hsds" / "phones.csv").open(newline="") as f:
        numbers = [row["number"] for row in csv.DictReader(f)]
    assert [n for n in numbers if n.startswith("+")]  # phone numbers stay numbers

    await _wipe_directory(demo)
    report = await import_hsds(demo, read_path(tmp_path / "hsds"))
    assert report.errors == [], [str(p) for p in report.errors[:5]]
    _, services = await _directory(demo)
    assert next(s for s in services if s.id == service_id).name == formula


async def test_foreign_hsds_data_is_exported_again(reference: Graph, examples: Path) -> None:
    await import_hsds(reference, read_path(examples / "csv"))
    tables = await export_tables(reference)
    original = json.loads((examples / "service_full.json").read_text())
    service = tables["services"][0]
    assert service["id"] == original["id"]
    assert service["wait_time"] == "wait_time"  # a column Homeward has no field for
    schedules = tables["schedules"]
    assert [s["id"] for s in schedules] == [original["schedules"][0]["id"]]
    assert await snapshot(reference)  # nothing broke on the way


async def test_opening_hours_and_service_contacts_travel_as_schedules_and_phones(
    demo: Graph,
) -> None:
    """Rows of the plain forms the import takes back (the round trip above checks that it
    does); the rows validate with the rest of the export."""
    tables = await export_tables(demo)
    phones = {p["number"]: p for p in tables["phones"] if p.get("service_id")}
    assert "+383 29 000 214" in phones
    assert set(phones["+383 29 000 214"]) == {"id", "service_id", "number"}
    assert "vtc-prizren@example.org" in {s.get("email") for s in tables["services"]}
    weekly = [s for s in tables["schedules"] if s.get("freq") == "WEEKLY"]
    assert {(s["byday"], s["opens_at"], s["closes_at"]) for s in weekly} >= {
        ("MO", "08:00:00", "16:00:00"),
        ("MO", "09:00:00", "12:30:00"),
        ("MO", "13:30:00", "16:00:00"),
    }
    assert all(set(s) == {"id", "location_id", "freq", "byday", "opens_at", "closes_at"}
               for s in weekly)  # fmt: skip
