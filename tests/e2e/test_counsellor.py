"""The counsellor's journey in the browser: sign in, search partners for a family returning
to Prizren (typed in Cyrillic), refer them to the trauma centre with the consent step, send,
and find the referral in "my referrals"."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import (
    EMAILS,
    PASSWORDS,
    LiveServer,
    audit,
    new_context,
    screenshot,
    shown_message_keys,
    sign_in,
    sign_in_by_token,
    sign_in_with_token,
    unaudited,
    watched,
)
from tests.smtp import Arrived, MailServer

pytestmark = pytest.mark.e2e


def _mail_about(mail: MailServer, address: str, reference: str) -> Arrived:
    """The first mail to `address` naming `reference`, waiting for the outbox's next round
    (bounded: a minute at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for arrived in mail.to(address):
            if reference in arrived.body:
                return arrived
        time.sleep(0.25)
    raise AssertionError(f"no mail to {address} about {reference}")


def test_counsellor_searches_refers_with_consent_and_follows_the_referral(
    page: Page, browser: Browser, live_server: LiveServer, mail: MailServer
) -> None:
    sign_in(page, "counsellor")
    expect(page).to_have_url(re.compile(r"/app/search$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.locator("input[name=needs][value='psychosocial.trauma-therapy']").check()
    place = page.get_by_label("Place of return")
    place.fill("Призр")
    # The suggestions come from the places endpoint as the person types.
    expect(page.locator("#place-suggestions option[value='Prizren']")).to_have_count(1)
    place.fill("Призрен")
    page.get_by_label("Sending country").select_option("DE")
    for language in ("sq", "de"):
        page.locator(f"input[name=languages][value={language}]").check()
    page.get_by_role("button", name="Search").click()

    results = page.locator("#results")
    expect(results.locator("#results-title")).to_contain_text("near Prizren")
    # The results on a map, each at its site nearest Prizren.
    expect(page.locator("#results-map path.map-point").first).to_be_visible()
    krct = results.locator("li.result").filter(has_text="KRCT").first
    expect(krct).to_contain_text("Prizren")  # a reason names the place
    expect(krct.locator("dd").nth(1)).to_contain_text("km")
    expect(krct).to_contain_text("Answers referrals")
    results.locator("#results-title").scroll_into_view_if_needed()
    screenshot(page, "counsellor-search-results")

    # The result opens the service's page: who offers it, where, how to reach them.
    service_name = krct.get_by_role("heading", level=3).inner_text()
    krct.get_by_role("heading", level=3).get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(service_name)
    expect(page.locator("p.org")).to_contain_text("KRCT")
    expect(page.locator("#sites-title")).to_be_visible()
    # The map of the service's sites, drawn from the project's own Leaflet.
    expect(page.locator("#service-map path.map-point").first).to_be_visible()
    screenshot(page, "counsellor-service")
    page.go_back()

    krct.get_by_role("link", name=re.compile("Refer to this service")).click()
    expect(page.get_by_role("heading", name="New referral")).to_be_visible()
    audit(page)
    page.get_by_label("Adults in the household").fill("2")
    page.get_by_label("6–14").fill("1")
    page.get_by_label("Health information").fill("Father: PTSD diagnosis (illustrative)")
    page.get_by_role("button", name="Save as draft").click()

    expect(page.locator("#status")).to_have_text("draft")
    # Sending before consent is refused by the API with its typed error, shown on the page.
    page.get_by_role("button", name="Send referral").click()
    expect(page.locator("#form-error")).to_contain_text("consent")
    expect(page.locator("#status")).to_have_text("draft")
    audit(page)

    page.get_by_label("Evidence (e.g. signed form number)").fill("form M-E2E-1 (illustrative)")
    expect(page.get_by_label("health")).to_be_checked()
    page.get_by_role("button", name="Record consent").click()
    expect(page.locator("#consent-given")).to_contain_text("health")
    page.get_by_role("button", name="Send referral").click()
    expect(page.locator("#status")).to_have_text("sent")
    expect(page.get_by_text("Father: PTSD diagnosis (illustrative)")).to_be_visible()
    screenshot(page, "counsellor-referral")
    reference = page.get_by_role("heading", level=1).inner_text().removeprefix("Referral ")
    referral_url = page.url

    # Printed, the referral is its facts alone: no navigation, no forms.
    expect(page.locator("main form").first).to_be_visible()
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("main form").first).to_be_hidden()
    expect(page.get_by_role("heading", level=1)).to_contain_text(reference)
    expect(page.get_by_text("Father: PTSD diagnosis (illustrative)")).to_be_visible()
    page.emulate_media(media="screen")

    # The partner at KRCT is told by mail: the reference and a link, nothing of the family.
    notice = _mail_about(mail, EMAILS["partner"], reference)
    assert "PTSD" not in notice.body
    found = re.search(r"http://127\.0\.0\.1:\d+(/app/referrals/\S+)", notice.body)
    assert found is not None, notice.body
    assert referral_url.split("?")[0].endswith(found.group(1))
    # The link opens the referral for the partner once they have signed in.
    partner_context = new_context(browser, live_server)
    try:
        partner = watched(partner_context.new_page())
        partner.goto(found.group(1))
        partner.get_by_label("E-mail address").fill(EMAILS["partner"])
        partner.get_by_label("Password").fill(PASSWORDS["partner"])
        partner.get_by_role("button", name="Sign in", exact=True).click()
        expect(partner.get_by_role("heading", level=1)).to_contain_text(reference)
        expect(partner.locator("#status")).to_have_text("sent")
        audit(partner)
    finally:
        partner_context.close()

    page.get_by_role("link", name="My referrals").click()
    rows = page.locator("#referrals tbody tr")
    expect(rows.filter(has_text=reference)).to_have_count(1)
    # Overdue referrals come first.
    overdue = [row.get_attribute("class") == "overdue" for row in rows.all()]
    assert overdue == sorted(overdue, reverse=True)
    screenshot(page, "counsellor-my-referrals", full_page=True)


def test_pages_follow_the_access_rules_and_language_switch(page: Page) -> None:
    page.goto("/app/referrals")
    expect(page).to_have_url(re.compile(r"/app/sign-in\?next="))
    sign_in_with_token(page, "hwt_nothing_wrong")
    expect(page.locator("#signin-error")).to_contain_text("unknown token")
    audit(page)

    # The token form, kept for accounts without a password.
    sign_in_by_token(page, "counsellor")
    expect(page).to_have_url(re.compile(r"/app/search$"))
    for refused in ("/app/gaps", "/app/organisation", "/app/duplicates"):
        response = page.goto(refused)
        assert response is not None
        assert response.status == 403, refused
        audit(page)

    page.goto("/app/search?lang=sq")
    expect(page.locator("html")).to_have_attribute("lang", "sq")
    expect(page.get_by_role("heading", level=1)).to_have_text("Gjej partnerë")
    # Need names come from the directory's own multilingual labels.
    expect(page.locator("label[for='needs-psychosocial.trauma-therapy']")).not_to_have_text(
        "Trauma therapy"
    )
    expect(page.locator("label[for='needs-psychosocial.trauma-therapy']")).not_to_be_empty()
    audit(page)
    page.goto("/app/referrals")
    expect(page.locator("html")).to_have_attribute("lang", "sq")  # kept in a cookie
    audit(page)
    page.goto("/app/search?lang=sr")
    expect(page.locator("html")).to_have_attribute("lang", "sr-Latn")
    page.get_by_role("button", name="Odjava").click()
    expect(page).to_have_url(re.compile(r"/app/sign-in"))
    page.goto("/app/referrals")
    expect(page).to_have_url(re.compile(r"/app/sign-in\?next="))


def test_counsellor_on_a_phone_searches_and_opens_the_referral_form(
    browser: Browser, live_server: LiveServer
) -> None:
    """The same journey on a phone-sized screen, in English: nothing wider than the screen,
    the form reachable without zooming."""
    context = new_context(
        browser,
        live_server,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    try:
        page = watched(context.new_page())
        sign_in(page, "counsellor")
        expect(page).to_have_url(re.compile(r"/app/search$"))
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.locator("input[name=needs][value='psychosocial.trauma-therapy']").check()
        page.get_by_label("Place of return").fill("Prizren")
        page.get_by_role("button", name="Search").click()
        results = page.locator("#results li.result")
        expect(results.first).to_be_visible()
        assert _fits_the_screen(page)
        screenshot(page, "counsellor-phone-search", full_page=False)

        results.first.get_by_role("link", name=re.compile("Refer to this service")).click()
        expect(page.get_by_role("heading", name="New referral")).to_be_visible()
        assert _fits_the_screen(page)
        audit(page)
        adults = page.get_by_label("Adults in the household")
        adults.scroll_into_view_if_needed()
        adults.tap()
        adults.fill("1")
        page.get_by_role("button", name="Save as draft").tap()
        expect(page.locator("#status")).to_have_text("draft")
        assert _fits_the_screen(page)
        assert shown_message_keys(page) == set()
        screenshot(page, "counsellor-phone-referral", full_page=False)
        assert unaudited(page) == set()
    finally:
        context.close()


def _fits_the_screen(page: Page) -> bool:
    width: int = page.evaluate("() => document.documentElement.scrollWidth")
    return width <= page.viewport_size["width"] if page.viewport_size else False
