"""Headless Chromium: a sales consultant's home lists their prospect needing action and opens it; a
manager reads prospects won and lost; at 390 px nothing scrolls sideways."""

import pytest

from customers.models import Prospect
from tests.browser import browser_page, fits_without_sideways_scroll, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_sales_consultants_home_lists_their_prospect(browser_page, live_server, sales_a, store_a, tmp_path):  # noqa: F811
    prospect = Prospect.objects.create(
        store=store_a, name="陈晓", mobile="13912345678", source="showroom", consultant=sales_a, status="contacted",
        intended_model="天籁 2.0T",
    )  # fmt: skip
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "sales_a", "pw-for-tests-1")

    panel = page.locator('[data-panel="my-prospects"]')
    assert panel.locator("li[data-panel-row] a").inner_text() == "陈晓"
    assert "已联系 · 天籁 2.0T" in panel.locator("li[data-panel-row]").inner_text()
    assert page.locator('[data-link="record-delivery"]').is_visible()
    assert fits_without_sideways_scroll(page)
    page.screenshot(path=str(tmp_path / "sales_home_390.png"), full_page=True)

    panel.locator("li[data-panel-row] a").click()
    page.wait_for_url(f"**/customers/prospects/{prospect.pk}/")


def test_a_manager_reads_prospects_won_and_lost_on_a_phone(browser_page, live_server, manager_a, store_a, tmp_path):  # noqa: F811
    Prospect.objects.create(store=store_a, name="陈晓", mobile="13912345678", source="online", status="lost",
                            lost_reason="price")  # fmt: skip
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/customers/prospects/report/")

    row = page.locator('table[data-table="by-source"] tr[data-key="online"]')
    assert row.locator('[data-cell="lost-price"]').inner_text() == "1"
    assert row.locator('[data-cell="conversion"]').inner_text() == "0.0%"
    for width in (390, 768, 1366):
        page.set_viewport_size({"width": width, "height": 844})
        # The charts follow the new width a frame later (Chart.js watches its box): wait for it.
        assert fits_without_sideways_scroll(page), width
        page.screenshot(path=str(tmp_path / f"prospect_report_{width}.png"), full_page=True)
