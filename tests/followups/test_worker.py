"""Generation and an SMS batch through a real Celery worker and Redis, with the worker killed
(SIGKILL) mid-batch and restarted: no message lost, none sent twice."""

import datetime
import time

import pytest
from django.utils import timezone

from config.celery import app
from followups import tasks
from followups.models import FollowupTask, SmsMessage
from tests.conftest import kill, start_celery_worker, stop_celery_worker, wait_until
from tests.factories import CustomerFactory, StoreFactory
from tests.sms_gateway import SmsProvider

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
CUSTOMERS = 40


def test_generation_and_sms_survive_a_killed_worker():
    today = timezone.localdate()
    store = StoreFactory(code="NJ01", sms_signature="江宁日产")
    birthday = (today + datetime.timedelta(days=6)).replace(year=1988)  # R = today for the birthday rule
    for index in range(CUSTOMERS):
        CustomerFactory(store=store, birthday=birthday, mobile=f"1390000{index:04d}")
    app.conf.task_always_eager = False
    with SmsProvider(hold_after=5) as provider:  # the 6th message waits for an answer
        env = {
            **provider.env,
            "SMS_SEND_WINDOW": "00:00-24:00",  # the test runs at any hour
            "SMS_SEND_LEASE_SECONDS": "2",
        }
        worker = start_celery_worker(extra_env=env)
        try:
            tasks.generate_store_followups.delay(store_id=store.pk, start=today.isoformat(), end=today.isoformat())
            assert wait_until(lambda: FollowupTask.objects.filter(code="birthday").count() == CUSTOMERS, timeout=60)

            tasks.send_store_sms.delay(store_id=store.pk, day=today.isoformat())
            assert provider.holding.wait(timeout=60)
            kill(worker)  # in the middle of the batch: waiting for the provider's answer
            provider.resume()
            assert len(provider.accepted) == 5
            assert SmsMessage.objects.filter(status="sending").exists()

            killed_at = time.monotonic()
            worker = start_celery_worker(extra_env=env)
            for _tick in range(4):  # the resume sweep's ticks (each minute; each second here)
                tasks.resume_sms.delay()  # restarts the batch once the dead worker's lease lapses
                time.sleep(1)
            assert wait_until(lambda: SmsMessage.objects.filter(status="sent").count() == CUSTOMERS, timeout=60)
            assert time.monotonic() - killed_at < 60
        finally:
            stop_celery_worker(worker)
            app.conf.task_always_eager = True

    assert len(provider.accepted) == CUSTOMERS
    assert provider.duplicates == []
    assert sorted(provider.accepted) == sorted(SmsMessage.objects.values_list("idempotency_key", flat=True))
    assert SmsMessage.objects.filter(status="sent").count() == CUSTOMERS
    assert SmsMessage.objects.count() == CUSTOMERS
    assert FollowupTask.objects.filter(code="birthday", status="done").count() == CUSTOMERS
