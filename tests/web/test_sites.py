"""The sites on the partner's service form: added, edited and removed with their opening
hours, the service's own phone and e-mail beside them; every problem beside its field in the
page's language, and the form back as it was filled in."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from graph.driver import Graph
from seed.identities import DEMO_IDENTITIES, create_demo_identities
from seed.loader import seed
from tests import directory
from tests.web.test_pages import _signed_in

STORED = """
query S($id: ID!) { service(id: $id) { version phone email
  locations { id name address area { id } point { lat lon }
              openingHours { weekday opens closes } } } }
"""

# A new site's rows: one per weekday, Monday first, then the free row (`-hours-7-`).
MONDAY, FRIDAY, FREE = 0, 4, 7


def _fields(csrf: str, **site: str) -> dict[str, Any]:
    return {
        "csrf": csrf,
        "name": "Beratung",
        "needs": ["psychosocial.trauma-therapy"],
        "languages": ["sq"],
        "delivery": ["IN_PERSON"],
        "capacity": "AVAILABLE",
        "phone": "+383 29 111 222",
        "email": "beratung@example.org",
        "site_count": "1",
        "site-0-hours_count": "8",
        **{f"site-0-hours-{m}-day": d for m, d in enumerate(["MO", "TU", "WE", "TH", "FR"])},
        "site-0-hours-5-day": "SA",
        "site-0-hours-6-day": "SU",
        f"site-0-hours-{FREE}-free": "1",
        **{f"site-0-{k}": v for k, v in site.items()},
    }


async def _stored(client: httpx.AsyncClient, token: str, service_id: str) -> dict[str, Any]:
    body = (
        await client.post(
            "/graphql",
            json={"query": STORED, "variables": {"id": service_id}},
            headers={"Authorization": f"Bearer {token}"},
        )
    ).json()
    service: dict[str, Any] = body["data"]["service"]
    return service


async def _own_service_ids(client: httpx.AsyncClient) -> list[str]:
    page = (await client.get("/app/organisation")).text
    return re.findall(r'href="/app/services/([^/"]+)/edit"', page)


async def test_sites_with_opening_hours_and_contacts_go_round_the_form(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    await directory.build(graph)
    csrf = await _signed_in(client, people["partner"])
    blank = await client.get("/app/services/new?lang=de")
    assert 'name="site-0-area"' in blank.text
    assert '<option value="XK-prizren">Prizren</option>' in blank.text
    assert ">Montag</span>" in blank.text  # weekdays in the page's language

    fields = _fields(
        csrf,
        name="Beratungsstelle Prizren",
        address="Rruga e Shadërvanit 4",
        area="XK-prizren",
        lat="42.2139",
        lon="20.7397",
        **{
            f"hours-{MONDAY}-opens": "08:30",
            f"hours-{MONDAY}-closes": "12:00",
            f"hours-{FRIDAY}-opens": "09:00",
            f"hours-{FRIDAY}-closes": "13:00",
            # The afternoon of Monday, as another opening time on the day.
            f"hours-{FREE}-day": "MO",
            f"hours-{FREE}-opens": "13:00",
            f"hours-{FREE}-closes": "16:30",
        },
    )
    saved = await client.post("/app/services?org=org-a", data=fields)
    assert saved.status_code == 303, saved.text
    [service_id] = await _own_service_ids(client)
    stored = await _stored(client, people["partner"], service_id)
    assert (stored["phone"], stored["email"]) == ("+383 29 111 222", "beratung@example.org")
    [site] = stored["locations"]
    assert site["name"] == "Beratungsstelle Prizren"
    assert site["address"] == "Rruga e Shadërvanit 4"
    assert site["area"] == {"id": "XK-prizren"}
    assert site["point"] == {"lat": 42.2139, "lon": 20.7397}
    assert site["openingHours"] == [
        {"weekday": "MO", "opens": "08:30", "closes": "12:00"},
        {"weekday": "MO", "opens": "13:00", "closes": "16:30"},
        {"weekday": "FR", "opens": "09:00", "closes": "13:00"},
    ]

    # The edit form shows the site as stored: Monday has two rows now.
    edit = (await client.get(f"/app/services/{service_id}/edit")).text
    assert f'name="site-0-id" value="{site["id"]}"' in edit
    assert 'name="site-0-hours-0-opens" value="08:30"' in edit
    assert 'name="site-0-hours-1-opens" value="13:00"' in edit
    assert 'name="site-0-hours-5-opens" value="09:00"' in edit  # Friday, after Monday's two
    assert 'name="site-0-lat" value="42.2139"' in edit
    assert 'name="site-1-name" value=""' in edit  # a blank row to add a site

    # Another site is added, the first one removed; the phone is cleared.
    second = {
        "csrf": csrf,
        "version": str(stored["version"]),
        **{k: v for k, v in fields.items() if not k.startswith("site") and k != "csrf"},
        "phone": "",
        "site_count": "2",
        "site-0-id": site["id"],
        "site-0-area": "XK-prizren",
        "site-0-remove": "1",
        "site-1-name": "Zweigstelle",
        "site-1-area": "XK-prizren",
        "site-1-hours_count": "1",
        "site-1-hours-0-day": "WE",
        "site-1-hours-0-opens": "10:00",
        "site-1-hours-0-closes": "11:00",
    }
    edited = await client.post(f"/app/services/{service_id}", data=second)
    assert edited.status_code == 303, edited.text
    stored = await _stored(client, people["partner"], service_id)
    assert stored["phone"] is None
    assert [(s["name"], s["openingHours"]) for s in stored["locations"]] == [
        ("Zweigstelle", [{"weekday": "WE", "opens": "10:00", "closes": "11:00"}])
    ]


async def test_site_problems_show_beside_the_site_and_nothing_typed_is_lost(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    await directory.build(graph)
    csrf = await _signed_in(client, people["partner"])
    # Row 0 left blank (not sent), so the API's first site is the form's second row.
    fields = _fields(csrf) | {
        "site_count": "2",
        "site-1-name": "Außenstelle",
        "site-1-address": "Rruga e Re 7",
        "site-1-area": "",
        "site-1-lat": "42,21",
        "site-1-lon": "20,74",
        "site-1-hours_count": "2",
        "site-1-hours-0-day": "MO",
        "site-1-hours-0-opens": "09:00",
        "site-1-hours-1-day": "TU",
        "site-1-hours-1-opens": "17:00",
        "site-1-hours-1-closes": "09:00",
        "email": "kein-at-zeichen",
    }
    bad = await client.post("/app/services?org=org-a&lang=de", data=fields)
    assert bad.status_code == 422
    page = bad.text
    assert 'id="site-1-area-error">Wählen Sie die Gemeinde, in der der Standort liegt.' in page
    assert re.search(
        r'id="site-1-hours-0-closes"[^>]*aria-invalid="true"'
        r' aria-describedby="site-1-hours-0-closes-error"',
        page,
    )
    assert 'id="site-1-hours-1-closes-error">Geben Sie eine Schließzeit nach der' in page
    assert 'id="email-error">Geben Sie eine E-Mail-Adresse' in page
    assert "input." not in page
    assert "openingHours" not in page
    # Everything typed comes back, in the rows it was typed in.
    for kept in (
        'name="site-1-name" value="Außenstelle"',
        'name="site-1-address" value="Rruga e Re 7"',
        'name="site-1-lat" value="42,21"',
        'name="site-1-hours-1-opens" value="17:00"',
        'name="site-1-hours-1-closes" value="09:00"',
        'value="kein-at-zeichen"',
    ):
        assert kept in page, kept
    assert await _own_service_ids(client) == []

    # Coordinates that are no numbers are caught before anything is sent, beside the site.
    typo = _fields(csrf, name="Büro", area="XK-prizren", lat="42.2x", lon="20.7")
    bad = await client.post("/app/services?org=org-a&lang=sq", data=typo)
    assert bad.status_code == 422
    assert 'id="site-0-point-error">Jepni gjerësinë dhe gjatësinë' in bad.text
    assert 'name="site-0-lat" value="42.2x"' in bad.text


async def test_adding_a_site_without_scripts_keeps_the_form_and_saves_nothing(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    await directory.build(graph)
    csrf = await _signed_in(client, people["partner"])
    fields = _fields(csrf, name="Erste Stelle", area="XK-prizren") | {"add_site": "1"}
    more = await client.post("/app/services?org=org-a", data=fields)
    assert more.status_code == 200
    assert 'name="site-0-name" value="Erste Stelle"' in more.text
    assert 'name="site-1-name" value=""' in more.text
    assert 'name="site_count" value="2"' in more.text
    assert await _own_service_ids(client) == []


@pytest.fixture
async def seeded(app: FastAPI, graph: Graph) -> dict[str, str]:
    await seed(graph)
    await graph.write(create_demo_identities)
    return {i.role.value: i.token for i in DEMO_IDENTITIES}


async def test_a_site_point_outside_its_municipality_shows_beside_the_site(
    client: httpx.AsyncClient, seeded: dict[str, str]
) -> None:
    csrf = await _signed_in(client, seeded["partner"])
    # The centre of Prizren, said to be in Gjakovë.
    fields = _fields(csrf, name="Zyra", area="XK-gjakove", lat="42.2139", lon="20.7397")
    bad = await client.post("/app/services?org=xk-krct&lang=en", data=fields)
    assert bad.status_code == 422
    assert 'id="site-0-point-error">These coordinates are not in the chosen municipality' in (
        bad.text
    )
    assert '<option value="XK-gjakove" selected>' in bad.text
