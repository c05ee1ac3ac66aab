"""A Celery worker SIGKILLed in the middle of its work: an SMS batch (an SMS provider that stops
answering) and a complaint e-mail (an SMTP server that stalls). After a restart the work resumes
within a minute, through the minutely sweeps, with nothing lost and nothing sent twice."""

import datetime
import time

import pytest
from django.conf import settings
from django.utils import timezone

from complaints import services as complaint_services
from complaints.choices import Channel, Department, Severity
from complaints.models import Complaint, StoreComplaintSettings
from config.celery import app
from crm.choices import Role
from followups.models import FollowupTask, SmsMessage
from followups.services import followups_generate_day
from tests.complaints.factories import ComplaintTypeFactory
from tests.conftest import kill
from tests.factories import CustomerFactory, StoreFactory, UserFactory
from tests.faults.conftest import Inbox, control_app, smtp_env, start_worker, stop_process, wait_for
from tests.sms_gateway import SmsProvider

pytestmark = [pytest.mark.fault, pytest.mark.django_db(transaction=True)]
CUSTOMERS = 150


@pytest.fixture
def broker_url():
    """The tests' own Redis database (the shared server): the test process publishes there."""
    app.conf.task_always_eager = False
    try:
        yield settings.CELERY_BROKER_URL
    finally:
        app.conf.task_always_eager = True


def test_an_sms_batch_whose_worker_was_killed_resumes_within_a_minute_once_each(broker_url, tmp_path):
    today = timezone.localdate()
    store = StoreFactory(code="NJ01", sms_signature="江宁日产")
    birthday = (today + datetime.timedelta(days=6)).replace(year=1988)  # R = today for the birthday rule
    for index in range(CUSTOMERS):
        CustomerFactory(store=store, birthday=birthday, mobile=f"1390000{index:04d}")
    followups_generate_day(day=today, store_ids=[store.pk])
    assert FollowupTask.objects.filter(code="birthday").count() == CUSTOMERS
    beat = control_app(broker_url)

    with SmsProvider(hold_after=10) as provider:  # the 11th message waits for an answer
        env = {
            **provider.env,
            "SMS_SEND_WINDOW": "00:00-24:00",  # the test runs at any hour
            "SMS_SEND_LEASE_SECONDS": "10",  # production: 30 (resume within 30 s + one minutely tick)
        }
        worker = start_worker(redis_url=broker_url, log=tmp_path / "worker.log", extra_env=env)
        try:
            beat.send_task("followups.tasks.send_store_sms", kwargs={"store_id": store.pk, "day": today.isoformat()})
            assert provider.holding.wait(timeout=60)
            kill(worker)  # in the middle of the batch: waiting for the provider's answer
            killed_at = time.monotonic()
            provider.resume()
            assert len(provider.accepted) == 10
            assert SmsMessage.objects.filter(status="sending").exists()

            worker = start_worker(redis_url=broker_url, log=tmp_path / "worker.log", extra_env=env)

            def tick_until_all_sent() -> bool:
                beat.send_task("followups.tasks.resume_sms")  # the minutely beat tick
                return wait_for(lambda: SmsMessage.objects.filter(status="sent").count() == CUSTOMERS, timeout=2)

            assert wait_for(tick_until_all_sent, timeout=60, interval=0)
            resumed_in = time.monotonic() - killed_at
        finally:
            stop_process(worker)

    assert resumed_in < 60
    assert len(provider.accepted) == CUSTOMERS
    assert provider.duplicates == []  # none sent twice
    assert sorted(provider.accepted) == sorted(
        SmsMessage.objects.values_list("idempotency_key", flat=True)
    )  # none lost
    assert FollowupTask.objects.filter(code="birthday", status="done").count() == CUSTOMERS


def test_a_complaint_email_whose_worker_was_killed_mid_send_goes_out_once_within_a_minute(
    broker_url, smtp_server, tmp_path
):
    store = StoreFactory(code="NJ01", name="江宁店")
    agent = UserFactory(username="agent_a", role=Role.CALL_AGENT, stores=[store])
    manager = UserFactory(username="manager_a", role=Role.MANAGER, stores=[store])
    StoreComplaintSettings.objects.create(store=store, service_manager=manager, general_manager=manager)
    inbox = Inbox(stall_first=True)
    env = {**smtp_env(smtp_server(inbox)), "COMPLAINT_EMAIL_LEASE_SECONDS": "10"}  # production: 45
    beat = control_app(broker_url)

    worker = start_worker(redis_url=broker_url, log=tmp_path / "worker.log", extra_env=env)
    try:
        complaint = complaint_services.complaint_create(
            actor=agent,
            customer=CustomerFactory(store=store, name="张伟"),
            channel=Channel.PHONE,
            department=Department.SERVICE,
            complaint_type=ComplaintTypeFactory(name="服务态度"),
            severity=Severity.HIGH,
            description="三次返修仍未解决",
        )
        assert complaint.notification.queued is True
        assert inbox.stalled.wait(timeout=30)  # the worker is in the middle of the SMTP conversation
        kill(worker)
        killed_at = time.monotonic()
        complaint.refresh_from_db()
        assert complaint.notified_at is None  # not marked sent before it went out
        assert complaint.notify_lease_until is not None

        worker = start_worker(redis_url=broker_url, log=tmp_path / "worker.log", extra_env=env)

        def tick_until_sent() -> bool:
            beat.send_task("complaints.tasks.complaints_send_pending_emails")  # the minutely beat tick
            return wait_for(lambda: len(inbox.accepted) >= 1, timeout=2)

        assert wait_for(tick_until_sent, timeout=60, interval=0)
        resumed_in = time.monotonic() - killed_at
        for _tick in range(2):  # later ticks send nothing more
            beat.send_task("complaints.tasks.complaints_send_pending_emails")
        inbox.release.set()  # the hung relay finally refuses the first attempt
        time.sleep(3)
    finally:
        stop_process(worker)

    assert resumed_in < 60
    [message] = inbox.accepted
    assert message.rcpt_tos == [manager.email]
    assert f"#{complaint.pk}".encode() in message.content
    complaint.refresh_from_db()
    assert (complaint.notify_lease_until, Complaint.objects.filter(notified_at__isnull=False).count()) == (None, 1)
