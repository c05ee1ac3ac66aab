"""Issue 11's path in headless Chromium: a manager builds a segment and plans an event for it; the
nightly generation sends the invitation SMS to the segment 7 days before; a customer's Y registers
them; at the door the manager checks the customer in; the event's report shows the registration and
the attendance."""

import datetime
import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clubs.models import ClubEvent, EventRegistration
from customers.facts import customer_stats_refresh
from customers.models import Segment
from followups.gateways import FileGateway
from followups.models import SmsMessage
from followups.services import followups_generate_day, sms_inbound_receive, sms_send_batch
from tests.browser import browser_page, log_in  # noqa: F401 - fixture
from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import rules_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_segment_event_invitation_y_door_and_report(browser_page, live_server, store_a, manager_a, tmp_path):  # noqa: F811
    page = browser_page
    today = timezone.localdate()
    rules_for(store_a)
    call_command("club_start", "--store", store_a.code, "--date", "2025-01-01", stdout=io.StringIO())
    guest = CustomerFactory(store=store_a, customer_no="E1", name="王芳", mobile="13912345678", district="江宁区")
    VehicleFactory(customer=guest, delivery_date=datetime.date(2024, 5, 1))
    other = CustomerFactory(store=store_a, customer_no="E2", name="李娜", mobile="13700001111", district="鼓楼区")
    VehicleFactory(customer=other, delivery_date=datetime.date(2024, 5, 1))
    call_command("club_run", "--date", today.isoformat(), stdout=io.StringIO())
    customer_stats_refresh(today=today)

    log_in(page, live_server, "manager_a", "pw-for-tests-1")
    # The segment: the store's owners in 江宁区.
    page.goto(live_server.url + reverse("customers:segment_create"))
    page.fill("#id_name", "江宁车主")
    page.select_option("#id_store", str(store_a.pk))
    page.fill("#id_districts", "江宁区")
    page.click("form[data-form=segment] button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    segment = Segment.objects.get(name="江宁车主")

    # The event, a week from today, for that segment.
    starts = datetime.datetime.combine(today + datetime.timedelta(days=7), datetime.time(10, 0))
    page.goto(live_server.url + reverse("clubs:event_create"))
    page.select_option("#id_store", str(store_a.pk))
    page.fill("#id_title", "秋季自驾游")
    page.select_option("#id_kind", "self_drive_tour")
    page.fill("#id_starts_at", starts.strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_ends_at", (starts + datetime.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_place", "汤山")
    page.fill("#id_capacity", "10")
    page.fill("#id_points_for_attending", "100")
    page.select_option("#id_segment", str(segment.pk))
    page.locator("main form button[type=submit]").last.click()
    page.wait_for_load_state("domcontentloaded")
    event = ClubEvent.objects.get(title="秋季自驾游")
    assert event.segment_id == segment.pk

    # That night's generation invites the segment; the SMS goes out the next morning; a Y comes back.
    made = followups_generate_day(day=today, store_ids=[store_a.pk], codes=["event_notice"])
    morning = timezone.make_aware(datetime.datetime.combine(today, datetime.time(10, 0)))
    sms_send_batch(store_id=store_a.pk, day=today, now=morning, gateway=FileGateway(tmp_path))
    message = SmsMessage.objects.get()
    reply = sms_inbound_receive(mobile=guest.mobile, text="Y", received_at=max(timezone.now(), message.sent_at))
    assert (made["event_notice"], message.customer_id, reply.action) == (1, guest.pk, "rsvp")
    assert list(EventRegistration.objects.values_list("customer_id", "status", "source")) == [
        (guest.pk, "registered", "sms")
    ]

    # The day comes: at the door the manager finds her by the mobile's last four digits.
    now = timezone.now()
    ClubEvent.objects.filter(pk=event.pk).update(
        starts_at=now - datetime.timedelta(seconds=5), ends_at=now + datetime.timedelta(hours=6)
    )
    page.goto(live_server.url + reverse("clubs:event_door", args=[event.pk]))
    page.fill("#door-search", "5678")
    page.click(".door-search button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    page.locator(f'[data-results] li[data-customer="{guest.pk}"] [data-action="check-in"]').click()
    page.wait_for_load_state("domcontentloaded")
    assert page.locator(".message.success").inner_text() == "王芳 已签到：积分 100。"

    page.goto(live_server.url + reverse("clubs:event_report", args=[event.pk]))
    figures = {
        name: page.locator(f'[data-figure="{name}"] .figure-value').inner_text()
        for name in ("invited-by-sms", "sent", "delivered", "registered", "waiting", "attended", "points")
    }
    assert figures == {
        "invited-by-sms": "1", "sent": "1", "delivered": "0", "registered": "1", "waiting": "0", "attended": "1",
        "points": "100 积分",
    }  # fmt: skip
    assert page.locator(f'[data-attendee="{guest.pk}"]').count() == 1
