"""Headless Chromium: on a desk, a tablet and a phone, an advisor searches the list by plate, sees
which vehicle matched in the row, filters and sorts it, and the page never scrolls sideways."""

import pytest

from tests.browser import browser_page, log_in  # noqa: F401
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_WIDTH = "[document.scrollingElement.scrollWidth, window.innerWidth]"


@pytest.mark.parametrize("width", [1366, 768, 390])
def test_a_plate_search_shows_the_matching_vehicle_and_the_list_fits(browser_page, live_server, advisor_a,  # noqa: F811
                                                                     store_a, width):  # fmt: skip
    owner = CustomerFactory(store=store_a, customer_no="C001", name="欧阳建国")
    VehicleFactory(customer=owner, vin="LGBH52E0000000001", plate_no="苏A11111")
    VehicleFactory(customer=owner, vin="LGBH52E0000000002", plate_no="苏A22222")
    CustomerFactory(store=store_a, customer_no="C002", name="李娜")
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/customers/")
    page.fill("#customer-search", "苏A22222")
    page.select_option("#id_order", "name")
    page.click("form.search-form[role=search] button[type=submit]")
    row = page.wait_for_selector('tr[data-customer-no="C001"]')

    assert page.locator("tr[data-customer-no]").count() == 1
    matched = row.query_selector("[data-matched-vehicle]").inner_text().strip()
    assert matched == "匹配车辆：苏A22222 · VIN LGBH52E0000000002"
    assert page.evaluate(PAGE_WIDTH) == [width, width]
