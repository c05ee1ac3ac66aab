import datetime

import pytest
import time_machine
from django.conf import settings

from followups import tasks
from followups.models import FollowupTask, GenerationRun
from followups.services import followups_catch_up_plan
from tests.factories import StoreFactory, VehicleFactory

pytestmark = pytest.mark.django_db
D = datetime.date


def test_every_beat_entry_is_a_registered_task():
    from config.celery import app

    app.loader.import_default_modules()
    names = {entry["task"] for key, entry in settings.CELERY_BEAT_SCHEDULE.items() if key.startswith("followups")}
    assert names == {"followups.tasks.generate_followups", "followups.tasks.dispatch_sms"}
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
    assert GenerationRun.objects.filter(date=D(2026, 11, 16)).count() == 12

    # Beat was down on 17, 18, 19, 20, 21 and 22 November; it comes back on the 23rd.
    tasks.generate_followups.delay("2026-11-23")
    tasks.generate_followups.delay("2026-11-23")

    assert set(GenerationRun.objects.values_list("date", flat=True)) == {D(2026, 11, day) for day in range(16, 24)}
    assert GenerationRun.objects.count() == 8 * 12
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

    assert len(plan) == 12
    assert {tuple(job["codes"]) for job in plan} == {
        (code,) for code in ["delivery_thanks", "first_service_invite", "post_repair_callback", "insurance_renewal",
                             "warranty_expiry", "maintenance_due", "birthday", "holiday_greeting", "lost_customer",
                             "points_expiry", "dissatisfied_followup", "event_notice"]
    }  # fmt: skip
