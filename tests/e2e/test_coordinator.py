"""The coordinator's journey in the browser: the gap map and table of Kosovo for trauma
therapy, overlaps, the 3W download, and a duplicate decided from its evidence."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import audit, screenshot, shown_message_keys, sign_in

pytestmark = pytest.mark.e2e


def test_coordinator_sees_gaps_downloads_3w_and_reviews_duplicates(page: Page) -> None:
    sign_in(page, "coordinator")
    expect(page).to_have_url(re.compile(r"/app/gaps$"))
    page.get_by_label("Country", exact=True).select_option("XK")
    page.get_by_label("Need", exact=True).select_option("psychosocial.trauma-therapy")
    page.get_by_role("button", name="Show").click()

    expect(page.get_by_role("heading", level=2).first).to_contain_text("Trauma therapy")
    rows = page.locator("#gaps tbody tr")
    expect(rows.filter(has_text="Prizren")).to_have_count(1)
    # The picture is the export, fetched with the session cookie: it must really load.
    picture = page.locator("#gap-map")
    picture.scroll_into_view_if_needed()
    expect(picture).to_have_js_property("complete", True)
    assert picture.evaluate("img => img.naturalWidth") > 100
    expect(page.locator("#overlaps, #overlaps-title")).not_to_have_count(0)
    # The interactive map: Leaflet draws the 38 municipalities from the gap GeoJSON, and a
    # click on one opens its row of the table.
    shapes = page.locator("#gaps-live-map path.leaflet-interactive")
    expect(shapes).to_have_count(38)
    page.locator("#gaps-live-map").evaluate("map => map.scrollIntoView({block: 'center'})")
    screenshot(page, "coordinator-gaps")
    page.locator('#gaps-live-map path[data-area="XK-ferizaj"]').dispatch_event("click")
    expect(page).to_have_url(re.compile(r"#area-XK-ferizaj$"))

    with page.expect_download() as download_info:
        page.locator("#three-w").click()
    download = download_info.value
    assert download.suggested_filename == "3w-XK.csv"
    lines = download.path().read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].startswith("#org+impl+name,")
    assert any("KRCT" in line for line in lines[2:])

    page.get_by_role("link", name="Duplicate review").click()
    pairs = page.locator("li.pair")
    expect(pairs.first).to_be_visible()
    before = pairs.count()
    expect(pairs.first.locator("table")).not_to_be_empty()
    screenshot(page, "coordinator-duplicates")
    pairs.first.get_by_label("Note (why you decide so)").fill("Two branches, two teams")
    pairs.first.get_by_role("button", name=re.compile("^Different")).click()
    expect(page.get_by_role("heading", name="Confirm the decision")).to_be_visible()
    audit(page)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_have_text("Decision recorded.")
    expect(page.locator("li.pair")).to_have_count(before - 1)
    page.locator("li.pair-decided").first.get_by_role("button", name=re.compile("^Undo")).click()
    expect(page.get_by_role("status")).to_have_text("Decision undone; the pair is open again.")
    expect(page.locator("li.pair")).to_have_count(before)


CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def test_coordinator_works_in_serbian_cyrillic(page: Page) -> None:
    """The coordinator at the returns ministry switches the pages to Serbian in Cyrillic
    script: every page of the journey speaks it, and no message key shows through."""
    sign_in(page, "coordinator")
    expect(page).to_have_url(re.compile(r"/app/gaps"))
    page.locator("nav.langs a[lang='sr-Cyrl']").click()
    expect(page.locator("html")).to_have_attribute("lang", "sr-Cyrl")
    expect(page.get_by_role("heading", level=1)).to_have_text(CYRILLIC)
    page.locator("#country").select_option("XK")
    page.locator("#need").select_option("psychosocial.trauma-therapy")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("#gaps tbody tr").filter(has_text="Призрен")).to_have_count(1)
    expect(page.locator("#gaps-live-map path.leaflet-interactive")).to_have_count(38)
    for heading in page.get_by_role("heading").all():
        assert CYRILLIC.search(heading.inner_text()), heading.inner_text()
    assert shown_message_keys(page) == set()
    page.locator("#gaps-live-map").evaluate("map => map.scrollIntoView({block: 'center'})")
    screenshot(page, "coordinator-gaps-sr-Cyrl")

    for link in ("/app/duplicates", "/app/notifications"):
        page.locator(f"nav a[href='{link}']").first.click()
        expect(page.locator("html")).to_have_attribute("lang", "sr-Cyrl")
        expect(page.get_by_role("heading", level=1)).to_have_text(CYRILLIC)
        assert shown_message_keys(page) == set(), link
        audit(page)
