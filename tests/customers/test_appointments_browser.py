"""Headless Chromium: an advisor opens the arrivals board, sees the VIP first in its slot and checks
a customer in with one tap (no page reload), at 768 and 390 px wide without horizontal scroll."""

import datetime

import pytest
import time_machine

from customers.models import Appointment
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.customers.appointment_helpers import NOW, TODAY, book

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_an_advisor_checks_a_customer_in_on_the_arrivals_board(browser_page, live_server, advisor_a, store_a):  # noqa: F811
    with time_machine.travel(NOW, tick=True):
        regular = book(advisor_a, store_a, day=TODAY, name="李雷", advisor=advisor_a)
        vip = book(advisor_a, store_a, day=TODAY, vip=True, name="韩梅梅")
        book(advisor_a, store_a, day=TODAY, slot=datetime.time(10), name="王芳")
        page = browser_page
        page.set_viewport_size({"width": 768, "height": 1000})
        log_in(page, live_server, "advisor_a", "pw-for-tests-1")
        page.goto(f"{live_server.url}/customers/arrivals/")

        rows = page.locator("table[data-table=arrivals] tbody tr")
        assert rows.count() == 3
        assert rows.nth(0).get_attribute("data-appointment") == str(vip.pk)
        assert rows.nth(0).locator(".badge.vip").count() == 1
        assert rows.nth(1).get_attribute("data-appointment") == str(regular.pk)
        assert page.evaluate(NO_HORIZONTAL_SCROLL)

        page.evaluate("window.notReloaded = true")
        rows.nth(1).locator("form[data-form=check-in] button").click()
        page.wait_for_selector(f'#arrival-{regular.pk}[data-status="arrived"]')

        assert page.evaluate("window.notReloaded === true")
        assert page.locator(f"#arrival-{regular.pk} [data-chip]").inner_text() == "已到店"
        assert page.locator(f"#arrival-{regular.pk} form[data-form=check-in]").count() == 0
        assert list(Appointment.objects.order_by("pk").values_list("status", flat=True)) == [
            "arrived", "booked", "booked",
        ]  # fmt: skip

        page.set_viewport_size({"width": 390, "height": 900})
        page.reload()
        page.wait_for_selector(f'#arrival-{vip.pk}[data-status="booked"]')
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        page.set_viewport_size({"width": 1366, "height": 900})
        assert page.evaluate(NO_HORIZONTAL_SCROLL)


def test_booking_at_the_desk_and_the_report_fit_a_phone(browser_page, live_server, sales_a, manager_a, store_a):  # noqa: F811
    with time_machine.travel(NOW, tick=True):
        customer = book(sales_a, store_a, name="张伟").customer
        page = browser_page
        page.set_viewport_size({"width": 390, "height": 900})
        log_in(page, live_server, "sales_a", "pw-for-tests-1")
        page.goto(f"{live_server.url}/customers/{customer.pk}/appointments/new/?date=2026-12-04")

        assert page.locator("[data-slot]").count() == 17
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        page.check('[data-slot="10:00"] input')
        page.select_option("select[name=purpose]", "repair")
        page.click("form[data-form=book] button[type=submit]")
        page.wait_for_selector('[data-panel="appointments"] [data-status="booked"] >> nth=1')
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        assert Appointment.objects.filter(date=datetime.date(2026, 12, 4), slot=datetime.time(10)).count() == 1
        page.screenshot(path="/tmp/appts_card_390.png", full_page=True)

        page.context.clear_cookies()
        log_in(page, live_server, "manager_a", "pw-for-tests-1")
        page.goto(f"{live_server.url}/customers/appointments/report/")
        page.wait_for_selector("table[data-table=bookings-per-day] tbody tr >> nth=13")
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        page.set_viewport_size({"width": 768, "height": 900})
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        page.screenshot(path="/tmp/appts_report_768.png", full_page=False)
