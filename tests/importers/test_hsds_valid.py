"""Valid HSDS that Homeward can hold is accepted: a site given by its point alone, a virtual
location, a language by its name or by nothing but an id, and a service whose site cannot be
placed keeps its other content."""

from __future__ import annotations

import json
from typing import Any

from graph.driver import Graph
from graph.services import DeliveryMode, services_by_ids
from importers.hsds.export import export_tables
from importers.hsds.loader import import_hsds
from importers.hsds.source import read_bytes

SERVICE_ID = "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e4f60"
ORG_ID = "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e4f61"


def _service(**changes: Any) -> bytes:
    service: dict[str, Any] = {
        "id": SERVICE_ID,
        "name": "Housing advice",
        "status": "active",
        "organization": {"id": ORG_ID, "name": "Housing Desk Deçan"},
        "service_at_locations": [],
    }
    return json.dumps(service | changes).encode()


def _site(n: int, location: dict[str, Any]) -> dict[str, Any]:
    location_id = f"2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e4f{n:02d}"
    return {
        "id": f"2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e5f{n:02d}",
        "service_id": SERVICE_ID,
        "location": {"id": location_id} | location,
    }


async def _stored(graph: Graph) -> Any:
    return (await graph.read(services_by_ids, ids=[SERVICE_ID]))[SERVICE_ID]


async def test_a_site_with_a_point_and_no_address_is_placed_in_the_nearest_town(
    reference: Graph,
) -> None:
    site = _site(
        1, {"name": "Office", "location_type": "physical", "latitude": 42.541, "longitude": 20.29}
    )
    report = await import_hsds(
        reference, read_bytes("s.json", _service(service_at_locations=[site])), default_country="XK"
    )
    assert report.errors == [], [str(p) for p in report.errors]
    service = await _stored(reference)
    assert [(loc.area_id, loc.point_source) for loc in service.locations] == [("XK-decan", "given")]


async def test_a_point_is_placed_in_the_municipality_whose_boundary_holds_it(
    reference: Graph,
) -> None:
    # A few metres from the village of Slup: its centroid is the nearest of all, but sites
    # are placed in the municipality whose boundary holds them, as the API places them.
    site = _site(
        2,
        {"name": "Office", "location_type": "physical", "latitude": 42.5089, "longitude": 20.2820},
    )
    report = await import_hsds(
        reference, read_bytes("s.json", _service(service_at_locations=[site])), default_country="XK"
    )
    assert report.errors == [], [str(p) for p in report.errors]
    service = await _stored(reference)
    assert [loc.area_id for loc in service.locations] == ["XK-decan"]


async def test_a_virtual_location_is_remote_delivery_and_is_exported_again(
    reference: Graph,
) -> None:
    online = _site(
        2, {"name": "Chat", "location_type": "virtual", "url": "https://example.org/chat"}
    )
    report = await import_hsds(
        reference,
        read_bytes("s.json", _service(service_at_locations=[online])),
        default_country="XK",
    )
    assert report.errors == [], [str(p) for p in report.errors]
    service = await _stored(reference)
    assert service.locations == []
    assert service.delivery == [DeliveryMode.REMOTE]
    tables = await export_tables(reference)
    assert [loc.get("url") for loc in tables["locations"]] == ["https://example.org/chat"]
    assert [s["location_id"] for s in tables["service_at_location"]] == [online["location"]["id"]]


async def test_languages_by_name_and_a_language_naming_nothing_is_a_warning(
    reference: Graph,
) -> None:
    languages = [
        {"id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e6f01", "name": "Albanian"},
        {"id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e6f02"},
    ]
    report = await import_hsds(
        reference, read_bytes("s.json", _service(languages=languages)), default_country="XK"
    )
    assert report.errors == [], [str(p) for p in report.errors]
    assert any("names no language" in str(w) for w in report.warnings)
    assert report.skipped["languages"] == 1
    assert (await _stored(reference)).languages == ["sq"]


async def test_a_site_that_cannot_be_placed_costs_only_itself(reference: Graph) -> None:
    nowhere = _site(
        3,
        {
            "name": "Lost",
            "addresses": [{"id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e7f01", "country": "Atlantis"}],
        },
    )
    placed = _site(4, {"name": "Office", "latitude": 42.541, "longitude": 20.29})
    report = await import_hsds(
        reference,
        read_bytes("s.json", _service(service_at_locations=[nowhere, placed])),
        default_country="XK",
    )
    assert any("the service is imported without it" in str(w) for w in report.warnings)
    service = await _stored(reference)
    assert [loc.name for loc in service.locations] == ["Office"]
    assert service.delivery == [DeliveryMode.IN_PERSON]
