"""The settings page: how a person hears of their notices by mail, and in which language."""

from __future__ import annotations

import re

import httpx

from graph.driver import Graph
from graph.mail.preferences import MailFrequency, get_mail_preference
from tests.web.test_pages import _signed_in


async def test_a_person_chooses_the_daily_digest_in_serbian(
    client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    csrf = await _signed_in(client, people["counsellor"])
    page = await client.get("/app/settings?lang=de")
    assert page.status_code == 200
    assert '<a href="/app/settings" aria-current="page">Einstellungen</a>' in page.text
    # Until chosen: each notice at once, in the language signed in with.
    assert re.search(r'value="IMMEDIATE" checked> Jede Mitteilung sofort', page.text)
    assert '<option value="en" lang="en" selected>English</option>' in page.text

    saved = await client.post(
        "/app/settings", data={"csrf": csrf, "frequency": "DIGEST", "language": "sr-Cyrl"}
    )
    assert saved.status_code == 303
    after = await client.get(saved.headers["location"])
    assert "Ihre Einstellungen sind gespeichert." in after.text
    assert re.search(r'value="DIGEST" checked>', after.text)
    assert '<option value="sr-Cyrl" lang="sr-Cyrl" selected>Српски</option>' in after.text
    stored = await graph.read(get_mail_preference, user_id="user-counsellor")
    assert (stored.frequency, stored.language) == (MailFrequency.DIGEST, "sr-Cyrl")

    # A forged value changes nothing.
    forged = await client.post(
        "/app/settings", data={"csrf": csrf, "frequency": "HOURLY", "language": "de"}
    )
    assert forged.status_code == 200
    assert (await graph.read(get_mail_preference, user_id="user-counsellor")) == stored


async def test_signing_in_in_german_makes_german_the_language_of_the_mails(
    client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    await client.get("/app/sign-in?lang=de")
    await _signed_in(client, people["partner"])
    stored = await graph.read(get_mail_preference, user_id="user-partner")
    assert stored.language == "de"
