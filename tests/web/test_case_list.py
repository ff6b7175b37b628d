"""The list of return cases: each organisation sees the cases it owns or receives referrals
of and no other, filtered as `returnCases` filters; coordinators get no list (their view of
cases is the aggregates); over in-process HTTP."""

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
    OPEN,
    _family_referred,
    _open,
    world,  # noqa: F401 (the fixture)
)
from tests.web.test_pages import _signed_in


def _listed(html: str) -> list[str]:
    """Ids of the cases in the list, in its order."""
    return re.findall(r'<td><a href="/app/cases/([^"/]+)">', html)


def _row(html: str, case_id: str) -> str:
    found = re.search(rf'<tr[^>]*>\s*<td><a href="/app/cases/{case_id}">.*?</tr>', html, re.S)
    assert found is not None, case_id
    return found.group(0)


async def test_each_organisation_lists_its_own_cases_and_filters_them(
    client: httpx.AsyncClient,
    world: dict[str, str],  # noqa: F811
    clock: Clock,  # noqa: F811
) -> None:
    gql = GraphQLClient(client)
    family, _ = await _family_referred(gql, world)
    other = (await _open(gql, world["counsellor"], fileNumber="M-2026-0043"))["id"]
    walk_in = await gql(
        OPEN,
        {
            "input": {
                "returnType": "FORCED",
                "destination": "XK-prizren",
                "actualArrival": (START.date() - timedelta(days=3)).isoformat(),
                "members": [{"role": "ADULT", "age": "ADULT"}],
            }
        },
        token=world["partner_d"],
    )
    walked_in = walk_in["data"]["openReturnCase"]["returnCase"]["id"]

    await _signed_in(client, world["counsellor"])
    page = await client.get("/app/cases")
    assert page.status_code == 200
    assert 'href="/app/cases"' in page.text  # in the navigation
    assert 'id="new-case" href="/app/cases/new"' in page.text
    # Both cases, not organisation D's walk-in (opened at the same test-clock time: any order).
    assert sorted(_listed(page.text)) == sorted([other, family])
    row = _row(page.text, family)
    assert "M-2026-0042" in row
    assert "Preparing the return" in row
    assert "Prizren" in row
    assert (START.date() + timedelta(days=14)).isoformat() in row
    assert '<td class="num">4' in row  # the four referrals sent and not yet answered

    by_file = await client.get("/app/cases", params={"file": "M-2026-0043"})
    assert _listed(by_file.text) == [other]
    assert 'value="M-2026-0043"' in by_file.text
    arrived = await client.get("/app/cases", params={"phase": "ARRIVED"})
    assert _listed(arrived.text) == []
    assert "No case matches these filters." in arrived.text
    preparing = await client.get("/app/cases", params={"phase": "PREPARING", "after": "bogus"})
    assert sorted(_listed(preparing.text)) == sorted([other, family])

    # A receiving partner sees the case of its referral, without the sender's file number.
    await _signed_in(client, world["partner_b"])
    received = await client.get("/app/cases")
    assert _listed(received.text) == [family]
    assert "M-2026-0042" not in received.text

    # The walk-in's one-month visit falls due after a month.
    await _signed_in(client, world["partner_d"])
    assert _listed((await client.get("/app/cases")).text) == [walked_in]
    assert _listed((await client.get("/app/cases", params={"due": "1"})).text) == []
    clock.now = START + timedelta(days=35)
    due = await client.get("/app/cases", params={"due": "1"})
    assert _listed(due.text) == [walked_in]
    assert "Follow-up due (months after arrival): 1" in due.text


async def test_a_coordinator_gets_no_case_list(
    client: httpx.AsyncClient,
    world: dict[str, str],  # noqa: F811
) -> None:
    gql = GraphQLClient(client)
    await _open(gql, world["counsellor"])
    await _signed_in(client, world["coordinator"])
    assert (await client.get("/app/cases")).status_code == 403
    gaps = await client.get("/app/gaps")
    assert gaps.status_code == 200
    assert 'href="/app/cases"' not in gaps.text
