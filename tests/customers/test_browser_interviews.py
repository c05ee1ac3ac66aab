"""Headless Chromium: a sales consultant hands a tablet (768 px) and then a phone (390 px) to the buyer,
who taps a score for every factor; one factor at 2 records a dissatisfied sales result. A manager
reads the list with its chart at desk, tablet and phone widths."""

import datetime

import pytest
from django.utils import timezone

from customers.models import DeliveryInterview, SatisfactionResult
from customers.selectors.interviews import DEFAULT_FACTORS
from tests.browser import browser_page, log_in  # noqa: F401
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CODES = [code for code, _label, _position in DEFAULT_FACTORS]


def _no_horizontal_scroll(page, width: int) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= width


def _tap_scores(page, scores: dict[str, int]) -> None:
    for code, score in scores.items():
        page.click(f'label[for="id_factor_{code}_{score - 1}"]')


def test_a_sales_consultant_records_interviews_on_a_tablet_and_a_phone(browser_page, live_server, sales_a, store_a):  # noqa: F811
    customer = CustomerFactory(store=store_a, name="陈静")
    today = timezone.localdate()
    tablet_car = VehicleFactory(customer=customer, plate_no="苏A10001", delivery_date=today)
    phone_car = VehicleFactory(customer=customer, plate_no="苏A10002", delivery_date=today - datetime.timedelta(days=1))
    page = browser_page
    page.set_viewport_size({"width": 768, "height": 1024})
    log_in(page, live_server, "sales_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/customers/{customer.pk}/")
    page.click(f'li[data-vehicle="{tablet_car.pk}"] a[data-action="record-interview"]')
    page.wait_for_selector('h1[data-page="delivery-interview"]')
    assert page.locator("fieldset.interview-factor").count() == 7
    assert _no_horizontal_scroll(page, 768)

    # One score forgotten: the page says which, in Chinese, and keeps the others.
    _tap_scores(page, {code: 5 for code in CODES[:-1]})
    page.click('button[data-action="save-interview"]')
    page.wait_for_selector("[data-field-error]")
    assert page.text_content("[data-field-error]") == "请为“交车时介绍维修服务专员和客服专员”打分。"
    assert page.is_checked("#id_factor_purchase_experience_4")
    assert DeliveryInterview.objects.count() == 0

    _tap_scores(page, {"consultant_courtesy": 2, "service_staff_introduced": 4})
    page.fill("#id_comment", "销售顾问接电话时不耐烦")
    page.click('button[data-action="save-interview"]')
    page.wait_for_selector(f'header[data-customer="{customer.pk}"]')
    assert "已为销售部门登记投诉" in page.text_content("ul.messages")
    assert page.locator('[data-badge="interview-dissatisfied"]').count() == 1
    result = SatisfactionResult.objects.get()
    assert (result.score, result.verdict, result.department) == (2, "dissatisfied", "sales")
    assert result.statement.endswith("客户意见：销售顾问接电话时不耐烦")

    page.set_viewport_size({"width": 390, "height": 844})
    page.click(f'li[data-vehicle="{phone_car.pk}"] a[data-action="record-interview"]')
    page.wait_for_selector('h1[data-page="delivery-interview"]')
    assert _no_horizontal_scroll(page, 390)
    _tap_scores(page, dict.fromkeys(CODES, 5))
    assert _no_horizontal_scroll(page, 390)
    page.click('button[data-action="save-interview"]')
    page.wait_for_selector(f'header[data-customer="{customer.pk}"]')
    assert "交车满意度面访已保存，谢谢！" in page.text_content("ul.messages")
    assert _no_horizontal_scroll(page, 390)
    assert list(SatisfactionResult.objects.order_by("id").values_list("verdict", flat=True)) == [
        "dissatisfied",
        "satisfied",
    ]


def test_a_manager_reads_the_averages_at_every_width(browser_page, live_server, manager_a, sales_a, store_a):  # noqa: F811
    from customers.services.interviews import delivery_interview_record

    for index, premises in enumerate((1, 4)):
        vehicle = VehicleFactory(customer=CustomerFactory(store=store_a, name=f"客户{index}"))
        delivery_interview_record(
            user=sales_a, vehicle=vehicle, scores={**dict.fromkeys(CODES, 5), "premises": premises}
        )
    page = browser_page
    log_in(page, live_server, "manager_a", "pw-for-tests-1")

    page.goto(f"{live_server.url}/customers/interviews/")
    page.wait_for_selector('h1[data-page="delivery-interviews"]')
    assert page.text_content('[data-figure="dissatisfied_share"]') == "50.0%"
    assert page.text_content('tr[data-code="premises"] [data-average]') == "2.50"
    page.wait_for_function("document.querySelector('#interview-chart').width > 0")
    for width in (1366, 768, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(300)  # Chart.js resizes its canvas on the next frames
        assert _no_horizontal_scroll(page, width)
