"""Headless Chromium: a manager opens the retention dashboard, sees last month's movement and
follows the "won back" figure to the customers behind it, at desktop and phone widths."""

import pytest
from django.utils import timezone

from crm.calendar import add_months
from customers.states import customer_states_refresh
from tests.browser import browser_page, log_in  # noqa: F401
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_follows_won_back_to_the_customers_behind_it(browser_page, live_server, manager_a, store_a):  # noqa: F811
    last_month = add_months(timezone.localdate().replace(day=1), -1)
    back = CustomerFactory(store=store_a, customer_no="RB0001", name="李娜")
    car = VehicleFactory(customer=back, delivery_date=add_months(last_month, -30))
    RepairOrderFactory(vehicle=car, settle_date=last_month.replace(day=5))  # lost, then back last month
    stayed = CustomerFactory(store=store_a, customer_no="RB0002", name="王芳")
    VehicleFactory(customer=stayed, delivery_date=add_months(last_month, -30))  # lost and still lost
    customer_states_refresh(today=timezone.localdate())
    page = browser_page
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/customers/retention/")
    page.wait_for_selector(f'h2[data-movement-month="{last_month:%Y-%m}"]')
    assert page.text_content('[data-figure="won_back"]') == "1"
    assert page.text_content('[data-figure="win_back_rate"]') == "50.0%"
    assert page.text_content('tr[data-previous="lost"] td[data-cell="lost"]') == "1"
    page.wait_for_function("document.querySelector('#active-chart').width > 0")
    for width in (1366, 768, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(300)  # Chart.js resizes its canvas on the next frames
        assert page.evaluate("document.documentElement.scrollWidth") <= width

    page.click('a[data-link="won-back"]')
    page.wait_for_selector('h1[data-page="retention-customers"]')
    assert page.locator("tr[data-customer-no]").count() == 1
    assert page.get_attribute("tr[data-customer-no]", "data-customer-no") == "RB0001"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click('tr[data-customer-no="RB0001"] a')
    page.wait_for_selector(f'header[data-customer="{back.pk}"]')
