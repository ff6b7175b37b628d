"""The admins' pages: an account made in the page, its one-time password link, signing a
person out of every browser, disabling and enabling, the organisations with their people;
and nobody else opens them."""

from __future__ import annotations

import asyncio
import re

import httpx
from fastapi import FastAPI

from core.settings import Settings
from tests.conftest import serve
from tests.smtp import MailServer
from tests.web.test_pages import _signed_in
from tests.web.test_sign_in import _csrf, _sign_in

PASSWORD = "a long and quite ordinary passphrase"


def _user_id(page: httpx.Response, email: str) -> str:
    """The id in the action of the row of `email`."""
    row = page.text[page.text.index(f"<td>{email}</td>") :]
    found = re.search(r"/app/admin/users/([^/]+)/password-link", row)
    assert found is not None
    return found.group(1)


async def _password_signed_in(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await _sign_in(client, email, PASSWORD)


async def test_an_admin_makes_an_account_gives_its_link_signs_it_out_and_disables_it(
    app: FastAPI, client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    csrf = await _signed_in(client, people["admin"])
    listed = await client.get("/app/admin/users?lang=de")
    assert listed.status_code == 200
    assert "partner_b@example.org" in listed.text
    assert "Organisation B" in listed.text  # memberships by organisation name, not id
    assert "org-b" not in listed.text.replace('value="org-b"', "")

    # A wrong address: said beside the field in the page's language, the form kept.
    refused = await client.post(
        "/app/admin/users?lang=de",
        data={
            "csrf": csrf,
            "email": "not an address",
            "display_name": "Vjosa Krasniqi",
            "organisation": "org-b",
            "role": "PARTNER",
        },
    )
    assert refused.status_code == 422
    assert 'id="email-error"' in refused.text
    assert "E-Mail-Adresse" in refused.text
    assert 'value="Vjosa Krasniqi"' in refused.text
    assert "input.email" not in refused.text

    made = await client.post(
        "/app/admin/users",
        data={
            "csrf": csrf,
            "email": "vjosa@example.org",
            "display_name": "Vjosa Krasniqi",
            "organisation": "org-b",
            "role": "PARTNER",
        },
    )
    assert made.status_code == 303
    listed = await client.get("/app/admin/users")
    assert "vjosa@example.org" in listed.text
    user_id = _user_id(listed, "vjosa@example.org")

    issued = await client.post(f"/app/admin/users/{user_id}/password-link", data={"csrf": csrf})
    assert issued.status_code == 200
    link = re.search(r'value="http://[^"]+/app/password/(hwp_[^"]+)"', issued.text)
    assert link is not None, issued.text

    # The person sets a password with the link and signs in, in a browser of their own.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as person:
        form = await person.get(f"/app/password/{link.group(1)}")
        saved = await person.post(
            f"/app/password/{link.group(1)}",
            data={"password": PASSWORD, "again": PASSWORD, "csrf": _csrf(form)},
        )
        assert saved.status_code == 303
        assert (await _password_signed_in(person, "vjosa@example.org")).status_code == 303
        assert (await person.get("/app/organisation")).status_code == 200

        # Signed out everywhere: the person's next page asks them to sign in again.
        ended = await client.post(f"/app/admin/users/{user_id}/sessions", data={"csrf": csrf})
        assert ended.headers["location"] == "/app/admin/users?done=signed_out"
        gone = await person.get("/app/organisation")
        assert gone.status_code == 303
        assert gone.headers["location"].startswith("/app/sign-in")

        # Disabled: the password no longer signs in; enabled again, it does.
        assert (await _password_signed_in(person, "vjosa@example.org")).status_code == 303
        await client.post(
            f"/app/admin/users/{user_id}/disabled", data={"csrf": csrf, "disabled": "true"}
        )
        assert (await person.get("/app/organisation")).status_code == 303
        assert (await _password_signed_in(person, "vjosa@example.org")).status_code != 303
        listed = await client.get("/app/admin/users")
        assert "disabled" in listed.text
        await client.post(
            f"/app/admin/users/{user_id}/disabled", data={"csrf": csrf, "disabled": "false"}
        )
        assert (await _password_signed_in(person, "vjosa@example.org")).status_code == 303

    # Each of these is in the audit trail of organisation B.
    trail = await client.post(
        "/graphql",
        json={"query": "{ auditEvents(first: 50) { nodes { action entityId } } }"},
        headers={"Authorization": f"Bearer {people['admin']}"},
    )
    actions = [
        e["action"]
        for e in trail.json()["data"]["auditEvents"]["nodes"]
        if e["entityId"] == user_id
    ]
    for action in ("create_user", "issue_password_link", "end_sessions", "disable_user"):
        assert action in actions


async def test_the_organisations_page_lists_people_and_opens_any_organisation_for_admins(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    await _signed_in(client, people["admin"])
    page = await client.get("/app/admin/organisations")
    assert page.status_code == 200
    assert 'href="/app/organisation?org=org-b"' in page.text
    assert "partner_b" in page.text
    # The admin of A keeps B's record too, as the API lets them.
    other = await client.get("/app/organisation?org=org-b")
    assert other.status_code == 200
    assert "Organisation B" in other.text


async def test_nobody_but_admins_opens_the_admin_pages(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    csrf = await _signed_in(client, people["partner"])
    assert "/app/admin/users" not in (await client.get("/app/organisation")).text
    assert (await client.get("/app/admin/users")).status_code == 403
    assert (await client.get("/app/admin/organisations")).status_code == 403
    refused = await client.post(
        "/app/admin/users/user-counsellor/disabled", data={"csrf": csrf, "disabled": "true"}
    )
    assert refused.status_code == 403
    # A partner of A does not open B's record by naming it.
    own = await client.get("/app/organisation?org=org-b")
    assert "Organisation B" not in own.text


async def test_with_mail_on_an_admin_invites_a_person_by_mail(
    people: dict[str, str], test_settings: Settings, mail_server: MailServer
) -> None:
    settings = mail_server.settings(test_settings).model_copy(update={"mail_interval_s": 0.1})
    async with serve(settings) as client:
        csrf = await _signed_in(client, people["admin"])
        listed = await client.get("/app/admin/users")
        assert "Invite by e-mail" in listed.text
        user_id = _user_id(listed, "partner_b@example.org")
        sent = await client.post(f"/app/admin/users/{user_id}/invitation", data={"csrf": csrf})
        assert sent.headers["location"] == "/app/admin/users?done=invited"
        async with asyncio.timeout(30):
            while not mail_server.to("partner_b@example.org"):  # noqa: ASYNC110 - other thread
                await asyncio.sleep(0.1)
    [arrived] = mail_server.to("partner_b@example.org")
    assert re.search(r"https://homeward\.example\.org/app/password/hwp_\S+", arrived.body)


async def test_without_mail_the_page_offers_no_invitation(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    await _signed_in(client, people["admin"])
    assert "Invite by e-mail" not in (await client.get("/app/admin/users")).text
