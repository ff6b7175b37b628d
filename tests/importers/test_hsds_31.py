"""HSDS 3.1 content: capacities mapped onto Homeward's capacity, further urls kept, and
anything else Homeward does not read named in a warning, never dropped silently."""

from __future__ import annotations

import json

from graph.driver import Graph
from graph.services import Capacity, services_by_ids
from importers.hsds.loader import import_hsds
from importers.hsds.source import read_bytes

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
