import datetime
import json
import time

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from followups import tasks
from followups.gateways import SendResult
from followups.models import FollowupTask, GenerationRun, SmsMessage
from followups.services import (
    followups_catch_up_plan,
    followups_generate_day,
    sms_send_batch,
    sms_stores_to_resume,
)
from followups.tasks import resume_sms
from tests.factories import CustomerFactory, StoreFactory, VehicleFactory

pytestmark = pytest.mark.django_db
D = datetime.date


def test_every_beat_entry_is_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    names = {entry["task"] for key, entry in settings.CELERY_BEAT_SCHEDULE.items() if key.startswith("followups")}
    assert names == {
        "followups.tasks.generate_followups",
        "followups.tasks.dispatch_sms",
        "followups.tasks.resume_sms",
        "followups.tasks.rebuild_report_figures",
    }
    assert names <= set(app.tasks)
    assert all(entry["options"]["expires"] for entry in settings.CELERY_BEAT_SCHEDULE.values())


def test_a_first_run_generates_today_only():
    store = StoreFactory(code="NJ01")
    VehicleFactory(customer__store=store, store=store, delivery_date=D(2026, 11, 20))

    plan = followups_catch_up_plan(today=D(2026, 11, 23))

    assert plan == [{"store_id": store.pk, "codes": None, "start": D(2026, 11, 23), "end": D(2026, 11, 23)}]


def test_the_nightly_job_catches_up_every_missed_day_and_is_safe_to_run_twice():
    store = StoreFactory(code="NJ01")
    cars = [
        VehicleFactory(customer__store=store, store=store, delivery_date=D(2026, 11, day)) for day in (14, 17, 18, 20)
    ]
    with time_machine.travel(datetime.datetime(2026, 11, 16, 0, 30, tzinfo=datetime.UTC), tick=False):
        tasks.generate_followups.delay("2026-11-16")  # the last run before beat went down
    assert GenerationRun.objects.filter(date=D(2026, 11, 16)).count() == 16

    # Beat was down on 17, 18, 19, 20, 21 and 22 November; it comes back on the 23rd.
    tasks.generate_followups.delay("2026-11-23")
    tasks.generate_followups.delay("2026-11-23")

    assert set(GenerationRun.objects.values_list("date", flat=True)) == {D(2026, 11, day) for day in range(16, 24)}
    assert GenerationRun.objects.count() == 8 * 16
    assert list(FollowupTask.objects.filter(code="delivery_thanks").order_by("rule_date").values_list(
        "vehicle_id", "queue_date")) == [
        (cars[0].pk, D(2026, 11, 17)),
        (cars[1].pk, D(2026, 11, 20)),
        (cars[2].pk, D(2026, 11, 23)),
        (cars[3].pk, D(2026, 11, 23)),
    ]  # fmt: skip


def test_big_stores_fan_out_per_rule(settings):
    settings.FOLLOWUP_SPLIT_VEHICLES = 1
    store = StoreFactory(code="NJ01")
    VehicleFactory.create_batch(2, customer__store=store, store=store)

    plan = followups_catch_up_plan(today=D(2026, 11, 23))

    assert len(plan) == 16
    assert {tuple(job["codes"]) for job in plan} == {
        (code,) for code in ["delivery_thanks", "first_service_invite", "post_repair_callback", "insurance_renewal",
                             "warranty_expiry", "maintenance_due", "birthday", "holiday_greeting", "lost_customer",
                             "points_expiry", "dissatisfied_followup", "event_notice", "inspection_due",
                             "delivery_day1_call", "appointment_reminder", "no_show_followup"]
    }  # fmt: skip


# --- a batch whose worker died resumes within a minute ---------------------------------------------


def test_the_resume_sweep_runs_every_minute_of_the_sending_hours():
    entry = settings.CELERY_BEAT_SCHEDULE["followups-resume-sms"]

    assert entry["task"] == "followups.tasks.resume_sms"
    assert entry["schedule"].minute == set(range(60))
    assert entry["schedule"].hour == set(range(9, 20))
    assert entry["options"]["expires"] < 60
    assert settings.SMS_SEND_LEASE_SECONDS == 30


class LeaseWatchingGateway:
    """Sends slowly and records, at each send, whether every claimed message still held its lease."""

    def __init__(self, seconds_per_message: float) -> None:
        self.seconds_per_message = seconds_per_message
        self.lapsed_at_send: list[int] = []

    def send(self, *, key, mobile, text):
        time.sleep(self.seconds_per_message)
        now = timezone.now()
        self.lapsed_at_send.append(SmsMessage.objects.filter(status="sending", lease_until__lt=now).count())
        return SendResult(message_id=key)


def test_a_live_batch_renews_its_leases_so_the_sweep_never_takes_it_over(settings, store_a):
    settings.SMS_SEND_WINDOW = "00:00-24:00"
    settings.SMS_SEND_LEASE_SECONDS = 1
    today = timezone.localdate()
    birthday = (today + datetime.timedelta(days=6)).replace(year=1988)  # R = today for the birthday rule
    for index in range(6):
        CustomerFactory(store=store_a, birthday=birthday, mobile=f"1390000{index:04d}")
    followups_generate_day(day=today, store_ids=[store_a.pk])
    gateway = LeaseWatchingGateway(seconds_per_message=0.3)  # the batch takes 1.8 s, the lease is 1 s

    result = sms_send_batch(store_id=store_a.pk, day=today, gateway=gateway)

    assert result["sent"] == 6
    assert gateway.lapsed_at_send == [0, 0, 0, 0, 0, 0]
    assert resume_sms.delay().get() == 0


def test_the_resume_sweep_restarts_only_batches_whose_lease_lapsed(settings, store_a, store_b, tmp_path):
    settings.SMS_SEND_WINDOW = "00:00-24:00"
    settings.SMS_GATEWAY, settings.SMS_FILE_GATEWAY_DIR = "file", str(tmp_path)
    now = timezone.now()
    today = timezone.localdate()
    dead, live = (
        SmsMessage.objects.create(
            idempotency_key=f"test-{store.code}",
            store=store,
            customer=CustomerFactory(store=store, mobile=mobile),
            mobile=mobile,
            body="【江宁日产】您好",
            send_date=today,
            status="sending",
            lease_until=now + datetime.timedelta(seconds=seconds),
        )
        for store, mobile, seconds in ((store_a, "13900001111", -1), (store_b, "13900002222", 20))
    )

    assert resume_sms.delay().get() == 1
    assert resume_sms.delay().get() == 0

    dead.refresh_from_db()
    live.refresh_from_db()
    assert (dead.status, live.status) == ("sent", "sending")
    assert [json.loads(line)["key"] for line in (tmp_path / "sent.jsonl").read_text().splitlines()] == [
        dead.idempotency_key
    ]


def test_the_resume_sweep_restarts_a_store_left_with_due_queued_messages_and_no_live_batch(
    settings, store_a, store_b, tmp_path
):
    """A worker killed between two claims leaves the rest of its store's messages queued with none
    sending: the next minutely sweep starts the batch again, not the dispatch ten minutes later."""
    settings.SMS_SEND_WINDOW = "00:00-24:00"
    settings.SMS_GATEWAY, settings.SMS_FILE_GATEWAY_DIR = "file", str(tmp_path)
    now = timezone.now()
    today = timezone.localdate()
    closed_store = StoreFactory(code="NJ03", name="已关店", is_active=False)

    def message(store, mobile, **fields):
        return SmsMessage.objects.create(
            idempotency_key=f"test-{mobile}", store=store, customer=CustomerFactory(store=store, mobile=mobile),
            mobile=mobile, body="【江宁日产】您好", **{"send_date": today, "status": "queued", **fields},
        )  # fmt: skip

    left = message(store_a, "13900001111")
    later = message(store_a, "13900001112", not_before=now + datetime.timedelta(hours=1))
    waiting = message(store_b, "13900002222")  # a live batch of store_b will claim it
    message(store_b, "13900002223", status="sending", lease_until=now + datetime.timedelta(seconds=20))
    tomorrow = message(store_b, "13900002224", send_date=today + datetime.timedelta(days=1))
    closed = message(closed_store, "13900003333")

    assert sms_stores_to_resume(now=now) == [store_a.pk]
    assert resume_sms.delay().get() == 1
    assert resume_sms.delay().get() == 0

    statuses = SmsMessage.objects.filter(pk__in=[left.pk, later.pk, waiting.pk, tomorrow.pk, closed.pk])
    assert dict(statuses.values_list("mobile", "status")) == {
        "13900001111": "sent",
        "13900001112": "queued",
        "13900002222": "queued",
        "13900002224": "queued",
        "13900003333": "queued",
    }
    assert [json.loads(line)["key"] for line in (tmp_path / "sent.jsonl").read_text().splitlines()] == [
        left.idempotency_key
    ]
