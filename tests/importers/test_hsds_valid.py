"""Valid HSDS that Homeward can hold is accepted: a site given by its point alone, a virtual
location, a language by its name or by nothing but an id, and a service whose site cannot be
placed keeps its other content."""

from __future__ import annotations

import json
from typing import Any

from graph.driver import Graph
from graph.organisations import organisations_by_ids
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


# Organisations without sites: the country comes from the data wherever the data has it, the
# default country only when it has none, and that is said on the row.

LONE_ORG = "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e8f01"


def _organisation(**changes: Any) -> bytes:
    organisation: dict[str, Any] = {
        "id": LONE_ORG,
        "name": "Rückkehrhilfe Linz",
        "description": "Counselling before departure.",
        "email": "info@rueckkehr.example",
    }
    return json.dumps(organisation | changes).encode()


def _country_attribute(value: str) -> dict[str, Any]:
    return {
        "id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e8f02",
        "taxonomy_term": {
            "id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e8f03",
            "code": "country",
            "name": "country",
            "taxonomy": "Homeward returnee profile",
        },
        "value": value,
    }


def _postal_office(location_type: str, country: str) -> dict[str, Any]:
    return {
        "id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e8f04",
        "name": "Postfach",
        "location_type": location_type,
        "url": "https://rueckkehr.example/kontakt",
        "addresses": [
            {
                "id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e8f05",
                "address_type": "postal",
                "address_1": "Postfach 12",
                "city": "Linz",
                "postal_code": "4020",
                "country": country,
            }
        ],
    }


async def _country(graph: Graph) -> str:
    return (await graph.read(organisations_by_ids, ids=[LONE_ORG]))[LONE_ORG].country


async def test_an_organisation_without_sites_takes_the_country_of_its_profile_attribute(
    reference: Graph,
) -> None:
    # Given by name, not code, and a default that says otherwise: the data wins.
    data = _organisation(attributes=[_country_attribute("Austria")])
    report = await import_hsds(reference, read_bytes("o.json", data), default_country="XK")
    assert report.errors == [], [str(p) for p in report.errors]
    assert await _country(reference) == "AT"
    assert not any(p.field == "country" for p in report.warnings)


async def test_an_organisation_without_sites_takes_the_country_of_its_locations_address(
    reference: Graph,
) -> None:
    # Its one location is virtual (not a site), but its address says where it is.
    data = _organisation(locations=[_postal_office("virtual", "AUT")])
    report = await import_hsds(reference, read_bytes("o.json", data), default_country="XK")
    assert report.errors == [], [str(p) for p in report.errors]
    assert await _country(reference) == "AT"
    assert not any(p.field == "country" for p in report.warnings)


async def test_the_default_country_is_the_fallback_and_is_said_on_the_row(
    reference: Graph,
) -> None:
    report = await import_hsds(
        reference, read_bytes("o.json", _organisation()), default_country="XK"
    )
    assert report.errors == [], [str(p) for p in report.errors]
    assert await _country(reference) == "XK"
    assert [str(w) for w in report.warnings if w.field == "country"] == [
        "o.json:/: country: the data gives no country (no `country` attribute, no address "
        "with a country on its locations or its services' locations); the default country "
        "XK is taken"
    ]


async def test_an_organisation_whose_country_nothing_gives_is_a_clear_row_error(
    reference: Graph,
) -> None:
    report = await import_hsds(reference, read_bytes("o.json", _organisation()))
    assert [str(p) for p in report.errors] == [
        "o.json:/: country: cannot tell the organisation's country: no `country` attribute, "
        "no address with a country on its locations or its services' locations, and no "
        "default country (give one)"
    ]
    assert report.rejected["organizations"] == 1


# Fields Homeward has nowhere to put are named in the report, once per table and field.

PROGRAMME_ID = "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e9f01"
TAXONOMY_ID = "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e9f02"
TERM_ID = "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e9f03"


async def test_fields_homeward_cannot_hold_are_warnings_and_kept_terms_keep_their_details(
    reference: Graph,
) -> None:
    site = _site(5, {"name": "Front desk", "latitude": 42.541, "longitude": 20.29})
    site["description"] = "Walk in on Tuesdays; no appointment needed."
    data = _service(
        service_at_locations=[site],
        languages=[
            {
                "id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e9f04",
                "code": "sq",
                "note": "Spoken at the front desk only",
            }
        ],
        program={
            "id": PROGRAMME_ID,
            "name": "Fresh start grants",
            "alternate_name": "FSG",
            "description": "Small grants for a first rent after return.",
        },
        attributes=[
            {
                "id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e9f05",
                "taxonomy_term": {
                    "id": TERM_ID,
                    "code": "rent-deposit",
                    "name": "Rent deposit help",
                    "description": "Money towards the deposit of a flat.",
                    "parent_id": "2a6f0e4c-8d1b-4f3a-9e57-1c0b3d2e9f06",
                    "language": "en",
                    "taxonomy_detail": {
                        "id": TAXONOMY_ID,
                        "name": "Deçan housing desk terms",
                        "description": "The desk's own list of help.",
                        "version": "2",
                    },
                },
            }
        ],
    )
    report = await import_hsds(reference, read_bytes("s.json", data), default_country="XK")
    assert report.errors == [], [str(p) for p in report.errors]
    dropped = sorted(
        w.message.split(" ")[0] for w in report.warnings if "has no field for it" in w.message
    )
    assert dropped == [
        "languages.note",
        "programs.alternate_name",
        "programs.description",
        "service_at_location.description",
        "taxonomies.description",
        "taxonomies.version",
        "taxonomy_terms.parent_id",
    ]
    # What the kept term can carry goes out again.
    tables = await export_tables(reference)
    term = next(t for t in tables["taxonomy_terms"] if t["id"] == TERM_ID)
    assert term["description"] == "Money towards the deposit of a flat."
    assert term["language"] == "en"
