"""In headless Chromium: a sales consultant opens My tasks from the landing page, calls the buyer the
day after the delivery and records "reached"; at 390 px nothing scrolls sideways."""

import datetime

import pytest
from django.utils import timezone

from crm.choices import Role
from followups.models import CallAttempt, FollowupRule, FollowupTask
from followups.services import followups_generate_day
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, StoreFactory, UserFactory, VehicleFactory
from tests.followups.factories import ALL_DAY

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NO_SIDEWAYS_SCROLL = "document.scrollingElement.scrollWidth <= window.innerWidth"


def test_a_sales_consultant_records_reached_on_the_day_after_delivery_call(browser_page, live_server):  # noqa: F811
    store = StoreFactory(code="NJ01", name="江宁店", **ALL_DAY)
    consultant = UserFactory(username="sales_web", role=Role.SALES_CONSULTANT, stores=[store], password="sales-pw-123",
                             last_name="李", first_name="娜")  # fmt: skip
    today = timezone.localdate()
    # Delivered yesterday: the day-after-delivery call is due today, generated for its consultant.
    customer = CustomerFactory(store=store, name="韩梅梅")
    car = VehicleFactory(customer=customer, store=store, delivery_date=today - datetime.timedelta(days=1),
                         sales_consultant="李娜", plate_no="苏A88888")  # fmt: skip
    followups_generate_day(day=today, store_ids=[store.pk], codes=["delivery_day1_call"])
    task = FollowupTask.objects.filter(vehicle=car).first()
    if task is None:  # today is not a working day: the call is queued on the next one; work it today
        task = FollowupTask.objects.create(
            rule=FollowupRule.objects.get(store=store, code="delivery_day1_call"), code="delivery_day1_call",
            store=store, customer=customer, vehicle=car, unit_id=car.pk, rule_date=today, queue_date=today,
            work_date=today, subject_date=car.delivery_date, channel="phone", priority=2, assignee=consultant,
        )  # fmt: skip
    assert task.assignee_id == consultant.pk
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})

    log_in(page, live_server, "sales_web", "sales-pw-123")
    assert page.locator('[data-figure="my-tasks"]').inner_text() == "1"
    page.click('[data-link="my-tasks"]')
    page.locator(f'[data-table="my-tasks"] tr[data-customer="{customer.pk}"]').wait_for()
    for width in (1366, 768, 390):
        page.set_viewport_size({"width": width, "height": 844})
        assert page.evaluate(NO_SIDEWAYS_SCROLL), width

    page.click(f'tr[data-customer="{customer.pk}"] [data-action="open-call"]')
    page.locator(f'[data-call-customer="{customer.pk}"]').wait_for()
    assert "韩梅梅先生/女士" in page.locator("[data-script]").first.inner_text()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.check('[data-outcome="reached"] input')
    page.select_option("#id_satisfaction", "5")
    page.fill(f"#answer-{task.pk}-0", "正常")
    page.click('[data-action="save-outcome"]')

    page.locator('[data-saved="true"]').wait_for()
    page.click('[data-link="my-tasks"]')
    page.locator('[data-table="my-tasks"] .empty').wait_for()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    task.refresh_from_db()
    assert (task.status, task.outcome, task.satisfaction, task.assignee_id) == ("done", "reached", 5, consultant.pk)
    answer = {"question": "车辆使用是否正常？有无需要解答的功能操作？", "type": "text", "value": "正常"}
    assert list(CallAttempt.objects.values_list("agent__username", "answers")) == [("sales_web", {"0": answer})]
