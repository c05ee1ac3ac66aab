"""In headless Chromium, on a phone: a sales consultant records a showroom walk-in, finds them first
in their list and moves them to test drive done with the status buttons; the list, the form and the
prospect's page fit a phone (390 px), a tablet (768 px) and a laptop (1366 px) without horizontal
scrolling."""

import pytest
from django.urls import reverse

from customers.models import Prospect
from tests.browser import browser_page, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1366, 768, 390)


def assert_fits(page) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        try:
            page.wait_for_function("document.documentElement.scrollWidth <= window.innerWidth", timeout=3000)
        except PlaywrightTimeout:
            pytest.fail(f"{page.url} scrolls sideways at {width} px")


def test_a_consultant_moves_a_walk_in_to_test_drive_done_on_a_phone(
    browser_page,  # noqa: F811
    live_server,
    sales_a,
):
    page = browser_page
    log_in(page, live_server, "sales_a", "pw-for-tests-1")
    page.goto(live_server.url + reverse("customers:prospect_create"))
    assert_fits(page)  # ends at phone width: the rest happens on a phone
    page.fill("#id_name", "李娜")
    page.fill("#id_mobile", "139 0000 0001")
    page.fill("#id_intended_model", "天籁")
    page.select_option("#id_source", "showroom")
    assert page.locator("#id_consultant").input_value() == str(sales_a.pk)
    page.locator('[data-form="prospect"] button[type=submit]').click()
    page.wait_for_selector('[data-page="prospect"]')
    prospect = Prospect.objects.get()
    assert page.locator("[data-status]").first.inner_text() == "新线索"
    assert page.locator("[data-mobile]").inner_text() == "139****0001"

    page.goto(live_server.url + reverse("customers:prospect_list"))
    assert_fits(page)
    row = page.locator(f'tr[data-prospect="{prospect.pk}"]')
    assert row.get_attribute("data-mine") is not None
    row.locator("a").click()
    page.wait_for_selector('[data-page="prospect"]')
    for move, label in (("contacted", "已联系"), ("test_drive_booked", "已预约试驾"), ("test_drive_done", "已试驾")):
        page.locator(f'[data-move="{move}"]').click()
        page.wait_for_selector(f'h1 [data-status="{move}"]')
        assert page.locator("h1 [data-status]").inner_text() == label
    assert page.locator('[data-move="contacted"]').count() == 0  # only "mark lost" is left
    assert page.locator('[data-move="lost"]').count() == 1
    assert page.locator("[data-history]").count() == 4
    assert_fits(page)
    prospect.refresh_from_db()
    assert (prospect.status, prospect.history.count()) == ("test_drive_done", 4)
