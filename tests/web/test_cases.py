"""The case page: household, consent, documents, the case's referrals, "refer to another
service" pre-filled with the case, "record a visit" with where the household is; and its
forms: opening and editing a case, phase and whereabouts, the one consent recorded, extended
and revoked; over in-process HTTP."""

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
    _open,
    _refer,
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


async def test_a_counsellor_opens_edits_and_moves_a_case_through_its_forms(
    client: httpx.AsyncClient,
    world: dict[str, str],  # noqa: F811
) -> None:
    gql = GraphQLClient(client)
    csrf = await _signed_in(client, world["counsellor"])
    form = await client.get("/app/cases/new")
    assert form.status_code == 200
    assert 'name="member_3_role"' in form.text
    opening = {
        "csrf": csrf,
        "return_type": "VOLUNTARY",
        "place": "Nowhere-upon-Sea",
        "file_number": "M-2026-0099",
        "planned_arrival": (START.date() + timedelta(days=20)).isoformat(),
        "member_rows": "3",
        "member_0_role": "MOTHER",
        "member_0_age": "ADULT",
        "member_0_needs": "psychosocial.trauma-therapy",
        "member_1_role": "SON",
        "member_1_age": "AGE_6_14",
        "member_2_role": "",
        "member_2_age": "",
        "languages": "sq, de",
        "document_IDENTITY": "REQUESTED",
        "note": "Prefers calls in the afternoon (illustrative)",
    }
    unknown = await client.post("/app/cases", data=opening)
    assert unknown.status_code == 422
    assert "No place of that name is known." in unknown.text
    assert 'value="M-2026-0099"' in unknown.text  # nothing typed is lost

    opened = await client.post("/app/cases", data=opening | {"place": "Prizren"})
    assert opened.status_code == 303, opened.text
    case_id = opened.headers["location"].split("/")[-1].split("?")[0]
    page = _text((await client.get(opened.headers["location"])).text)
    assert "M-2026-0099" in page
    assert "Mother, adult: Trauma therapy" in page
    case = (await gql(CASE, {"id": case_id}, token=world["counsellor"]))["data"]["returnCase"]
    assert (case["phase"], case["languages"]) == ("PREPARING", ["sq", "de"])
    assert case["documents"] == [{"document": "IDENTITY", "state": "REQUESTED"}]

    edit = await client.get(f"/app/cases/{case_id}/edit")
    assert edit.status_code == 200
    assert 'value="Prefers calls in the afternoon (illustrative)"' not in edit.text
    assert "Prefers calls in the afternoon (illustrative)</textarea>" in edit.text
    version = re.search(r'name="version" value="(\d+)"', edit.text)
    assert version is not None
    edited = opening | {
        "place": "Prizren",
        "version": version.group(1),
        "languages": "sq",
        "member_rows": "2",
    }
    saved = await client.post(f"/app/cases/{case_id}/edit", data=edited)
    assert saved.status_code == 303, saved.text
    stale = await client.post(f"/app/cases/{case_id}/edit", data=edited | {"languages": "de"})
    assert stale.status_code == 409
    case = (await gql(CASE, {"id": case_id}, token=world["counsellor"]))["data"]["returnCase"]
    assert case["languages"] == ["sq"]
    assert [m["role"] for m in case["members"]] == ["MOTHER", "SON"]

    # Phase and whereabouts with a note; a change that makes no sense says why.
    nonsense = await client.post(
        f"/app/cases/{case_id}/status",
        data={"csrf": csrf, "whereabouts": "RETURNED_AGAIN", "version": str(case["version"])},
    )
    assert nonsense.status_code == 422
    assert "cannot be returned_again after host_country" in nonsense.text
    arrived = await client.post(
        f"/app/cases/{case_id}/status",
        data={
            "csrf": csrf,
            "whereabouts": "IN_DESTINATION",
            "note": "Arrived at the airport (illustrative)",
            "version": str(case["version"]),
        },
    )
    assert arrived.status_code == 303, arrived.text
    page = _text((await client.get(arrived.headers["location"])).text)
    assert "Arrived at the airport (illustrative)" in page
    case = (await gql(CASE, {"id": case_id}, token=world["counsellor"]))["data"]["returnCase"]
    assert (case["phase"], case["whereabouts"]) == ("ARRIVED", "IN_DESTINATION")

    # Without a session's form value nothing is written.
    forged = await client.post(
        f"/app/cases/{case_id}/status", data={"csrf": "forged", "phase": "CLOSED"}
    )
    assert forged.status_code == 403


async def test_the_one_consent_is_recorded_extended_and_revoked_on_the_case_page(
    client: httpx.AsyncClient,
    world: dict[str, str],  # noqa: F811
) -> None:
    gql = GraphQLClient(client)
    counsellor = world["counsellor"]
    case = await _open(gql, counsellor)
    await _refer(gql, counsellor, case["id"], "svc-b", ["psychosocial.trauma-therapy"])
    await _refer(gql, counsellor, case["id"], "svc-krct", ["psychosocial.trauma-therapy"])
    csrf = await _signed_in(client, counsellor)
    page = await client.get(f"/app/cases/{case['id']}")
    assert 'id="consent-grant"' in page.text
    form = {
        "csrf": csrf,
        "action": "grant",
        "recipients": ["org-b"],
        "categories": ["NEEDS", "HOUSEHOLD"],
        "purpose": "reintegration support",
        "evidence": "signed form 12 (illustrative)",
        "expires": (START.date() + timedelta(days=365)).isoformat(),
    }
    missing = await client.post(f"/app/cases/{case['id']}/consent", data=form | {"evidence": ""})
    assert missing.status_code == 422
    assert "evidenceReference" in missing.text
    granted = await client.post(f"/app/cases/{case['id']}/consent", data=form)
    assert granted.status_code == 303, granted.text

    page = await client.get(granted.headers["location"])
    consent = re.search(r'name="consent" value="([^"]+)"', page.text)
    assert consent is not None
    assert 'id="x-org-krct"' in page.text
    assert 'id="x-org-b"' not in page.text
    extended = await client.post(
        f"/app/cases/{case['id']}/consent",
        data={
            "csrf": csrf,
            "action": "extend",
            "consent": consent.group(1),
            "recipients": ["org-krct"],
        },
    )
    assert extended.status_code == 303, extended.text
    seen = (await gql(CASE, {"id": case["id"]}, token=counsellor))["data"]["returnCase"]
    assert [[o["id"] for o in k["recipients"]] for k in seen["consents"]] == [["org-b", "org-krct"]]
    text = _text((await client.get(extended.headers["location"])).text)
    assert "household, needs for Organisation B, KRCT" in text

    revoked = await client.post(
        f"/app/cases/{case['id']}/consent",
        data={"csrf": csrf, "action": "revoke", "consent": consent.group(1)},
    )
    assert revoked.status_code == 303
    seen = (await gql(CASE, {"id": case["id"]}, token=counsellor))["data"]["returnCase"]
    assert [k["valid"] for k in seen["consents"]] == [False]
    # The receiving partner reads the case but records no consent for it.
    await _signed_in(client, world["partner_krct"])
    assert 'id="consent-grant"' not in (await client.get(f"/app/cases/{case['id']}")).text


async def test_a_referral_from_the_case_takes_its_household_without_retyping(
    client: httpx.AsyncClient,
    world: dict[str, str],  # noqa: F811
) -> None:
    gql = GraphQLClient(client)
    counsellor = world["counsellor"]
    case = await _open(gql, counsellor)
    csrf = await _signed_in(client, counsellor)
    form = await client.get(
        "/app/referrals/new",
        params={
            "service": "svc-aprk",
            "destination": "XK-prizren",
            "needs": "employment",
            "case": case["reference"],
        },
    )
    assert form.status_code == 200
    assert 'id="household-from-case"' in form.text
    assert re.search(r'id="adults" name="adults" [^>]*value=""', form.text)
    created = await client.post(
        "/app/referrals",
        data={
            "csrf": csrf,
            "service": "svc-aprk",
            "destination": "XK-prizren",
            "needs": "employment",
            "return_type": "VOLUNTARY",
            "adults": "",
            "languages": "",
            "case_reference": case["reference"],
        },
    )
    assert created.status_code == 303, created.text
    seen = (await gql(CASE, {"id": case["id"]}, token=counsellor))["data"]["returnCase"]
    (referral,) = seen["referrals"]
    read = await gql(
        "query($id: ID!) { referral(id: $id) { household { adults children } languages "
        "plannedArrival } }",
        {"id": referral["id"]},
        token=counsellor,
    )
    assert read["data"]["referral"] == {
        "household": {"adults": 2, "children": ["AGE_6_14", "AGE_15_17"]},
        "languages": ["sq", "de"],
        "plannedArrival": case["plannedArrival"],
    }
