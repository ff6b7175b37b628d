""" "Forgot your password?": the page asks for the address, answers the same whether or not an
account has it, and a link arrives by mail (through a real SMTP server on the loopback)
that sets the new password."""

from __future__ import annotations

import re

import httpx
from neo4j import AsyncManagedTransaction

from api.mail_delivery import deliver_mail_due
from core.clock import utcnow
from core.crypto import cipher_from_settings
from core.settings import Settings
from graph.driver import Graph
from graph.mail.outbox import list_mails
from tests.conftest import serve
from tests.smtp import MailServer
from tests.web.test_sign_in import PASSWORD, _csrf, _set_password

SITE = "https://homeward.example.org"


async def _ask(client: httpx.AsyncClient, email: str, lang: str = "en") -> httpx.Response:
    page = await client.get(f"/app/password-reset?lang={lang}")
    assert page.status_code == 200
    return await client.post("/app/password-reset", data={"email": email, "csrf": _csrf(page)})


async def test_a_reset_link_arrives_by_mail_and_the_answer_does_not_tell_who_has_an_account(
    people: dict[str, str],
    graph: Graph,
    mail_server: MailServer,
    test_settings: Settings,
) -> None:
    settings = mail_server.settings(test_settings)
    async with serve(settings) as client:
        sign_in = await client.get("/app/sign-in")
        assert '<a href="/app/password-reset">Forgot your password?</a>' in sign_in.text

        known = await _ask(client, "Counsellor@example.org")
        unknown = await _ask(client, "nobody@example.org")
        assert known.status_code == unknown.status_code == 200
        assert "a link to set a new password is on its way" in known.text
        assert known.text.replace("nobody", "") == unknown.text.replace("nobody", "")
        # Asked again at once: no second mail, the same answer.
        again = await _ask(client, "counsellor@example.org")
        assert "is on its way" in again.text
        assert [m.kind for m in await graph.read(list_mails)] == ["password_link"]

        cipher = cipher_from_settings(settings)
        report = await deliver_mail_due(graph, now=utcnow(), settings=settings, cipher=cipher)
        assert report.delivered == 1
        (mail,) = mail_server.arrived
        assert mail.recipients == ["counsellor@example.org"]
        assert mail.subject == "Homeward: set your password"
        found = re.search(rf"{re.escape(SITE)}/app/password/(hwp_\S+)", mail.body)
        assert found is not None, mail.body
        # The outbox forgets the link once it is sent.
        props = await graph.read(_mail_props)
        assert "secret_enc" not in props

        chosen = await _set_password(client, found.group(1), PASSWORD)
        assert chosen.status_code == 303
        page = await client.get("/app/sign-in")
        signed_in = await client.post(
            "/app/sign-in",
            data={"email": "counsellor@example.org", "password": PASSWORD, "csrf": _csrf(page)},
        )
        assert signed_in.status_code == 303


async def _mail_props(tx: AsyncManagedTransaction) -> dict[str, object]:
    result = await tx.run("MATCH (m:Mail) RETURN m")
    return dict((await result.single(strict=True))["m"])


async def test_a_malformed_address_is_refused_beside_the_field_and_without_mail_the_page_says_so(
    people: dict[str, str],
    graph: Graph,
    client: httpx.AsyncClient,
    mail_server: MailServer,
    test_settings: Settings,
) -> None:
    async with serve(mail_server.settings(test_settings)) as mailing:
        refused = await _ask(mailing, "not an address", lang="de")
        assert refused.status_code == 422
        assert 'aria-invalid="true"' in refused.text
        assert "Geben Sie eine E-Mail-Adresse wie name@example.org an." in refused.text
    # The `client` app has no SMTP host: the page sends nobody anywhere.
    off = await client.get("/app/password-reset")
    assert "This installation sends no mail." in off.text
    assert 'name="email"' not in off.text
    assert await graph.read(list_mails) == []
