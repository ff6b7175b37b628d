"""The service page a result opens: sites with addresses, opening hours and a map, the
nearest to the searched place first; how to reach the service, eligibility, fees and languages
by name, in the page's language."""

from __future__ import annotations

import json
import re
from html import unescape

import httpx
from fastapi import FastAPI

from graph.driver import Graph
from graph.organisations import OrganisationInput, upsert_organisations
from tests import directory
from tests.web.test_pages import _signed_in


async def test_a_result_opens_the_service_page_with_sites_contacts_eligibility_and_fees(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    await directory.build(graph)
    krct = OrganisationInput.model_validate(
        {
            "name": "KRCT",
            "kind": "health_provider",
            "country": "XK",
            "phone": "+383 38 243 708",
            "email": "info@example.org",
            "website": "https://krct.example.org",
        }
    )
    await graph.write(upsert_organisations, rows=[("org-krct", krct, {})])
    offered = directory.service(
        eligibility_description="Returnees with trauma symptoms",
        fees_description="Free of charge",
        locations=[
            {"id": "krct-prizren", "name": "Prizren office", "address": "Rruga e Shadërvanit 4",
             "area": "XK-prizren"},
        ],
    )  # fmt: skip
    await directory.add_services(graph, [("svc-krct", offered)])
    await _signed_in(client, people["counsellor"])

    results = await client.get("/app/search?needs=psychosocial&place=Prizren")
    # The link names the searched place, for the service page to put the nearest site first.
    assert '<a href="/app/services/svc-krct?near=XK-prizren">Trauma therapy</a>' in results.text

    page = await client.get("/app/services/svc-krct?lang=de")
    assert page.status_code == 200
    text = page.text
    for shown in (
        "Prizren office",
        "Rruga e Shadërvanit 4, Prizren",
        '<a href="tel:+38338243708">+383 38 243 708</a>',
        "mailto:info@example.org",
        "https://krct.example.org",
        "Returnees with trauma symptoms",
        "<dt>Kosten</dt><dd>Free of charge</dd>",
        "Albanisch, Serbisch",
        "Traumatherapie",
    ):
        assert shown in text, shown
    assert (await client.get("/app/services/svc-none")).status_code == 404


async def test_a_partner_edits_the_organisations_contacts_with_errors_beside_the_fields(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    csrf = await _signed_in(client, people["partner"])
    form = await client.get("/app/organisation/edit?lang=de")
    assert form.status_code == 200
    assert 'name="version" value="1"' in form.text
    fields = {
        "csrf": csrf,
        "version": "1",
        "name": "Organisation A e.V.",
        "phone": "ruf an",
        "email": "office@example.org",
        "website": "",
    }
    bad = await client.post("/app/organisation/edit?lang=de", data=fields)
    assert bad.status_code == 422
    assert re.search(
        r'<input id="phone"[^>]*aria-invalid="true" aria-describedby="phone-error"', bad.text
    )
    assert 'id="phone-error">Geben Sie eine Telefonnummer nur aus Ziffern' in bad.text
    assert 'value="ruf an"' in bad.text  # kept to correct
    assert "input.phone" not in bad.text

    saved = await client.post("/app/organisation/edit", data=fields | {"phone": "+383 38 1"})
    assert saved.status_code == 303
    page = await client.get("/app/organisation")
    assert "Organisation A e.V." in page.text
    # The form now holds the new version: the old one is a conflict, said in words.
    stale = await client.post("/app/organisation/edit", data=fields | {"phone": "+383 38 2"})
    assert stale.status_code == 409
    assert "Jemand anderes hat dies inzwischen geändert." in stale.text  # the language kept
    assert 'name="version" value="2"' in stale.text


async def test_the_service_page_lists_sites_with_hours_and_maps_them_nearest_first(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    await directory.build(graph)
    hours = [
        {"weekday": "MO", "opens": "08:30", "closes": "12:00"},
        {"weekday": "MO", "opens": "13:00", "closes": "16:30"},
        {"weekday": "FR", "opens": "09:00", "closes": "13:00"},
    ]
    offered = directory.service(
        organisation_id="org-a",
        phone="+383 29 000 214",
        email="therapy@example.org",
        locations=[
            # Far from Prizren first, so that nearest-first has something to reorder.
            {"id": "a-north", "name": "North office", "area": "XK",
             "point": {"lat": 42.88, "lon": 20.87}},
            {"id": "a-prizren", "name": "Prizren office", "address": "Rruga e Re 7",
             "area": "XK-prizren", "point": {"lat": 42.2139, "lon": 20.7397},
             "opening_hours": hours},
        ],
    )  # fmt: skip
    await directory.add_services(graph, [("svc-a", offered)])
    await _signed_in(client, people["counsellor"])

    page = (await client.get("/app/services/svc-a?near=XK-prizren&lang=de")).text
    # The service's own phone and e-mail.
    assert '<a href="tel:+38329000214">+383 29 000 214</a>' in page
    assert "mailto:therapy@example.org" in page
    # The nearest site first, said to be nearest, with its week.
    assert page.index("Prizren office") < page.index("North office")
    assert '<p class="nearest">Am nächsten zu Prizren · 0 km von Prizren</p>' in page
    assert '<th scope="row">Montag</th><td>08:30–12:00, 13:00–16:30</td>' in page
    assert '<th scope="row">Dienstag</th><td>geschlossen</td>' in page
    assert '<th scope="row">Freitag</th><td>09:00–13:00</td>' in page

    # The map: a point layer over the country's outlines, from the application itself; its
    # section hidden until the script draws it, the list above standing without scripts.
    found = re.search(
        r'<section class="live" aria-labelledby="service-map-title" hidden>.*?'
        r'<div class="live-map" id="service-map" data-map="points"'
        r' data-geojson="([^"]+)" data-points="([^"]+)"',
        page,
        re.DOTALL,
    )
    assert found is not None
    assert unescape(found[1]) == "/exports/outlines.geojson?country=XK&lang=de"
    points = json.loads(unescape(found[2]))
    assert {(p["lat"], p["lon"], p["label"]) for p in points} == {
        (42.88, 20.87, "North office"),
        (42.2139, 20.7397, "Prizren office, Rruga e Re 7"),
    }
    assert '<script src="/app/static/vendor/leaflet/leaflet.js" defer></script>' in page
    assert not re.search(r'(src|href)="(https?:)?//', page.replace('href="https://krct', ""))
    outlines = await client.get(unescape(found[1]))
    assert outlines.status_code == 200

    # Opened without a searched place: stored order, nothing called nearest.
    plain = (await client.get("/app/services/svc-a")).text
    assert plain.index("North office") < plain.index("Prizren office")
    assert 'class="nearest"' not in plain


async def test_the_capacity_switch_on_the_organisation_page_sets_capacity_and_note(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    await directory.build(graph)
    offered = directory.service(organisation_id="org-a", capacity="available")
    await directory.add_services(graph, [("svc-a", offered)])
    csrf = await _signed_in(client, people["partner"])
    page = (await client.get("/app/organisation?lang=de")).text
    assert re.search(
        r'id="capacity-svc-a-AVAILABLE" name="capacity" value="AVAILABLE" checked', page
    )
    assert 'action="/app/services/svc-a/capacity?org=org-a"' in page

    full = {"csrf": csrf, "capacity": "FULL", "capacity_note": "Warteliste bis März"}
    saved = await client.post("/app/services/svc-a/capacity?org=org-a", data=full)
    assert saved.status_code == 303
    assert saved.headers["location"].endswith("saved=1#service-svc-a")
    query = 'query S { service(id: "svc-a") { capacity capacityNote } }'
    body = (
        await client.post(
            "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {people['partner']}"},
        )
    ).json()
    assert body["data"]["service"] == {"capacity": "FULL", "capacityNote": "Warteliste bis März"}
    page = (await client.get("/app/organisation")).text
    assert re.search(r'value="FULL" checked', page)
    assert 'value="Warteliste bis März"' in page

    # A note too long for the API: said beside that service's note, the text kept to shorten.
    long = full | {"capacity": "LIMITED", "capacity_note": "x" * 600}
    refused = await client.post("/app/services/svc-a/capacity?org=org-a&lang=de", data=long)
    assert refused.status_code == 422
    assert re.search(
        r'id="capacity-note-svc-a"[^>]*aria-invalid="true"'
        r' aria-describedby="capacity-note-svc-a-error"',
        refused.text,
    )
    assert 'id="capacity-note-svc-a-error">Dieser Text' in refused.text
    assert 'value="' + "x" * 600 + '"' in refused.text

    # Another organisation's service has no switch for this partner.
    await directory.add_services(graph, [("svc-b", directory.service(organisation_id="org-b"))])
    other = await client.post("/app/services/svc-b/capacity?org=org-a", data=full)
    assert other.status_code == 403
