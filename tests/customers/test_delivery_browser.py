"""Headless Chromium: a sales consultant records a delivery for a new customer referred by an owner,
with marketing consent, on a desktop (1366 px) and on a phone (390 px), without horizontal scroll."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from clubs.models import Membership, Referral
from complaints.models import Complaint
from customers.models import Customer, CustomerConsent, Delivery
from customers.selectors.interviews import DEFAULT_FACTORS
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
INTERVIEW_CODES = [code for code, _label, _position in DEFAULT_FACTORS]
PAGE_FITS = "document.scrollingElement.scrollWidth <= window.innerWidth"


@pytest.mark.parametrize(("width", "vin", "mobile"), [(1366, "LSVAU218XN2183294", "13700001234"),
                                                      (390, "1M8GDM9AXKP042788", "13700005678")])  # fmt: skip
def test_sales_consultant_records_a_referred_delivery(browser_page, live_server, sales_a, store_a, width, vin, mobile):  # noqa: F811
    today = timezone.localdate()
    call_command("club_start", "--store", store_a.code, "--date", (today - datetime.timedelta(days=30)).isoformat(),
                 stdout=io.StringIO())  # fmt: skip
    referrer = CustomerFactory(store=store_a, name="周老板", mobile="13900000001")
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "sales_a", "pw-for-tests-1")
    page.click('[data-link="record-delivery"], a[href="/customers/desk/delivery/"]')
    page.wait_for_selector("form[data-form=delivery]")
    assert page.evaluate(PAGE_FITS)

    page.fill("#referrer-search", "周老板")
    page.press("#referrer-search", "Enter")
    page.click(f'[data-pick-referrer="{referrer.pk}"]')
    page.wait_for_selector(f'[data-referrer="{referrer.pk}"]')

    page.fill("#id_customer-name", "孙丽")
    page.fill("#id_customer-mobile", mobile)
    page.fill("#id_vehicle-vin", vin.lower())
    page.fill("#id_vehicle-plate_no", "苏A8K888")
    page.fill("#id_vehicle-brand", "大众")
    page.fill("#id_vehicle-series", "帕萨特")
    page.fill("#id_vehicle-insurance_expiry", (today + datetime.timedelta(days=365)).isoformat())
    page.select_option("#id_source", "owner_referral")
    page.select_option("#id_marketing_consent", "yes")
    page.fill("#id_consent_note", "交车单同意栏签字")
    assert page.evaluate(PAGE_FITS)
    page.click('[data-action="record-delivery"]')

    # The handover goes on with the interview: one factor at 2 opens a complaint for sales.
    page.wait_for_selector('h1[data-page="delivery-interview"]')
    assert "交车已登记" in page.inner_text("body")
    assert page.evaluate(PAGE_FITS)
    for code in INTERVIEW_CODES:
        page.click(f'label[for="id_factor_{code}_{(2 if code == "consultant_courtesy" else 5) - 1}"]')
    page.fill("#id_comment", "交车时等了一个小时")
    page.click('button[data-action="save-interview"]')
    page.wait_for_selector("header.card-header")
    assert "已为销售部门登记投诉" in page.text_content("ul.messages")
    assert page.evaluate(PAGE_FITS)
    buyer = Customer.objects.get(mobile=mobile)
    delivery = Delivery.objects.get(customer=buyer)
    assert (delivery.referrer_customer_id, delivery.consultant_id, delivery.vehicle.vin) == (
        referrer.pk,
        sales_a.pk,
        vin,
    )
    marketing = CustomerConsent.objects.get(customer=buyer, purpose="marketing")
    assert (marketing.is_granted, marketing.source, marketing.note) == (True, "desk", "交车单同意栏签字")
    assert Membership.objects.filter(customer=buyer).count() == 1
    assert Referral.objects.get(prospect_mobile=mobile).referrer_id == referrer.pk
    complaint = Complaint.objects.get(customer=buyer)
    assert (complaint.department, complaint.origin) == ("sales", "delivery_interview")
    assert "交车时等了一个小时" in complaint.description
