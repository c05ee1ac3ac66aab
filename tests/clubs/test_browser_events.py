"""In headless Chromium, on a phone (390 px) at the door: an advisor finds a registered member by the
mobile's last four digits, checks her in with one tap, and the points are credited once; a walk-in
found by plate is checked in too. The door, the event page and the report fit 390, 768 and 1366 px."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clubs.models import ClubEvent, EventRegistration, Membership, PointsEntry
from clubs.services import event_create, event_register
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, VehicleFactory

from .test_browser_referrals import COLLECT_VIOLATIONS, assert_fits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_door_check_in_on_a_phone(browser_page, live_server, store_a, advisor_a, manager_a):  # noqa: F811
    page = browser_page
    page.add_init_script(COLLECT_VIOLATIONS)
    call_command("club_start", "--store", store_a.code, "--date", "2025-01-01", stdout=io.StringIO())
    member = CustomerFactory(store=store_a, customer_no="D1", name="王芳", mobile="13912348866")
    VehicleFactory(customer=member, plate_no="苏A66666", delivery_date=datetime.date(2024, 5, 1))
    walk_in = CustomerFactory(store=store_a, customer_no="D2", name="李娜", mobile="13700001111")
    VehicleFactory(customer=walk_in, plate_no="苏A77777", delivery_date=datetime.date(2024, 5, 1))
    call_command("club_run", "--date", timezone.localdate().isoformat(), stdout=io.StringIO())
    now = timezone.now()
    event = event_create(
        user=manager_a, store=store_a, title="新车主课堂", kind="new_owner_class",
        starts_at=now + datetime.timedelta(hours=1), ends_at=now + datetime.timedelta(hours=4),
        place="江宁店二楼", capacity=20, points_for_attending=200,
    )  # fmt: skip
    event_register(user=advisor_a, event=event, customer=member)
    # The doors open: the event has started.
    ClubEvent.objects.filter(pk=event.pk).update(starts_at=now - datetime.timedelta(seconds=5))

    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "advisor_a", "pw-for-tests-1")
    page.goto(live_server.url + reverse("clubs:event_door", args=[event.pk]))
    page.fill("#door-search", "8866")
    page.click(".door-search button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    row = page.locator(f'[data-results] li[data-customer="{member.pk}"]')
    assert row.locator("[data-status]").inner_text() == "已报名"
    assert "139****8866" in row.inner_text()
    button = row.locator('[data-action="check-in"]')
    box = button.bounding_box()
    assert box["height"] >= 48  # a big target for a thumb
    assert box["width"] >= 300
    assert_fits(page)
    page.set_viewport_size({"width": 390, "height": 844})
    button.click()
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(".message.success").inner_text() == "王芳 已签到：积分 200。"
    assert page.locator("[data-attended]").get_attribute("data-attended") == "1"

    page.fill("#door-search", "苏A77777")
    page.click(".door-search button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    row = page.locator(f'[data-results] li[data-customer="{walk_in.pk}"]')
    assert row.locator(".badge.warn").inner_text() == "现场客户"
    row.locator('[data-action="check-in"]').click()
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(".message.success").inner_text() == "李娜 已签到：积分 200。"

    page.fill("#door-search", "8866")
    page.click(".door-search button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(f'li[data-customer="{member.pk}"] .door-done').inner_text().startswith("已于 ")
    assert page.locator(f'li[data-customer="{member.pk}"] [data-action="check-in"]').count() == 0

    assert list(EventRegistration.objects.order_by("customer__customer_no").values_list("status", "source")) == [
        ("attended", "phone"), ("attended", "door"),
    ]  # fmt: skip
    entries = PointsEntry.objects.filter(kind="attendance", reference=f"event:{event.pk}")
    assert sorted(entries.values_list("membership__customer__customer_no", "points")) == [("D1", 200), ("D2", 200)]
    assert Membership.objects.get(customer=member).points_balance == 200

    page.goto(live_server.url + reverse("clubs:event_detail", args=[event.pk]))
    assert page.locator('[data-count-status="attended"] .badge').inner_text() == "2"
    assert_fits(page)

    page.context.clear_cookies()
    log_in(page, live_server, "manager_a", "pw-for-tests-1")
    page.goto(live_server.url + reverse("clubs:event_report", args=[event.pk]))
    assert page.locator('[data-figure="attended"] .figure-value').inner_text() == "2"
    assert page.locator('[data-figure="delivered"] .figure-value').inner_text() == "0"
    assert_fits(page)
    page.goto(live_server.url + reverse("clubs:event_list"))
    assert page.locator(f'tr[data-event="{event.pk}"] [data-field="taken"]').inner_text() == "2 / 20"
    assert_fits(page)
    page.goto(live_server.url + reverse("clubs:event_edit", args=[event.pk]))
    assert page.input_value("#id_starts_at") == timezone.localtime(ClubEvent.objects.get().starts_at).strftime(
        "%Y-%m-%dT%H:%M"
    )
    assert_fits(page)
