import datetime

import pytest
import time_machine
from django.conf import settings
from django.core import mail

from complaints import services
from complaints.choices import Channel, Department, Severity
from complaints.models import Escalation
from complaints.tasks import complaints_check_breaches, escalation_send
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
        complaints_check_breaches.delay()
        escalation_send.delay(Escalation.objects.get().pk)

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
        complaints_check_breaches.delay()
        complaints_check_breaches.delay()

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
        complaints_check_breaches.delay()

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
