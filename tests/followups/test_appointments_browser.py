"""Headless Chromium: an agent works a call in the queue and books a visit with the slot chooser; an
advisor then sees it on the arrivals board and checks the customer in. At 390 px (and 768, 1366)
no page scrolls sideways."""

import datetime
import zoneinfo

import pytest
import time_machine

from customers.models import Appointment
from followups.models import CallAttempt, FollowupTask
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = datetime.datetime(2026, 12, 2, 9, 10, tzinfo=SHANGHAI)  # a Wednesday morning
NO_HORIZONTAL_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_an_agent_books_a_visit_on_a_call_and_the_advisor_checks_the_customer_in(
    browser_page,  # noqa: F811
    live_server,
    agent_a,
    advisor_a,
    store_a,
):
    with time_machine.travel(NOW, tick=True):
        customer = CustomerFactory(store=store_a, name="李雷", mobile="13900001111")
        vehicle = VehicleFactory(customer=customer, store=store_a, plate_no="苏A12345")
        task = FollowupTaskFactory(store=store_a, customer=customer, vehicle=vehicle, unit_id=vehicle.pk,
                                   code="maintenance_due", rule_date=NOW.date())  # fmt: skip
        page = browser_page
        page.set_viewport_size({"width": 390, "height": 900})
        log_in(page, live_server, "agent_a", "pw-for-tests-1")
        page.goto(f"{live_server.url}/followups/queue/")
        page.click('[data-action="next-call"]')
        page.locator(f'[data-call-customer="{customer.pk}"]').wait_for()
        assert page.locator("[data-booking] select[name=booking-purpose]").input_value() == "maintenance"
        assert page.evaluate(NO_HORIZONTAL_SCROLL)

        # Today's slots instead of the next working day's, then the 10:00 slot.
        page.check('[data-outcome="booked"] input')
        page.fill("input[name=booking-date]", "2026-12-02")
        page.click('[data-action="show-slots"]')
        page.wait_for_selector('[data-slots] >> text="2026-12-02 的时段："')
        assert page.locator("[data-booking] [data-slot]").count() == 17
        page.check('[data-slot="10:00"] input')
        page.fill("textarea[name=booking-notes]", "保养加洗车")
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        page.screenshot(path="/tmp/call_booking_390.png", full_page=True)
        page.click('[data-action="save-outcome"]')
        page.wait_for_selector("[data-booked]")
        assert page.evaluate(NO_HORIZONTAL_SCROLL)

        appointment = Appointment.objects.get()
        assert (appointment.source, appointment.source_reference, appointment.slot, appointment.notes) == (
            "call", f"followuptask:{task.pk}", datetime.time(10), "保养加洗车"
        )  # fmt: skip
        assert FollowupTask.objects.get(pk=task.pk).status == "done"
        assert CallAttempt.objects.get().outcome == "booked"

        page.context.clear_cookies()
        log_in(page, live_server, "advisor_a", "pw-for-tests-1")
        page.goto(f"{live_server.url}/customers/arrivals/")
        row = page.locator(f"#arrival-{appointment.pk}")
        assert "李雷" in row.inner_text()
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        row.locator("form[data-form=check-in] button").click()
        page.wait_for_selector(f'#arrival-{appointment.pk}[data-status="arrived"]')
        assert page.evaluate(NO_HORIZONTAL_SCROLL)
        for width in (768, 1366):
            page.set_viewport_size({"width": width, "height": 900})
            assert page.evaluate(NO_HORIZONTAL_SCROLL)

        appointment.refresh_from_db()
        assert (appointment.status, appointment.kept_by) == ("arrived", "check_in")
