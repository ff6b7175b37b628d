"""The notices page: the count in the navigation, the list in the page's language, and
marking one or all read."""

from __future__ import annotations

import re

import httpx

from tests.web.test_pages import _signed_in, b_service, referral  # noqa: F401 - fixtures


async def test_a_partner_sees_a_new_referral_counted_listed_and_marks_it_read(
    client: httpx.AsyncClient,
    b_service: dict[str, str],  # noqa: F811
    referral: str,  # noqa: F811
) -> None:
    csrf = await _signed_in(client, b_service["partner_b"])
    page = await client.get("/app/notifications?lang=de")
    assert page.status_code == 200
    assert '<span class="badge count">1 ungelesen</span>' in page.text
    item = re.search(
        rf'<a href="/app/referrals/{referral}">Neue Überweisung (HW-[^<]+)</a>', page.text
    )
    assert item is not None, page.text
    assert 'class="unread"' in page.text
    # The count follows the person to every page.
    assert "1 ungelesen" in (await client.get("/app/incoming")).text

    marked = await client.post("/app/notifications/read", data={"csrf": csrf})
    assert marked.status_code == 303
    after = (await client.get("/app/notifications")).text
    assert "ungelesen" not in after
    assert 'class="unread"' not in after
    assert item.group(1) in after  # still listed, as read

    # The sending organisation's counsellor did it and has nothing to read.
    await client.post("/app/sign-out", data={"csrf": csrf})
    await _signed_in(client, b_service["counsellor"])
    own = (await client.get("/app/notifications?lang=en")).text
    assert "No notices yet." in own
    assert 'class="badge count"' not in own
