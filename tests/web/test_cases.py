"""The case page: household, consent, documents, the case's referrals, "refer to another
service" pre-filled with the case, and "record a visit" with where the household is, over
in-process HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from tests.api.graphql.conftest import (
    START,
    Clock,
    GraphQLClient,
    clock,  # noqa: F401 (the fixture)
)
from tests.api.graphql.test_cases import (
    CASE,
    OPEN,
    _family_referred,
    world,  # noqa: F401 (the fixture)
)
from tests.web.test_pages import _signed_in


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def test_the_counsellor_sees_the_family_case_with_its_four_referrals(
    client: httpx.AsyncClient,
    world: dict[str, str],  # noqa: F811
) -> None:
    gql = GraphQLClient(client)
    case_id, referral_ids = await _family_referred(gql, world)
    await _signed_in(client, world["counsellor"])
    page = await client.get(f"/app/cases/{case_id}")
    assert page.status_code == 200
    text = _text(page.text)
    assert "M-2026-0042" in text
    assert "Preparing the return" in text
    for worded in ("Mother, adult: Trauma therapy", "Daughter, 6–14", "Identity documents"):
        assert worded in text
    assert "household, needs for APRK, Organisation B, org-c, KRCT" in text
    for referral in referral_ids:
        assert f'href="/app/referrals/{referral}"' in page.text
    refer = re.search(r'id="refer" href="([^"]+)"', page.text)
    assert refer is not None
    assert "case=HW-" in refer.group(1)
    assert "needs=psychosocial.trauma-therapy" in refer.group(1)
    # The referral page leads back to its case.
    referral_page = await client.get(f"/app/referrals/{referral_ids[0]}")
    assert f'href="/app/cases/{case_id}"' in referral_page.text


async def test_a_partner_records_a_visit_while_the_returnee_works_abroad(
    client: httpx.AsyncClient,
    world: dict[str, str],  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    gql = GraphQLClient(client)
    arrived = START.date() - timedelta(days=3)
    opened = await gql(
        OPEN,
        {
            "input": {
                "returnType": "FORCED",
                "destination": "XK-prizren",
                "actualArrival": arrived.isoformat(),
                "members": [{"role": "ADULT", "age": "ADULT"}],
            }
        },
        token=world["partner_b"],
    )
    case_id = opened["data"]["openReturnCase"]["returnCase"]["id"]
    clock.now = START + timedelta(days=35)
    csrf = await _signed_in(client, world["partner_b"])
    visit = {
        "csrf": csrf,
        "monthsAfterArrival": "1",
        "visitedOn": clock.now.date().isoformat(),
        "whereabouts": "TEMPORARILY_ABROAD",
        "employment": "EMPLOYED",
        "note": "Seasonal work abroad until October (illustrative)",
    }
    early = await client.post(
        f"/app/cases/{case_id}/visit",
        data=visit | {"visitedOn": (arrived - timedelta(days=1)).isoformat()},
    )
    assert early.status_code == 422
    assert "is before the arrival" in early.text
    seen = await gql(CASE, {"id": case_id}, token=world["partner_b"])
    assert seen["data"]["returnCase"]["followUps"] == []

    posted = await client.post(f"/app/cases/{case_id}/visit", data=visit)
    assert posted.status_code == 303
    page = _text((await client.get(posted.headers["location"])).text)
    assert "Saved." in page
    assert "Where the household is Temporarily abroad" in page
    assert "Visit (1 month after arrival): Temporarily abroad; Employment: employed" in page
