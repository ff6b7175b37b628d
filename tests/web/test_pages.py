"""The web pages' access rules, sign-in cookie and CSRF defence, and the follow-up form of the
referral page, over in-process HTTP."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api import policy
from graph.driver import Graph
from tests import directory
from tests.api.graphql.conftest import START, GraphQLClient
from tests.api.graphql.test_referrals import ACCEPT, sent_referral
from web import OPEN_PAGES, page_operations


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
    assert (await client.get("/exports/gaps.svg?need=health")).status_code == 403
    assert (await client.get("/app/referrals")).status_code == 403


async def test_coordinator_session_cookie_opens_the_exports(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    await _signed_in(client, people["coordinator"])
    response = await client.get("/exports/gaps.svg?need=health&country=QQ")
    # Past the door: the export itself answers that it knows no such country.
    assert response.status_code == 404
    assert "QQ" in response.text


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
    client.cookies.set("homeward_session", "hws_nope_nope")
    again = await client.get("/app/organisation")
    assert again.status_code == 303
    assert "reason=the%20session%20has%20ended" in again.headers["location"]


async def test_pages_send_the_security_headers(
    client: httpx.AsyncClient, people: dict[str, str]
) -> None:
    await _signed_in(client, people["partner"])
    for path in ("/app/sign-in", "/app/organisation", "/app/static/app.css"):
        response = await client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
    # No page uses inline script or style, which the policy would block.
    page = (await client.get("/app/organisation")).text
    assert not re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=", page)


async def test_the_cookie_is_a_session_that_signing_out_ends(
    client: httpx.AsyncClient, people: dict[str, str], app: FastAPI
) -> None:
    """The cookie never holds the API token; after sign-out a copy of it opens nothing,
    while the token goes on working for the API; revoking the token ends its sessions."""
    csrf = await _signed_in(client, people["partner"])
    cookie = client.cookies["homeward_session"]
    assert cookie.startswith("hws_")
    assert people["partner"] not in cookie
    assert (await client.get("/app/organisation")).status_code == 200

    assert (await client.post("/app/sign-out", data={"csrf": csrf})).status_code == 303
    client.cookies.set("homeward_session", cookie)  # a copy kept from before
    replayed = await client.get("/app/organisation")
    assert replayed.status_code == 303
    assert "/app/sign-in" in replayed.headers["location"]
    api = await client.post(
        "/graphql",
        json={"query": "{ me { email } }"},
        headers={"Authorization": f"Bearer {people['partner']}"},
    )
    assert api.json()["data"]["me"]["email"] == "partner@example.org"

    client.cookies.clear()
    await _signed_in(client, people["counsellor"])
    assert (await client.get("/app/referrals")).status_code == 200
    token_id = people["counsellor"].split("_")[1]
    revoked = await client.post(
        "/graphql",
        json={"query": f'mutation {{ revokeToken(id: "{token_id}") {{ __typename }} }}'},
        headers={"Authorization": f"Bearer {people['admin']}"},
    )
    assert "errors" not in revoked.json(), revoked.json()
    assert (await client.get("/app/referrals")).status_code == 303


# --- follow-up visits on the referral page -------------------------------------------------

TODAY = START + timedelta(days=100)  # arrival planned at START: visits at 1 and 3 months due
FOLLOW_UPS = """
query($id: ID!) { referral(id: $id) {
  followUps { monthsAfterArrival visitedOn employment housing feelsSafe note }
} }
"""


@pytest.fixture
async def b_service(app: FastAPI, people: dict[str, str], graph: Graph) -> dict[str, str]:
    """B offers the one trauma service in Prizren; tokens by person."""
    app.state.clock = lambda: TODAY
    await directory.build(graph)
    await directory.add_services(graph, [("svc-b", directory.service(organisation_id="org-b"))])
    return people


@pytest.fixture
async def referral(client: httpx.AsyncClient, b_service: dict[str, str]) -> str:
    """A referral from A's counsellor to B's trauma service, sent and not yet accepted."""
    return await sent_referral(GraphQLClient(client), b_service)


async def test_the_results_heading_words_its_count(
    client: httpx.AsyncClient, b_service: dict[str, str]
) -> None:
    await _signed_in(client, b_service["counsellor"])
    query = "/app/search?needs=psychosocial.trauma-therapy&place=Prizren&lang="
    for lang, heading in (
        ("en", "1 partner near Prizren"),
        ("sr", "1 partner blizu mesta Prizren"),
        ("sq", "1 partner pranë Prizren"),
    ):
        page = (await client.get(query + lang)).text
        assert f'<h2 id="results-title">{heading}</h2>' in page


def _follow_up_form(page: str) -> str | None:
    found = re.search(r'<form[^>]*id="followup-form".*?</form>', page, re.S)
    return found.group(0) if found else None


async def test_the_follow_up_form_shows_to_the_parties_once_the_referral_is_accepted(
    client: httpx.AsyncClient, people: dict[str, str], referral: str
) -> None:
    page = f"/app/referrals/{referral}"
    for person in ("counsellor", "partner_b"):
        await _signed_in(client, people[person])
        before = await client.get(page)
        assert before.status_code == 200
        assert _follow_up_form(before.text) is None, person  # sent: the API would refuse

    await GraphQLClient(client)(ACCEPT, {"id": referral}, token=people["partner_b"])
    for person in ("counsellor", "partner_b"):
        await _signed_in(client, people[person])
        form = _follow_up_form((await client.get(page)).text)
        assert form is not None, person
        # The first visit due is chosen; the standard intervals are all offered, worded.
        assert '<option value="1" selected>1 month after arrival (due)</option>' in form
        assert '<option value="3">3 months after arrival (due)</option>' in form
        assert '<option value="12">12 months after arrival</option>' in form
        assert f'value="{TODAY.date().isoformat()}"' in form
        assert '<option value="SELF_EMPLOYED">self-employed</option>' in form
        assert ">SELF_EMPLOYED<" not in form
    german = _follow_up_form((await client.get(page + "?lang=de")).text)
    assert german is not None
    assert "1 Monat nach der Ankunft (fällig)" in german
    assert "3 Monate nach der Ankunft (fällig)" in german
    assert '<option value="INADEQUATE">unzureichend</option>' in german

    # Neither side's other people: the referral does not exist for them, or the page refuses.
    await _signed_in(client, people["partner"])
    assert (await client.get(page)).status_code == 404
    await _signed_in(client, people["coordinator"])
    assert (await client.get(page)).status_code == 403
    refused = await client.post(f"{page}/follow-up", data={"csrf": client.cookies["homeward_csrf"]})
    assert refused.status_code == 403


async def _accepted(client: httpx.AsyncClient, people: dict[str, str], referral: str) -> str:
    """Accept as B's partner, who stays signed in; returns the session's CSRF value."""
    await GraphQLClient(client)(ACCEPT, {"id": referral}, token=people["partner_b"])
    return await _signed_in(client, people["partner_b"])


async def _recorded(client: httpx.AsyncClient, token: str, referral: str) -> list[Any]:
    body = await GraphQLClient(client)(FOLLOW_UPS, {"id": referral}, token=token)
    visits: list[Any] = body["data"]["referral"]["followUps"]
    return visits


VISIT = {
    "monthsAfterArrival": "3",
    "visitedOn": (TODAY.date() - timedelta(days=2)).isoformat(),
    "employment": "IN_TRAINING",
    "schooling": "",
    "healthCareAccess": "YES",
    "housing": "TEMPORARY",
    "feelsSafe": "PARTLY",
    "intendsToLeave": "NO",
    "note": "Vocational course in Prizren started (illustrative)",
}


async def test_a_posted_follow_up_is_recorded_and_shown_worded(
    client: httpx.AsyncClient, people: dict[str, str], referral: str
) -> None:
    csrf = await _accepted(client, people, referral)
    posted = await client.post(f"/app/referrals/{referral}/follow-up", data=VISIT | {"csrf": csrf})
    assert posted.status_code == 303
    assert posted.headers["location"] == f"/app/referrals/{referral}?saved=follow-up"

    assert await _recorded(client, people["counsellor"], referral) == [
        {
            "monthsAfterArrival": 3,
            "visitedOn": VISIT["visitedOn"],
            "employment": "IN_TRAINING",
            "housing": "TEMPORARY",
            "feelsSafe": "PARTLY",
            "note": VISIT["note"],
        }
    ]
    page = (await client.get(posted.headers["location"])).text
    assert "Follow-up recorded." in page
    shown = re.search(r'<li class="card followup">.*?</li>', page, re.S)
    assert shown is not None
    entry = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", shown.group(0)))
    assert "3 months after arrival" in entry
    assert (
        "visited on Apr 18, 2026, recorded by Organisation B" in entry
    )  # the day as English writes it
    for worded in ("in training", "Access to health care yes", "temporary", "Feels safe partly"):
        assert worded in entry
    assert "Schooling" not in entry  # not recorded, not shown
    assert "IN_TRAINING" not in entry
    # Only the 1-month visit is still due, and it is now the one chosen.
    form = _follow_up_form(page)
    assert form is not None
    assert '<option value="1" selected>1 month after arrival (due)</option>' in form
    assert '<option value="3">3 months after arrival</option>' in form


async def test_a_bad_follow_up_shows_the_field_errors_and_records_nothing(
    client: httpx.AsyncClient, people: dict[str, str], referral: str
) -> None:
    csrf = await _accepted(client, people, referral)
    url = f"/app/referrals/{referral}/follow-up"
    future = (TODAY.date() + timedelta(days=1)).isoformat()
    # The API's own field error, beside the field, with what was typed kept.
    refused = await client.post(url, data=VISIT | {"visitedOn": future, "csrf": csrf})
    assert refused.status_code == 422
    beside = re.search(r'id="fu-visitedOn-error">([^<]*)<', refused.text)
    assert beside is not None
    assert beside.group(1) == "cannot be in the future"
    assert f'value="{future}" required aria-invalid="true"' in refused.text
    assert '<option value="TEMPORARY" selected>temporary</option>' in refused.text
    assert VISIT["note"] in refused.text

    months = await client.post(url, data=VISIT | {"monthsAfterArrival": "75", "csrf": csrf})
    assert months.status_code == 422
    assert re.search(r'id="fu-monthsAfterArrival-error">[^<]*60', months.text)
    # What GraphQL could not even take is answered the same way.
    malformed = await client.post(
        url,
        data=VISIT
        | {
            "visitedOn": "2026-02-30",
            "housing": "PALACE",
            "monthsAfterArrival": "9" * 12,
            "csrf": csrf,
        },
    )
    assert malformed.status_code == 422
    assert 'id="fu-monthsAfterArrival-error">choose one of the listed values<' in malformed.text
    assert 'id="fu-visitedOn-error">a date is needed, as YYYY-MM-DD<' in malformed.text
    assert 'id="fu-housing-error">choose one of the listed values<' in malformed.text
    assert await _recorded(client, people["partner_b"], referral) == []


async def test_a_follow_up_without_the_csrf_value_is_refused(
    client: httpx.AsyncClient, people: dict[str, str], referral: str
) -> None:
    csrf = await _accepted(client, people, referral)
    url = f"/app/referrals/{referral}/follow-up"
    assert (await client.post(url, data=VISIT)).status_code == 403
    assert (await client.post(url, data=VISIT | {"csrf": "x" * 43})).status_code == 403
    foreign = await client.post(
        url, data=VISIT | {"csrf": csrf}, headers={"Origin": "https://elsewhere.example"}
    )
    assert foreign.status_code == 403
    assert await _recorded(client, people["partner_b"], referral) == []


async def test_a_break_glass_read_shows_on_the_referral_page(
    client: httpx.AsyncClient, people: dict[str, str], referral: str
) -> None:
    gql = GraphQLClient(client)
    issued = await gql(
        'mutation { issueToken(userId: "user-partner_b", days: 7) { '
        "... on IssuedToken { token apiToken { id } } } }",
        token=people["admin"],
    )
    glass = issued["data"]["issueToken"]
    await _signed_in(client, glass["token"])  # the page read itself leaves the notice
    assert "Access notices" in (await client.get(f"/app/referrals/{referral}")).text
    await _signed_in(client, people["partner_b"])
    page = (await client.get(f"/app/referrals/{referral}")).text
    assert "Access notices" in page
    assert f"token {glass['apiToken']['id']}" in page
    assert "user-admin" in page


async def test_the_organisation_page_says_who_may_use_a_restricted_service(
    client: httpx.AsyncClient, people: dict[str, str], graph: Graph
) -> None:
    # The eligibility rule (graph/eligibility.py) on the partner's own page.
    await directory.build(graph)
    await directory.add_services(
        graph,
        [
            ("svc-de", directory.service(organisation_id="org-a", sending_countries=["DE"])),
            ("svc-all", directory.service(organisation_id="org-a", name="Open counselling")),
        ],
    )
    await _signed_in(client, people["partner"])
    page = (await client.get("/app/organisation?lang=en")).text
    cards = dict(re.findall(r'<li class="card" id="service-([^"]+)">(.*?)</li>', page, re.S))
    assert "only for returnees from Germany" in cards["svc-de"]
    assert "only for returnees" not in cards["svc-all"]
