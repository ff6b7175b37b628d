"""The partner's journey in the browser: KRCT's services, "still correct" in one click, a new
service added and then edited, and incoming referrals acknowledged, accepted, started, visited
after arrival (a follow-up), carried through to an outcome, or declined with a reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import audit, screenshot, sign_in

pytestmark = pytest.mark.e2e

NEW_SERVICE = "Home visits for returnee families (illustrative)"


def test_partner_keeps_services_current_and_answers_referrals(page: Page) -> None:
    sign_in(page, "partner")
    expect(page).to_have_url(re.compile(r"/app/organisation$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("KRCT")
    first = page.locator("ul.services > li").first
    first.get_by_role("button", name=re.compile("Still correct")).click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.locator("ul.services > li").first).to_contain_text("recently verified")
    screenshot(page, "partner-organisation")

    page.get_by_role("link", name="Add a service").click()
    expect(page.get_by_label("Name", exact=True)).to_be_visible()
    audit(page)
    page.get_by_label("Name", exact=True).fill(NEW_SERVICE)
    page.locator("input[name=needs][value='psychosocial.counselling']").check()
    page.locator("input[name=covers][value='XK-prizren']").check()
    for language in ("sq", "sr"):
        page.locator(f"input[name=languages][value={language}]").check()
    page.get_by_label("Eligibility").fill("Families who returned within the last year")
    page.get_by_label("Capacity", exact=True).select_option("LIMITED")
    page.get_by_role("button", name="Save service").click()
    added = page.locator("ul.services > li").filter(has_text=NEW_SERVICE)
    expect(added).to_contain_text("Prizren")
    expect(added.locator(".capacity-now")).to_contain_text("limited")

    added.get_by_role("link", name=re.compile("Edit")).click()
    expect(page.get_by_label("Eligibility")).to_have_value(
        "Families who returned within the last year"
    )
    page.get_by_label("Capacity", exact=True).select_option("FULL")
    screenshot(page, "partner-service-form")
    page.get_by_role("button", name="Save service").click()
    expect(
        page.locator("ul.services > li").filter(has_text=NEW_SERVICE).locator(".capacity-now")
    ).to_contain_text("full")

    # A service name the API refuses comes back as the typed error beside the form.
    page.locator("ul.services > li").filter(has_text=NEW_SERVICE).get_by_role(
        "link", name=re.compile("Edit")
    ).click()
    checked = page.locator("input[name=needs]:checked")
    for _ in range(checked.count()):
        checked.first.uncheck()
    page.get_by_role("button", name="Save service").click()
    expect(page.locator("#needs-error")).to_be_visible()
    audit(page)

    page.get_by_role("link", name="Incoming referrals").click()
    rows = page.locator("#referrals tbody tr")
    expect(rows.first).to_be_visible()
    overdue = [row.get_attribute("class") == "overdue" for row in rows.all()]
    assert overdue == sorted(overdue, reverse=True)
    screenshot(page, "partner-incoming")

    rows.filter(has_text="sent").first.get_by_role("link").click()
    for step, status in (
        ("Acknowledge", "acknowledged"),
        ("Accept", "accepted"),
        ("Start work", "in progress"),
    ):
        page.get_by_role("button", name=step).click()
        expect(page.locator("#status")).to_have_text(status)
    # Work has started: the monitoring visit after arrival is recorded on the same page.
    form = page.locator("#followup-form")
    months = form.get_by_label("Months after arrival")
    expect(months.locator("option:checked")).to_contain_text("month")
    months.select_option("1")
    expect(form.get_by_label("Date of the visit")).to_have_value(
        datetime.now(UTC).date().isoformat()
    )
    form.get_by_label("Employment").select_option(label="in training")
    form.get_by_label("Housing").select_option(label="temporary")
    form.get_by_label("Feels safe").select_option(label="partly")
    form.get_by_label("Intends to leave again").select_option(label="no")
    # This seeded referral came without consent to share notes: the page says where the
    # note goes, and it is not shown back to the receiver.
    expect(form.locator("#fu-note-hint")).to_contain_text("No consent covers notes")
    form.get_by_label("Note").fill("Met the family at home (illustrative)")
    form.get_by_role("button", name="Record follow-up").click()
    expect(page.get_by_role("status")).to_have_text("Follow-up recorded.")
    visit = page.locator("#follow-ups li.followup")
    expect(visit).to_have_count(1)
    expect(visit).to_contain_text("1 month after arrival")
    expect(visit).to_contain_text("in training")
    expect(visit).to_contain_text("Intends to leave again")
    expect(visit).not_to_contain_text("Met the family at home")
    screenshot(page, "partner-follow-up")

    page.get_by_label("Outcome").select_option("GOT_HELP")
    page.get_by_role("button", name="Complete").click()
    expect(page.locator("#status")).to_have_text("completed")
    expect(page.locator(".facts").first).to_contain_text("got help")
    # Completed, the form stays: visits go on after the service's own work is done.
    expect(page.locator("#followup-form")).to_be_visible()
    screenshot(page, "partner-referral")

    page.get_by_role("link", name="Incoming referrals").click()
    page.locator("#referrals tbody tr").filter(has_text="acknowledged").first.get_by_role(
        "link"
    ).click()
    page.get_by_label("Reason").select_option("NO_CAPACITY")
    page.get_by_role("button", name="Decline").click()
    expect(page.locator("#status")).to_have_text("declined")
    expect(page.locator(".facts")).to_contain_text("no capacity")
