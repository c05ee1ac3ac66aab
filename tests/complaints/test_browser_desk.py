"""In headless Chromium on a phone (390 px): a service advisor opens a customer's card, taps "Log a
complaint", and logs it for service without a horizontal scroll on either page."""

import pytest
from django.urls import reverse

from complaints.models import Complaint
from tests.browser import browser_page, log_in  # noqa: F401 - fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PAGE_FITS = "document.scrollingElement.scrollWidth <= window.innerWidth"


def test_an_advisor_logs_a_complaint_from_the_card_on_a_phone(
    browser_page,  # noqa: F811
    live_server,
    advisor_a,
    routing_a,
    manager_a,
    customer_a,
    vehicle_a,
    attitude,
):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")

    page.goto(live_server.url + reverse("customers:detail", args=[customer_a.pk]))
    assert page.evaluate(PAGE_FITS)
    page.click('[data-action="log-complaint"]')
    page.wait_for_selector("#complaint-form")
    assert page.evaluate(PAGE_FITS)
    assert page.input_value("#id_customer_no") == "CA0001"
    assert page.input_value("#id_department") == "service"
    page.fill("#id_vehicle", "苏A12345")
    page.select_option("#id_complaint_type", str(attitude.pk))
    page.fill("#id_description", "客户说等候区空调太冷，前台无人理会")
    page.click("#complaint-form button[type=submit]")
    page.wait_for_selector("h1[data-complaint]")
    assert page.evaluate(PAGE_FITS)

    complaint = Complaint.objects.get()
    assert (complaint.department, complaint.origin, complaint.vehicle, complaint.created_by) == (
        "service", "desk", vehicle_a, advisor_a)  # fmt: skip
    assert complaint.assigned_manager == manager_a
    assert page.inner_text('[data-field="assigned-manager"]') == manager_a.get_full_name()
