"""HSDS 3.1 content: capacities mapped onto Homeward's capacity, further urls kept, and
anything else Homeward does not read named in a warning, never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path

from graph.driver import Graph
from graph.services import Capacity, services_by_ids
from importers.hsds.loader import import_hsds
from importers.hsds.source import read_bytes, read_path

SERVICE = "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e01"


async def test_31_capacity_is_mapped_and_the_rest_is_kept_or_named(reference: Graph) -> None:
    service = {
        "id": SERVICE,
        "name": "Shelter for returnees",
        "status": "active",
        "organization": {"id": "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e02", "name": "Shelter NGO"},
        "capacities": [
            {
                "id": "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e03",
                "available": 2,
                "maximum": 12,
                "unit": {"id": "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e04", "name": "beds"},
                "updated": "2026-11-30T10:00:00Z",
            }
        ],
        "additional_urls": [
            {"id": "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e05", "url": "https://example.org/beds"}
        ],
        "made_up_list": [{"x": 1}],
    }
    report = await import_hsds(
        reference, read_bytes("s.json", json.dumps(service).encode()), default_country="XK"
    )
    assert report.errors == [], [str(p) for p in report.errors]
    warnings = "\n".join(str(w) for w in report.warnings)
    assert "additional_urls / additional_websites" in warnings
    assert "service.made_up_list (1 object(s)) is not HSDS 3.0" in warnings
    stored = (await reference.read(services_by_ids, ids=[SERVICE]))[SERVICE]
    assert stored.capacity == Capacity.LIMITED
    assert stored.capacity_note == "2 of 12 beds"
    assert str(stored.capacity_date) == "2026-11-30"
    assert "https://example.org/beds" in (stored.hsds_extra or "")


async def test_the_31_tables_under_the_names_the_specification_gives_them(
    reference: Graph, tmp_path: Path
) -> None:
    # The specification's 3.1 example names the units file `units.csv`; a url that names no
    # record is skipped, and not said to be kept.
    files = {
        "organizations.csv": "id,name,description\n"
        "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e12,Night shelter Peja,Beds for the first nights\n",
        "services.csv": "id,organization_id,name,status\n"
        f"{SERVICE},7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e12,Emergency beds,active\n",
        "service_capacity.csv": "id,service_id,unit_id,available,maximum,updated\r\n"
        f"7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e13,{SERVICE},"
        "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e14,3,20,2026-10-01\r\n",
        "units.csv": "id,name,scheme,identifier\r\n"
        "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e14,beds,local,bed\r\n",
        "url.csv": "id,label,url\r\n7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e15,Map,https://example.org/map\r\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    report = await import_hsds(reference, read_path(tmp_path), default_country="XK")
    assert report.errors == [], [str(p) for p in report.errors]
    warnings = "\n".join(str(w) for w in report.warnings)
    assert "units.csv" not in warnings
    assert "kept with their records" not in warnings
    assert "url.csv:2: id: belongs to no imported organisation, service or location" in warnings
    stored = (await reference.read(services_by_ids, ids=[SERVICE]))[SERVICE]
    assert stored.capacity_note == "3 of 20 beds"


async def test_tables_named_in_the_singular_as_the_31_examples_name_them(
    reference: Graph, tmp_path: Path
) -> None:
    # The specification's 3.1 CSV examples name the tables `organization.csv`, `service.csv`,
    # `location.csv`, ...; read as the plural names are, nothing "ignored".
    org = "7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e21"
    files = {
        "organization.csv": "id,name,description\n"
        f"{org},Legal aid Gjilan,Property and inheritance\n",
        "service.csv": "id,organization_id,name,status\n"
        f"{SERVICE},{org},Inheritance advice,active\n",
        "language.csv": f"id,service_id,code\n7c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e22,{SERVICE},sq\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    report = await import_hsds(reference, read_path(tmp_path), default_country="XK")
    assert report.errors == [], [str(p) for p in report.errors]
    assert "ignored" not in "\n".join(str(w) for w in report.warnings)
    stored = (await reference.read(services_by_ids, ids=[SERVICE]))[SERVICE]
    assert stored.name == "Inheritance advice"
    assert stored.languages == ["sq"]
