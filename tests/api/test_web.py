"""The web pages' access rules, sign-in cookie and CSRF defence, over in-process HTTP."""

from __future__ import annotations

import re

import httpx

from api import policy
from api.web import OPEN_PAGES, page_operations


async def test_every_page_has_an_access_rule(client: httpx.AsyncClient) -> None:
    pages = page_operations()
    assert "GET /app/search" in pages
    missing = pages - set(policy.REST_RULES) - OPEN_PAGES
    assert not missing, f"pages without a rule in policy.REST_RULES: {sorted(missing)}"
    stale = {r for r in policy.REST_RULES if r.split(" ")[1].startswith("/app")} - pages
    assert not stale, f"rules for pages that do not exist: {sorted(stale)}"
    # Mounted on the application: a page answers (with the way to sign in).
    assert (await client.get("/app/search")).status_code == 303


async def _signed_in(client: httpx.AsyncClient, token: str) -> str:
    """Sign in through the form; returns the CSRF value of the session."""
    page = await client.get("/app/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    response = await client.post(
        "/app/sign-in", data={"token": token, "csrf": csrf.group(1), "next": "/app/"}
    )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    return csrf.group(1)


async def test_sign_in_sets_the_session_and_pages_follow_the_roles(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    assert (await client.get("/app/search")).status_code == 303  # to sign-in
    await _signed_in(client, people["partner"])
    assert (await client.get("/app/organisation")).status_code == 200
    # A partner is not a coordinator: the page and the export behind its picture refuse.
    assert (await client.get("/app/gaps")).status_code == 403
    assert (await client.get("/exports/3w.csv?country=XK")).status_code == 403
    assert (await client.get("/app/referrals")).status_code == 403


async def test_coordinator_session_cookie_opens_the_exports(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    await _signed_in(client, people["coordinator"])
    response = await client.get("/exports/3w.csv?country=XK")
    assert response.status_code == 200
    assert response.text.splitlines()[1].startswith("#org+name")


async def test_forms_without_the_csrf_value_or_from_another_site_are_refused(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    csrf = await _signed_in(client, people["partner"])
    assert (await client.post("/app/sign-out", data={})).status_code == 403
    assert (await client.post("/app/sign-out", data={"csrf": "x" * 43})).status_code == 403
    foreign = await client.post(
        "/app/sign-out", data={"csrf": csrf}, headers={"Origin": "https://elsewhere.example"}
    )
    assert foreign.status_code == 403
    assert (await client.get("/app/organisation")).status_code == 200  # still signed in
    signed_out = await client.post("/app/sign-out", data={"csrf": csrf})
    assert signed_out.status_code == 303
    assert (await client.get("/app/organisation")).status_code == 303


async def test_a_revoked_or_unknown_token_signs_out(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    page = await client.get("/app/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    refused = await client.post(
        "/app/sign-in", data={"token": "hwt_nope_nope", "csrf": csrf.group(1)}
    )
    assert refused.status_code == 401
    assert "unknown token" in refused.text
    client.cookies.set("homeward_session", "hwt_nope_nope")
    again = await client.get("/app/organisation")
    assert again.status_code == 303
    assert "reason=unknown%20token" in again.headers["location"]
