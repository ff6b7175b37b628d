"""Sign-in with e-mail address and password: the one-time link that sets the password (issued
on the command line), the lockout after repeated failures, and refusals in the page's
language beside the fields."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from core.clock import utcnow
from graph.driver import Graph
from graph.passwords import FAILURES_BEFORE_LOCK, LINK_LIFETIME, issue_password_link, new_link
from tests.cli import run_cli

PASSWORD = "correct horse battery staple"


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def _link_from_the_command_line(email: str) -> str:
    issued = await run_cli("users", "password-link", email)
    assert issued.exit_code == 0, issued.output
    found = re.search(r"http://\S+/app/password/(hwp_\S+)", issued.output)
    assert found is not None, issued.output
    return found.group(1)


async def _set_password(client: httpx.AsyncClient, link: str, password: str) -> httpx.Response:
    page = await client.get(f"/app/password/{link}")
    assert page.status_code == 200
    return await client.post(
        f"/app/password/{link}",
        data={"password": password, "again": password, "csrf": _csrf(page)},
    )


async def _sign_in(
    client: httpx.AsyncClient, email: str, password: str, lang: str = "en"
) -> httpx.Response:
    page = await client.get(f"/app/sign-in?lang={lang}")
    return await client.post(
        "/app/sign-in",
        data={"email": email, "password": password, "csrf": _csrf(page), "next": "/app/"},
    )


async def test_a_link_sets_the_password_once_and_the_password_signs_in(
    cli_env: None, client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    link = await _link_from_the_command_line("Partner@Example.org")
    page = await client.get(f"/app/password/{link}")
    assert "partner@example.org" in page.text

    saved = await _set_password(client, link, PASSWORD)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/app/sign-in?password=set"
    # Used: the link opens nothing any more.
    again = await client.get(f"/app/password/{link}")
    assert again.status_code == 404
    assert "expired" in again.text

    signed_in = await _sign_in(client, "partner@example.org", PASSWORD)
    assert signed_in.status_code == 303
    cookie = client.cookies["homeward_session"]
    assert cookie.startswith("hws_")
    assert PASSWORD.split()[0] not in cookie
    assert (await client.get("/app/organisation")).status_code == 200


async def test_a_short_or_differing_password_is_refused_beside_its_field_in_the_language(
    cli_env: None, client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    link = await _link_from_the_command_line("partner@example.org")
    page = await client.get(f"/app/password/{link}?lang=de")
    short = await client.post(
        f"/app/password/{link}", data={"password": "kurz", "again": "kurz", "csrf": _csrf(page)}
    )
    assert short.status_code == 422
    assert re.search(
        r'<input id="password"[^>]*aria-invalid="true" aria-describedby="pw-password-error"',
        short.text,
    )
    assert '<p class="field-error" id="pw-password-error">Zu kurz: mindestens 12 Zeichen.' in (
        short.text
    )
    differing = await client.post(
        f"/app/password/{link}",
        data={"password": PASSWORD, "again": PASSWORD + "!", "csrf": _csrf(page)},
    )
    assert differing.status_code == 422
    assert 'id="pw-again-error">Die beiden Passwörter sind verschieden.' in differing.text
    # Nothing was set: the link still works.
    assert (await client.get(f"/app/password/{link}")).status_code == 200


async def test_repeated_failures_lock_the_account_even_for_the_right_password(
    cli_env: None, client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    link = await _link_from_the_command_line("counsellor@example.org")
    assert (await _set_password(client, link, PASSWORD)).status_code == 303

    wrong = await _sign_in(client, "counsellor@example.org", "not the password", lang="de")
    assert wrong.status_code == 401
    assert "E-Mail-Adresse oder Passwort ist falsch." in wrong.text
    assert 'aria-describedby="signin-error"' in wrong.text
    # The e-mail typed stays; no developer text.
    assert 'value="counsellor@example.org"' in wrong.text
    # An unknown address is refused in the same words (which addresses exist stays unsaid).
    unknown = await _sign_in(client, "nobody@example.org", PASSWORD, lang="de")
    assert unknown.status_code == 401
    assert "E-Mail-Adresse oder Passwort ist falsch." in unknown.text

    for _ in range(FAILURES_BEFORE_LOCK - 2):
        await _sign_in(client, "counsellor@example.org", "still wrong")
    locked = await _sign_in(client, "counsellor@example.org", "wrong again", lang="sq")
    assert locked.status_code == 401
    assert "Shumë përpjekje të dështuara. Provoni përsëri pas 15 minutash." in locked.text
    right = await _sign_in(client, "counsellor@example.org", PASSWORD)
    assert right.status_code == 401
    assert "Too many failed attempts" in right.text
    assert "homeward_session" not in client.cookies

    # A new password (here through a new link) lifts the lock.
    link = await _link_from_the_command_line("counsellor@example.org")
    assert (await _set_password(client, link, PASSWORD)).status_code == 303
    assert (await _sign_in(client, "counsellor@example.org", PASSWORD)).status_code == 303


async def test_a_new_password_ends_the_sessions_and_an_expired_link_opens_nothing(
    cli_env: None, client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    link = await _link_from_the_command_line("partner@example.org")
    assert (await _set_password(client, link, PASSWORD)).status_code == 303
    assert (await _sign_in(client, "partner@example.org", PASSWORD)).status_code == 303
    assert (await client.get("/app/organisation")).status_code == 200

    reset = await run_cli(
        "users", "set-password", "partner@example.org", input=f"{PASSWORD} 2\n" * 2
    )
    assert reset.exit_code == 0, reset.output
    assert (await client.get("/app/organisation")).status_code == 303  # signed out
    assert (await _sign_in(client, "partner@example.org", PASSWORD)).status_code == 401
    assert (await _sign_in(client, "partner@example.org", PASSWORD + " 2")).status_code == 303

    secret, link_id, secret_hash = new_link()
    await graph.write(
        issue_password_link,
        user_id="user-partner",
        link_id=link_id,
        secret_hash=secret_hash,
        now=utcnow() - LINK_LIFETIME - timedelta(minutes=1),
    )
    assert (await client.get(f"/app/password/{secret}")).status_code == 404
    # A made-up secret for a real id opens nothing either.
    assert (await client.get(f"/app/password/hwp_{link_id}_guess")).status_code == 404
