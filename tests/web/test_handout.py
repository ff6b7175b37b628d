"""The returnee's handout: one page in the chosen language with the partner, its site, how to
reach it, what to bring and the appointment, and nothing of the referral's personal data."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI

from graph.driver import Graph
from graph.organisations import OrganisationInput, upsert_organisations
from tests import directory
from tests.api.graphql.conftest import GraphQLClient
from tests.api.graphql.test_referrals import HEALTH, NOTE, sent_referral
from tests.web.test_pages import TODAY, _signed_in


@pytest.fixture
async def referral(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> str:
    """A referral from A's counsellor to B's trauma service in Prizren, sent."""
    app.state.clock = lambda: TODAY
    await directory.build(graph)
    b = OrganisationInput.model_validate(
        {"name": "Qendra B", "kind": "ngo", "country": "XK", "phone": "+383 29 000 111"}
    )
    await graph.write(upsert_organisations, rows=[("org-b", b, {})])
    offered = directory.service(
        organisation_id="org-b",
        locations=[{"id": "b-prizren", "name": "Zyra Prizren", "address": "Rruga Remzi Ademi 7",
                    "area": "XK-prizren"}],
    )  # fmt: skip
    await directory.add_services(graph, [("svc-b", offered)])
    return await sent_referral(
        GraphQLClient(client), people, documents=["IDENTITY_DOCUMENTS", "DIPLOMAS"]
    )


async def test_the_handout_speaks_the_returnees_language_and_holds_no_personal_data(
    client: httpx.AsyncClient, people: dict[str, str], referral: str
) -> None:
    await _signed_in(client, people["counsellor"])
    detail = await client.get(f"/app/referrals/{referral}?lang=de")
    assert f'href="/app/referrals/{referral}/handout"' in detail.text

    page = await client.get(
        f"/app/referrals/{referral}/handout?lang=de&language=sq&appointment=2026-05-04T10:30"
    )
    assert page.status_code == 200
    text = page.text
    # The counsellor's page around it stays German; the handout itself is Albanian.
    assert "Sprache des Merkblatts" in text
    handout = re.search(r'<article class="handout" lang="sq">(.*?)</article>', text, re.S)
    assert handout is not None, text
    body = handout.group(1)
    for shown in (
        "Mbështetja juaj pas kthimit",
        "Qendra B",
        "Zyra Prizren",
        "Rruga Remzi Ademi 7, Prizren",
        "+383 29 000 111",
        "Dokumentet e identitetit",
        "Diplomat dhe certifikatat",
        "Takimi juaj",
        "4.5.26",  # the appointment as Albanian writes a short date
        "10:30",
    ):
        assert shown in body, shown
    for withheld in (HEALTH, NOTE):
        assert withheld not in text, withheld

    # Serbian in Cyrillic script, without an appointment: that part is left out.
    cyrillic = (await client.get(f"/app/referrals/{referral}/handout?language=sr-Cyrl")).text
    assert '<article class="handout" lang="sr-Cyrl">' in cyrillic
    assert "Ваша подршка после повратка" in cyrillic
    assert "Лична документа" in cyrillic
    assert "Ваш термин" not in cyrillic


async def test_the_handout_of_another_organisations_referral_is_not_found(
    client: httpx.AsyncClient, people: dict[str, str], referral: str
) -> None:
    # A partner of the sending organisation A is on neither side of the referral.
    await _signed_in(client, people["partner"])
    page = await client.get(f"/app/referrals/{referral}/handout")
    assert page.status_code == 404
    assert "Rruga Remzi Ademi" not in page.text
