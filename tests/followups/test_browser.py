"""In headless Chromium: an agent works two calls; a manager changes an offset and sees the preview change."""

import datetime

import pytest
from django.utils import timezone

from crm.choices import Role
from followups.models import CallAttempt, FollowupTask
from tests.browser import browser_page, fits_without_sideways_scroll, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, StoreFactory, UserFactory, VehicleFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory, rules_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_agent_claims_reads_the_script_records_and_gets_the_next_call(browser_page, live_server):  # noqa: F811
    store = StoreFactory(code="NJ01", name="江宁店", **ALL_DAY)
    UserFactory(username="agent_web", role=Role.CALL_AGENT, stores=[store], password="agent-pw-123")
    today = timezone.localdate()
    first = FollowupTaskFactory(
        store=store, customer=CustomerFactory(store=store, name="李雷"), code="post_repair_callback", priority=1,
        rule_date=today,
    )  # fmt: skip
    second = FollowupTaskFactory(
        store=store, customer=CustomerFactory(store=store, name="韩梅梅"), priority=2, rule_date=today
    )
    page = browser_page

    log_in(page, live_server, "agent_web", "agent-pw-123")
    page.click('[data-link="call-queue"]')
    page.click('[data-action="next-call"]')
    card = page.locator(f'[data-call-customer="{first.customer_id}"]')
    card.wait_for()
    assert "李雷先生/女士" in page.locator("[data-script]").first.inner_text()
    assert page.url.endswith("/followups/queue/")  # htmx: no page load

    page.check('[data-outcome="reached"] input')
    page.select_option("#id_satisfaction", "5")
    page.check(f"#answer-{first.pk}-0-5")  # the repair questionnaire's first question is a 1–5 score
    page.click('[data-action="save-outcome"]')

    page.locator(f'[data-call-customer="{second.customer_id}"]').wait_for()
    assert page.locator('[data-saved="true"]').count() == 1
    assert FollowupTask.objects.get(pk=first.pk).status == "done"
    assert CallAttempt.objects.get().answers == {
        "0": {"question": "对于在我们这边检修车辆的经历，总体来说您是否满意？", "type": "score", "value": 5,
              "factor": "repair_overall"}
    }  # fmt: skip
    assert FollowupTask.objects.get(pk=second.pk).claimed_by.username == "agent_web"


def test_a_manager_changes_an_offset_and_sees_tomorrows_preview_change(browser_page, live_server):  # noqa: F811
    store = StoreFactory(code="NJ01", name="江宁店")
    UserFactory(username="manager_web", role=Role.MANAGER, stores=[store], password="manager-pw-123")
    rules = rules_for(store)
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    # Delivered 3 days before tomorrow: with the default +3 days the thank-you call is due tomorrow.
    VehicleFactory(customer__store=store, store=store, delivery_date=tomorrow - datetime.timedelta(days=3))
    rules_for(store, delivery_thanks={"channel": "sms"})  # queued on R whatever the weekday
    page = browser_page
    row = '[data-table="preview"] tr[data-rule="delivery_thanks"] [data-generated]'

    log_in(page, live_server, "manager_web", "manager-pw-123")
    page.goto(f"{live_server.url}/followups/preview/")
    assert page.locator(row).inner_text() == "1"

    page.goto(f"{live_server.url}/followups/rules/{rules['delivery_thanks'].pk}/")
    page.fill("#id_offset_days", "4")
    page.click('[data-action="save-rule"]')
    page.wait_for_load_state("domcontentloaded")
    page.click('[data-link="preview"]')
    assert page.locator(row).inner_text() == "0"


def test_the_preview_shows_its_progress_then_the_counts_on_a_phone(browser_page, live_server, preview_broker):  # noqa: F811
    store = StoreFactory(code="NJ01", name="江宁店")
    UserFactory(username="manager_web", role=Role.MANAGER, stores=[store], password="manager-pw-123")
    rules_for(store, delivery_thanks={"channel": "sms"})  # queued on R whatever the weekday
    tomorrow = timezone.localdate() + datetime.timedelta(days=1)
    VehicleFactory(customer__store=store, store=store, delivery_date=tomorrow - datetime.timedelta(days=3))
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 800})
    row = '[data-table="preview"] tr[data-rule="delivery_thanks"] [data-generated]'

    log_in(page, live_server, "manager_web", "manager-pw-123")
    page.goto(f"{live_server.url}/followups/preview/")
    progress = page.locator('[data-preview-state="running"] [data-progress]')
    progress.wait_for()
    assert "等待开始计数" in progress.inner_text()
    assert fits_without_sideways_scroll(page)
    page.wait_for_timeout(1500)  # the page polls: still counting, still the progress line
    assert page.locator("[data-progress]").is_visible()

    preview_broker.run_all()  # the worker counts

    page.locator(row).wait_for()  # the next poll brings the counts, no reload
    assert page.locator(row).inner_text() == "1"
    assert page.url == f"{live_server.url}/followups/preview/"
    assert "截至" in page.locator("[data-counted-at]").inner_text()
    assert fits_without_sideways_scroll(page)

    page.click('[data-form="recount"] button')  # "count again": the progress, then the counts again
    page.locator("[data-progress]").wait_for()
    VehicleFactory(customer__store=store, store=store, delivery_date=tomorrow - datetime.timedelta(days=3))
    preview_broker.run_all()
    page.locator(f"{row}:text-is('2')").wait_for()  # counted again, with the new car
