import datetime

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from complaints import services
from complaints.choices import Channel, Department, Severity
from complaints.models import Complaint, Escalation
from complaints.tasks import (
    complaint_notify_manager,
    complaints_check_breaches,
    complaints_send_pending_emails,
    escalation_send,
)
from config.celery import app
from tests.complaints.factories import local
from tests.conftest import wait_until


def test_the_beat_entry_runs_every_five_minutes_a_registered_task():
    entry = settings.CELERY_BEAT_SCHEDULE["complaints-check-breaches"]

    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == set(range(0, 60, 5))
    assert entry["options"]["expires"] < 5 * 60


@pytest.mark.django_db
def test_the_breach_check_is_safe_to_run_twice(
    agent_a, customer_a, attitude, routing_a, django_capture_on_commit_callbacks
):
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False), django_capture_on_commit_callbacks(execute=True):
        services.complaint_create(
            actor=agent_a,
            customer=customer_a,
            channel=Channel.PHONE,
            department=Department.SERVICE,
            complaint_type=attitude,
            severity=Severity.LOW,
            description="等待时间太长",
        )
    mail.outbox.clear()

    with time_machine.travel(received + datetime.timedelta(hours=2), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            complaints_check_breaches.delay()
        with django_capture_on_commit_callbacks(execute=True):
            complaints_check_breaches.delay()

    assert Escalation.objects.count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_an_escalation_whose_email_failed_is_sent_by_a_later_sweep(
    agent_a, customer_a, attitude, routing_a, django_capture_on_commit_callbacks
):
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False), django_capture_on_commit_callbacks(execute=True):
        complaint = services.complaint_create(
            actor=agent_a,
            customer=customer_a,
            channel=Channel.PHONE,
            department=Department.SERVICE,
            complaint_type=attitude,
            severity=Severity.LOW,
            description="x",
        )
    # A breach recorded whose e-mail never went out (the worker died before sending).
    Escalation.objects.create(
        complaint=complaint, kind="response", due_at=complaint.response_due_at, created_at=received
    )
    mail.outbox.clear()

    with time_machine.travel(received + datetime.timedelta(hours=1, minutes=30), tick=False):
        complaints_send_pending_emails.delay()
        complaints_send_pending_emails.delay()

    assert Escalation.objects.get().sent_at is not None
    assert len(mail.outbox) == 1


@pytest.mark.worker
@pytest.mark.django_db
def test_a_manager_notice_that_never_went_out_is_sent_by_a_later_sweep_once(
    agent_a, customer_a, attitude, routing_a, manager_a
):
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False):
        # No on-commit callbacks run here: the notice task was never queued (a worker died, SMTP down).
        complaint = services.complaint_create(
            actor=agent_a,
            customer=customer_a,
            channel=Channel.PHONE,
            department=Department.SERVICE,
            complaint_type=attitude,
            severity=Severity.LOW,
            description="x",
        )
    assert mail.outbox == []

    with time_machine.travel(received + datetime.timedelta(minutes=20), tick=False):
        complaints_send_pending_emails.delay()
        complaints_send_pending_emails.delay()

    assert [message.to for message in mail.outbox] == [[manager_a.email]]
    complaint.refresh_from_db()
    assert complaint.notified_at == received + datetime.timedelta(minutes=20)


@pytest.mark.django_db
def test_the_sweep_leaves_notices_older_than_a_day_alone(agent_a, customer_a, attitude, routing_a):
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False):
        complaint = services.complaint_create(
            actor=agent_a,
            customer=customer_a,
            channel=Channel.PHONE,
            department=Department.SERVICE,
            complaint_type=attitude,
            severity=Severity.LOW,
            description="x",
        )

    with time_machine.travel(received + datetime.timedelta(days=1, minutes=1), tick=False):
        complaints_send_pending_emails.delay()

    complaint.refresh_from_db()
    assert complaint.notified_at is None  # escalation of the breaches has taken over by then


def test_the_breach_check_runs_through_a_real_worker(celery_worker_process, store_a, manager_a):
    from complaints.models import StoreComplaintSettings
    from tests.complaints.factories import ComplaintFactory, ComplaintTypeFactory
    from tests.factories import CustomerFactory

    StoreComplaintSettings.objects.create(store=store_a, service_manager=manager_a, general_manager=manager_a)
    complaint = ComplaintFactory(
        customer=CustomerFactory(store=store_a),
        complaint_type=ComplaintTypeFactory(name="维修质量"),
        received_at=local(2026, 1, 5, 10, 0),
        notified_at=local(2026, 1, 5, 10, 0),
    )

    complaints_check_breaches.apply_async()

    assert wait_until(lambda: Escalation.objects.filter(complaint=complaint, sent_at__isnull=False).count() == 2)
    assert sorted(Escalation.objects.values_list("kind", flat=True)) == ["close", "response"]


# --- e-mails leased, sent, then marked sent ------------------------------------------------------


def test_the_pending_sweep_runs_every_minute_a_registered_task():
    entry = settings.CELERY_BEAT_SCHEDULE["complaints-send-pending-emails"]

    assert entry["task"] in app.tasks
    assert entry["schedule"].minute == set(range(60))
    assert entry["schedule"].hour == set(range(24))
    assert entry["options"]["expires"] < 60


class StateAtSendBackend(BaseEmailBackend):
    """Records, for each message, what the database said about the notice while it was being sent."""

    seen: list = []

    def send_messages(self, email_messages):
        from complaints.models import Complaint

        for _message in email_messages:
            StateAtSendBackend.seen.append(list(Complaint.objects.values_list("notified_at", "notify_lease_until")))
        return len(email_messages)


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise ConnectionRefusedError("SMTP down")


def _log_complaint(agent, customer, complaint_type):
    return services.complaint_create(
        actor=agent,
        customer=customer,
        channel=Channel.PHONE,
        department=Department.SERVICE,
        complaint_type=complaint_type,
        severity=Severity.LOW,
        description="等待时间太长",
    )


@pytest.mark.django_db
def test_a_notice_is_marked_sent_only_once_the_e_mail_went_out(
    settings, agent_a, customer_a, attitude, routing_a, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.complaints.test_tasks.StateAtSendBackend"
    StateAtSendBackend.seen = []
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False), django_capture_on_commit_callbacks(execute=True):
        complaint = _log_complaint(agent_a, customer_a, attitude)

    # While the e-mail was going out the notice was leased, not yet marked sent: a worker killed
    # there leaves it to the sweep instead of losing it.
    assert StateAtSendBackend.seen == [[(None, received + datetime.timedelta(seconds=45))]]
    complaint.refresh_from_db()
    assert (complaint.notified_at, complaint.notify_lease_until) == (received, None)
    assert complaint.notification.queued is True


@pytest.mark.django_db
def test_a_notice_leased_by_a_worker_that_died_is_sent_once_after_the_lease_lapses(
    agent_a, customer_a, attitude, routing_a, manager_a
):
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False):
        complaint = _log_complaint(agent_a, customer_a, attitude)  # no on-commit: the task never ran
    # A worker took the notice at 10:01 and was killed mid-send.
    leased_at = received + datetime.timedelta(minutes=1)
    Complaint.objects.filter(pk=complaint.pk).update(notify_lease_until=leased_at + datetime.timedelta(seconds=45))

    with time_machine.travel(leased_at + datetime.timedelta(seconds=30), tick=False):
        assert complaints_send_pending_emails.delay().get() == 0  # the lease still holds
        complaint_notify_manager.delay(complaint.pk)  # nor does the task itself send
    assert mail.outbox == []

    resumed = leased_at + datetime.timedelta(seconds=60)
    with time_machine.travel(resumed, tick=False):
        assert complaints_send_pending_emails.delay().get() == 1
        assert complaints_send_pending_emails.delay().get() == 0
        complaint_notify_manager.delay(complaint.pk)  # the broker's late redelivery of the dead task

    assert [message.to for message in mail.outbox] == [[manager_a.email]]
    complaint.refresh_from_db()
    assert (complaint.notified_at, complaint.notify_lease_until) == (resumed, None)


@pytest.mark.django_db
def test_a_refused_notice_gives_its_lease_back_for_the_retry(
    settings, agent_a, customer_a, attitude, routing_a, manager_a
):
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False):
        complaint = _log_complaint(agent_a, customer_a, attitude)
        settings.EMAIL_BACKEND = "tests.complaints.test_tasks.RefusingBackend"
        with pytest.raises(ConnectionRefusedError):
            services.complaint_notify_manager_send(complaint_id=complaint.pk)
        complaint.refresh_from_db()
        assert (complaint.notified_at, complaint.notify_lease_until) == (None, None)

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        assert services.complaint_notify_manager_send(complaint_id=complaint.pk) is True

    assert [message.to for message in mail.outbox] == [[manager_a.email]]


@pytest.mark.django_db
def test_an_escalation_leased_by_a_worker_that_died_is_sent_once_after_the_lease_lapses(
    agent_a, customer_a, attitude, routing_a
):
    received = local(2026, 11, 24, 10, 0)
    with time_machine.travel(received, tick=False):
        complaint = _log_complaint(agent_a, customer_a, attitude)
    flagged = received + datetime.timedelta(hours=1, minutes=5)
    escalation = Escalation.objects.create(
        complaint=complaint,
        kind="response",
        due_at=complaint.response_due_at,
        created_at=flagged,
        send_lease_until=flagged + datetime.timedelta(seconds=45),
    )
    Complaint.objects.filter(pk=complaint.pk).update(notified_at=received)

    with time_machine.travel(flagged + datetime.timedelta(seconds=40), tick=False):
        assert complaints_send_pending_emails.delay().get() == 0
        escalation_send.delay(escalation.pk)
    assert mail.outbox == []

    with time_machine.travel(flagged + datetime.timedelta(seconds=50), tick=False):
        assert complaints_send_pending_emails.delay().get() == 1
        escalation_send.delay(escalation.pk)

    assert [sorted(message.to + message.cc) for message in mail.outbox] == [
        ["chairman@example.com", "gm_a@example.com", "manager_a@example.com"]
    ]
    escalation.refresh_from_db()
    assert (escalation.sent_at, escalation.send_lease_until) == (flagged + datetime.timedelta(seconds=50), None)
