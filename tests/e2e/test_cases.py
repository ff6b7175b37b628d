"""The return case in the browser: a referral made on the form belongs to a case; the case
page shows the household and the referral, and "refer to another service" leads through the
search to a referral form that joins the same case."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import audit, screenshot, sign_in

pytestmark = pytest.mark.e2e


def test_counsellor_refers_a_second_time_from_the_case_page(page: Page) -> None:
    sign_in(page, "counsellor")
    page.goto("/app/search?needs=psychosocial.trauma-therapy&place=Prizren&languages=sq")
    results = page.locator("#results")
    expect(results.locator("li.result").first).to_be_visible()
    audit(page)
    results.locator("li.result").first.get_by_role(
        "link", name=re.compile("Refer to this service")
    ).click()
    expect(page.get_by_role("heading", name="New referral")).to_be_visible()
    audit(page)
    page.get_by_label("Adults in the household").fill("2")
    page.get_by_label("6–14").fill("1")
    page.get_by_role("button", name="Save as draft").click()
    expect(page.locator("#status")).to_have_text("draft")
    audit(page)

    page.locator("#case-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Return case HW-")
    reference = page.get_by_role("heading", level=1).inner_text().removeprefix("Return case ")
    expect(page.locator("#members")).to_contain_text("Adult, adult")
    expect(page.locator("#members")).to_contain_text("Child, 6–14")
    expect(page.locator("#phase")).to_have_text("Preparing the return")
    expect(page.locator("#case-referrals li")).to_have_count(1)
    screenshot(page, "counsellor-case")

    page.locator("#refer").click()
    expect(page.get_by_label("Place of return")).to_have_value("Prizren")
    expect(page.locator("#results li.result").first).to_be_visible()
    page.locator("#results li.result").first.get_by_role(
        "link", name=re.compile("Refer to this service")
    ).click()
    case_field = page.get_by_label(re.compile("Existing case"))
    expect(case_field).to_have_value(reference)
    page.get_by_role("button", name="Save as draft").click()
    expect(page.locator("#case-link")).to_have_text(reference)
    page.locator("#case-link").click()
    expect(page.locator("#case-referrals li")).to_have_count(2)
