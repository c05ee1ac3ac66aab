"""Generation and an SMS batch through a real Celery worker and Redis, with the worker killed
(SIGKILL) mid-batch and restarted: no message lost, none sent twice."""

import datetime
import json
import os
import signal
import subprocess
import sys
import time

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import app
from followups import tasks
from followups.models import FollowupTask, SmsMessage
from tests.conftest import BASE_DIR, wait_until
from tests.factories import CustomerFactory, StoreFactory

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
CUSTOMERS = 40


def start_worker(extra_env: dict) -> subprocess.Popen:
    database = connection.settings_dict
    env = dict(os.environ)
    env.update(extra_env)
    env["DATABASE_URL"] = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    )
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"
    env["PYTHONPATH"] = str(BASE_DIR)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1", "--pool", "solo",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR,
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return process
    process.kill()
    raise RuntimeError("the Celery worker did not start within 30 s")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_generation_and_sms_survive_a_killed_worker(tmp_path):
    today = timezone.localdate()
    store = StoreFactory(code="NJ01", sms_signature="江宁日产")
    birthday = (today + datetime.timedelta(days=6)).replace(year=1988)  # R = today for the birthday rule
    for index in range(CUSTOMERS):
        CustomerFactory(store=store, birthday=birthday, mobile=f"1390000{index:04d}")
    sent_file = tmp_path / "sent.jsonl"
    env = {
        "SMS_GATEWAY": "file",
        "SMS_FILE_GATEWAY_DIR": str(tmp_path),
        "SMS_GATEWAY_RATE_PER_SECOND": "8",  # slow enough to kill the worker mid-batch
        "SMS_SEND_WINDOW": "00:00-24:00",  # the test runs at any hour
        "SMS_SEND_LEASE_SECONDS": "2",
    }
    app.conf.task_always_eager = False
    worker = start_worker(env)
    try:
        tasks.generate_store_followups.delay(store_id=store.pk, start=today.isoformat(), end=today.isoformat())
        assert wait_until(lambda: FollowupTask.objects.filter(code="birthday").count() == CUSTOMERS, timeout=60)

        tasks.send_store_sms.delay(store_id=store.pk, day=today.isoformat())
        assert wait_until(lambda: sent_file.exists() and len(sent_file.read_text().splitlines()) >= 5, timeout=60)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        sent_before = len(sent_file.read_text().splitlines())
        assert sent_before < CUSTOMERS
        assert SmsMessage.objects.filter(status="sending").exists()

        worker = start_worker(env)
        time.sleep(2.5)  # the dead worker's lease lapses
        tasks.dispatch_sms.delay()  # the next beat tick
        assert wait_until(lambda: SmsMessage.objects.filter(status="sent").count() == CUSTOMERS, timeout=90)
    finally:
        stop(worker)
        app.conf.task_always_eager = True

    keys = [json.loads(line)["key"] for line in sent_file.read_text().splitlines()]
    assert len(keys) == CUSTOMERS
    assert sorted(keys) == sorted(SmsMessage.objects.values_list("idempotency_key", flat=True))
    assert SmsMessage.objects.count() == CUSTOMERS
    assert FollowupTask.objects.filter(code="birthday", status="done").count() == CUSTOMERS
