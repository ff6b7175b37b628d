"""The forms people fill in: needs the search asked for ticked on the referral form, the API's
problems shown beside their fields in the page's language (never its own words), and choices
as checkboxes and language names rather than list boxes and ISO codes."""

from __future__ import annotations

import re
from typing import Any, LiteralString

import httpx
import pytest
from fastapi import FastAPI

from graph.driver import Graph
from tests import directory
from tests.web.test_pages import _signed_in

NEW = "/app/referrals/new?service=svc-b&destination=XK-prizren"


@pytest.fixture
async def b_service(app: FastAPI, people: dict[str, str], graph: Graph) -> dict[str, str]:
    """B offers trauma therapy and employment help in Prizren; tokens by person."""
    await directory.build(graph)
    offered = directory.service(
        organisation_id="org-b", needs=["psychosocial.trauma-therapy", "employment"]
    )
    await directory.add_services(graph, [("svc-b", offered)])
    return people


def _ticked(page: str, name: str) -> set[str]:
    return set(re.findall(rf'name="{name}" value="([^"]+)" checked', page))


async def test_the_referral_form_ticks_the_services_needs_under_the_broad_need_searched(
    client: httpx.AsyncClient, b_service: dict[str, str]
) -> None:
    await _signed_in(client, b_service["counsellor"])
    # The search asked for the broad need; the service lists the narrower one.
    page = await client.get(NEW + "&needs=psychosocial&languages=sq,%20de")
    assert page.status_code == 200
    assert _ticked(page.text, "needs") == {"psychosocial.trauma-therapy"}
    # Languages by their names, the searched ones ticked; no ISO code to type.
    assert _ticked(page.text, "languages") == {"sq", "de"}
    assert re.search(r'value="sq" checked>\s*<label for="languages-sq">Albanian</label>', page.text)
    assert 'name="languages" value=""' not in page.text
    german = await client.get(NEW + "&needs=psychosocial.trauma-therapy&languages=sq&lang=de")
    assert re.search(
        r'value="sq" checked>\s*<label for="languages-sq">Albanisch</label>', german.text
    )
    assert _ticked(german.text, "needs") == {"psychosocial.trauma-therapy"}
    # A need the service does not answer ticks nothing.
    other = await client.get(NEW + "&needs=housing")
    assert _ticked(other.text, "needs") == set()


async def test_referral_problems_show_beside_their_fields_in_the_page_language(
    client: httpx.AsyncClient, b_service: dict[str, str]
) -> None:
    csrf = await _signed_in(client, b_service["counsellor"])
    sent = await client.post(
        "/app/referrals?lang=de",
        data={
            "csrf": csrf,
            "service": "svc-b",
            "destination": "XK-prizren",
            "return_type": "VOLUNTARY",
            "adults": "1",
            "languages": ["sq"],
            "case_reference": "MUC-2026-0042",
        },
    )
    assert sent.status_code == 422
    page = sent.text
    assert "Bitte korrigieren Sie die markierten Felder." in page
    assert re.search(
        r'<p class="field-error" id="needs-error">Kreuzen Sie mindestens einen Bedarf an', page
    )
    assert 'aria-describedby="needs-error"' in page
    # Whatever the API said in English and by its field names stays off the page.
    for developer_text in ("input.", "List should have", "invalid input", "caseReference"):
        assert developer_text not in page
    # What was typed is kept.
    assert 'value="MUC-2026-0042"' in page
    assert _ticked(page, "languages") == {"sq"}

    ticked = await client.post(
        "/app/referrals?lang=sq",
        data={
            "csrf": csrf,
            "service": "svc-b",
            "destination": "XK-prizren",
            "needs": ["employment"],
            "return_type": "VOLUNTARY",
            "adults": "1",
            "case_reference": "MUC-2026-0042",
        },
    )
    assert ticked.status_code == 422
    assert re.search(
        r'<input id="case_reference"[^>]*aria-invalid="true"'
        r' aria-describedby="case_reference-error"',
        ticked.text,
    )
    assert 'id="case_reference-error">Organizata juaj nuk ka rast me këtë referencë.' in ticked.text
    assert "MUC-2026-0042&#39; of organisation" not in ticked.text


async def test_the_service_form_offers_checkboxes_and_language_names_and_keeps_every_choice(
    client: httpx.AsyncClient, b_service: dict[str, str], graph: Graph
) -> None:
    csrf = await _signed_in(client, b_service["partner"])
    form = await client.get("/app/services/new?lang=de")
    assert form.status_code == 200
    # One choice of several each: the capacity, and a new site's municipality and weekday.
    assert form.text.count("<select") == 3
    assert "multiple" not in form.text
    trauma = r'name="needs" value="psychosocial.trauma-therapy">\s*<label[^>]*>Traumatherapie'
    assert re.search(trauma, form.text)
    assert re.search(r'name="covers" value="XK-prizren">', form.text)
    assert re.search(r'name="languages" value="sr">\s*<label[^>]*>Serbisch</label>', form.text)

    fields = {
        "csrf": csrf,
        "name": "Beratung",
        "needs": ["psychosocial.trauma-therapy", "employment"],
        "covers": ["XK-prizren"],
        "languages": ["sq", "sr"],
        "delivery": ["IN_PERSON"],
        "capacity": "AVAILABLE",
    }
    missing = await client.post("/app/services?org=org-a&lang=de", data={**fields, "needs": []})
    assert missing.status_code == 422
    assert 'id="needs-error">Kreuzen Sie mindestens einen Bedarf an' in missing.text
    assert "input." not in missing.text
    # Nothing ticked is lost on the way back.
    assert _ticked(missing.text, "languages") == {"sq", "sr"}
    assert _ticked(missing.text, "covers") == {"XK-prizren"}

    saved = await client.post("/app/services?org=org-a", data=fields)
    assert saved.status_code == 303, saved.text
    stored = await graph.read(_service_of, organisation_id="org-a")
    assert stored == (["employment", "psychosocial.trauma-therapy"], ["sq", "sr"], ["XK-prizren"])


SERVICE_OF: LiteralString = """
MATCH (:Organisation {id: $organisation_id})-[:PROVIDES]->(s:Service)
RETURN COLLECT { MATCH (s)-[:ADDRESSES]->(n:Need) RETURN n.code ORDER BY n.code } AS needs,
       s.languages AS languages,
       COLLECT { MATCH (s)-[:COVERS]->(a:Area) RETURN a.id ORDER BY a.id } AS covers
"""


async def _service_of(tx: Any, *, organisation_id: str) -> tuple[list[str], list[str], list[str]]:
    record = await (await tx.run(SERVICE_OF, organisation_id=organisation_id)).single()
    assert record is not None
    return record["needs"], sorted(record["languages"]), record["covers"]
