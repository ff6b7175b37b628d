"""The service page a result opens: sites with addresses, how to reach the organisation,
eligibility, fees and languages by name, in the page's language."""

from __future__ import annotations

import re

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
    assert '<a href="/app/services/svc-krct">Trauma therapy</a>' in results.text

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
