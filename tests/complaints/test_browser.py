"""In headless Chromium: a dissatisfied call opens a complaint at once, the hour passes, the manager
sees it overdue on the dashboard, responds and closes it with the customer's confirmation.

The agent works the call in the follow-ups queue and records the customer as dissatisfied: the
closed loop opens the complaint for the rule's department as the outcome is saved, and the call
screen's "log a complaint" link leads to it (docs/closed-loop.md)."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from complaints.models import Complaint
from complaints.tasks import complaints_check_breaches
from crm.models import Store
from followups.models import CallAttempt
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.followups.factories import ALL_DAY, FollowupTaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_complaint_from_a_call_is_overdue_on_the_dashboard_then_answered_and_closed(
    browser_page,  # noqa: F811
    live_server,
    agent_a,
    manager_a,
    routing_a,
    customer_a,
    vehicle_a,
    store_a,
):
    page = browser_page
    Store.objects.filter(pk=store_a.pk).update(**ALL_DAY)
    call = FollowupTaskFactory(
        store=store_a,
        customer=customer_a,
        vehicle=vehicle_a,
        unit_id=vehicle_a.pk,
        code="post_repair_callback",
        rule_date=timezone.localdate(),
        priority=1,
    )
    # The clock runs from the real now (so the browser keeps its session cookie) and is moved on later.
    with time_machine.travel(timezone.now(), tick=True) as clock:
        log_in(page, live_server, "agent_a", "pw-for-tests-1")
        page.goto(live_server.url + reverse("followups:queue"))
        page.click('[data-action="next-call"]')
        page.locator(f'[data-call-customer="{customer_a.pk}"]').wait_for()
        page.check('[data-outcome="reached"] input')
        page.select_option("#id_satisfaction", "1")
        page.click('[data-action="save-outcome"]')
        page.click('[data-action="log-complaint"]')
        page.wait_for_selector("h1[data-complaint]")
        complaint = Complaint.objects.get()
        attempt = CallAttempt.objects.get(task=call)
        assert (complaint.department, complaint.channel, complaint.origin_reference) == (
            "service", "satisfaction_callback", f"callattempt:{attempt.pk}")  # fmt: skip
        # A service complaint opened by a result starts as 维修质量 (a manager may change it).
        assert (complaint.assigned_manager_id, complaint.complaint_type.name) == (manager_a.pk, "维修质量")
        assert page.get_attribute("[data-status]", "data-status") == "open"
        assert page.url.endswith(reverse("complaints:detail", args=[complaint.pk]))

        clock.shift(datetime.timedelta(minutes=61))
        complaints_check_breaches.delay()
        assert [message.to for message in mail.outbox] == [
            ["manager_a@example.com"],
            ["gm_a@example.com", "chairman@example.com"],
        ]

        page.context.clear_cookies()
        log_in(page, live_server, "manager_a", "pw-for-tests-1")
        page.goto(live_server.url + reverse("complaints:dashboard"))
        assert page.inner_text('[data-figure="overdue"]') == "1"
        assert page.inner_text('[data-figure="response_overdue"]') == "1"
        page.click("a.figure.overdue")
        page.click(f'tr[data-complaint="{complaint.pk}"] a')
        assert page.get_attribute("h1 [data-status]", "data-status") == "response-overdue"

        page.select_option("#action-form #id_kind", "contacted")
        page.fill("#action-form #id_note", "已致电客户，约定明天上午免费清洗空调")
        page.click("#action-form button[type=submit]")
        page.wait_for_selector('[data-timeline] li[data-action="contacted"]')

        page.fill("#close-form #id_resolution", "已免费清洗空调系统")
        page.click("#close-form button[type=submit]")
        # Refused without the customer's confirmation: the reason is shown and the complaint stays open.
        assert page.locator("#close-form [data-form-error]").count() == 1
        assert Complaint.objects.get().status == "in_progress"

        page.fill("#close-form #id_resolution", "已免费清洗空调系统")
        page.check('#close-form input[name="confirmation"][value="satisfied"]')
        page.fill("#close-form #id_confirmation_note", "回访客户，表示满意")
        page.click("#close-form button[type=submit]")
        page.wait_for_selector('h1 [data-status="closed"]')

        page.goto(live_server.url + reverse("complaints:dashboard"))
        assert page.inner_text('[data-figure="overdue"]') == "0"

    complaint.refresh_from_db()
    assert (complaint.status, complaint.customer_confirmation) == ("closed", "satisfied")
    assert complaint.first_response_at > complaint.response_due_at
