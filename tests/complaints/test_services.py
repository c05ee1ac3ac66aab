"""Intake, routing, the SLA clocks, escalation, closing and reopening, with frozen time."""

import datetime

import pytest
import time_machine
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from complaints import services
from complaints.choices import ActionKind, BreachKind, Channel, ClockMode, Confirmation, Department, Severity, Status
from complaints.models import Complaint, ComplaintAction, Escalation
from crm.exceptions import ApplicationError
from crm.models import CalendarDay
from tests.complaints.factories import local

pytestmark = pytest.mark.django_db

T0 = local(2026, 11, 24, 10, 0)  # a Tuesday, a working day


def log_complaint(agent, customer, complaint_type, *, department=Department.SERVICE, callbacks, **extra):
    with callbacks(execute=True):
        return services.complaint_create(
            actor=agent,
            customer=customer,
            channel=Channel.SATISFACTION_CALLBACK,
            department=department,
            complaint_type=complaint_type,
            severity=Severity.HIGH,
            description="保养后发动机异响，客户很不满意",
            **extra,
        )


def flag(now, callbacks):
    with time_machine.travel(now, tick=False), callbacks(execute=True):
        return services.complaints_flag_breaches(now=now)


@pytest.fixture
def logged(agent_a, customer_a, attitude, routing_a, django_capture_on_commit_callbacks):
    with time_machine.travel(T0, tick=False):
        complaint = log_complaint(agent_a, customer_a, attitude, callbacks=django_capture_on_commit_callbacks)
    mail.outbox.clear()
    return complaint


def test_a_service_complaint_goes_to_the_service_manager_with_a_copy_to_the_general_manager(
    agent_a, customer_a, vehicle_a, attitude, routing_a, manager_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        complaint = log_complaint(
            agent_a, customer_a, attitude, vehicle=vehicle_a, callbacks=django_capture_on_commit_callbacks
        )

    assert complaint.assigned_manager == manager_a
    assert (complaint.response_due_at, complaint.close_due_at) == (
        local(2026, 11, 24, 11, 0),
        local(2026, 11, 25, 10, 0),
    )
    assert complaint.status == Status.OPEN
    [message] = mail.outbox
    assert message.to == ["manager_a@example.com"]
    assert message.cc == ["gm_a@example.com"]
    assert f"#{complaint.pk}" in message.subject
    assert "张伟" in message.body
    assert "苏A12345" in message.body
    assert f"/complaints/{complaint.pk}/" in message.body
    assert Complaint.objects.get(pk=complaint.pk).notified_at == T0


def test_a_sales_complaint_goes_to_the_sales_manager(
    agent_a, customer_a, attitude, routing_a, sales_manager_a, django_capture_on_commit_callbacks
):
    complaint = log_complaint(
        agent_a, customer_a, attitude, department=Department.SALES, callbacks=django_capture_on_commit_callbacks
    )

    assert complaint.assigned_manager == sales_manager_a
    assert [message.to for message in mail.outbox] == [["sales_manager_a@example.com"]]


def test_the_intake_notice_is_sent_once_however_often_the_task_runs(logged):
    assert services.complaint_notify_manager_send(complaint_id=logged.pk) is False
    assert mail.outbox == []


def test_without_settings_a_store_gets_the_default_clocks_and_no_manager(
    agent_a, customer_a, attitude, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0, tick=False):
        complaint = log_complaint(agent_a, customer_a, attitude, callbacks=django_capture_on_commit_callbacks)

    assert complaint.assigned_manager is None
    assert complaint.response_due_at == T0 + datetime.timedelta(hours=1)
    assert mail.outbox == []


def test_on_time_no_breach_is_flagged(logged, manager_a, django_capture_on_commit_callbacks):
    with time_machine.travel(T0 + datetime.timedelta(minutes=50), tick=False):
        services.complaint_record_action(actor=manager_a, complaint=logged, kind=ActionKind.ACKNOWLEDGED)
    with time_machine.travel(T0 + datetime.timedelta(hours=20), tick=False):
        services.complaint_close(
            actor=manager_a, complaint=logged, resolution="免费复检并更换支架", confirmation=Confirmation.SATISFIED
        )

    assert flag(T0 + datetime.timedelta(days=3), django_capture_on_commit_callbacks) == []
    logged.refresh_from_db()
    assert (logged.first_response_at, logged.closed_at) == (
        T0 + datetime.timedelta(minutes=50),
        T0 + datetime.timedelta(hours=20),
    )
    assert mail.outbox == []


def test_a_response_breach_is_escalated_to_the_next_level_exactly_once(logged, django_capture_on_commit_callbacks):
    assert flag(T0 + datetime.timedelta(minutes=59), django_capture_on_commit_callbacks) == []

    first = flag(T0 + datetime.timedelta(minutes=61), django_capture_on_commit_callbacks)
    second = flag(T0 + datetime.timedelta(minutes=66), django_capture_on_commit_callbacks)

    escalation = Escalation.objects.get()
    assert first == [escalation.pk]
    assert second == []
    assert (escalation.kind, escalation.level, escalation.cycle) == (BreachKind.RESPONSE, 1, 0)
    assert escalation.due_at == T0 + datetime.timedelta(hours=1)
    [message] = mail.outbox
    assert message.to == ["gm_a@example.com", "chairman@example.com"]
    assert message.cc == ["manager_a@example.com"]
    assert escalation.__class__.objects.get().sent_at is not None
    assert list(logged.actions.values_list("kind", flat=True)) == [ActionKind.LOGGED, ActionKind.ESCALATED]
    # The e-mail task run again (a retry, a second worker) sends nothing more.
    assert services.escalation_send_email(escalation_id=escalation.pk) is False
    assert len(mail.outbox) == 1


def test_a_close_breach_is_escalated_once_when_the_response_came_in_time(
    logged, manager_a, django_capture_on_commit_callbacks
):
    with time_machine.travel(T0 + datetime.timedelta(minutes=30), tick=False):
        services.complaint_record_action(actor=manager_a, complaint=logged, kind=ActionKind.CONTACTED, note="已致电")

    assert flag(T0 + datetime.timedelta(hours=23, minutes=59), django_capture_on_commit_callbacks) == []
    flag(T0 + datetime.timedelta(hours=24, minutes=1), django_capture_on_commit_callbacks)
    flag(T0 + datetime.timedelta(hours=30), django_capture_on_commit_callbacks)

    assert list(Escalation.objects.values_list("kind", flat=True)) == [BreachKind.CLOSE]
    assert len(mail.outbox) == 1
    assert "gm_a@example.com" in mail.outbox[0].to


def test_both_breaches_of_an_untouched_complaint_are_escalated_once_each(logged, django_capture_on_commit_callbacks):
    flag(T0 + datetime.timedelta(hours=2), django_capture_on_commit_callbacks)
    flag(T0 + datetime.timedelta(hours=25), django_capture_on_commit_callbacks)
    flag(T0 + datetime.timedelta(hours=26), django_capture_on_commit_callbacks)

    assert sorted(Escalation.objects.values_list("kind", flat=True)) == [BreachKind.CLOSE, BreachKind.RESPONSE]
    assert len(mail.outbox) == 2


def test_business_hours_mode_across_a_weekend(
    agent_a, customer_a, attitude, routing_a, django_capture_on_commit_callbacks
):
    routing_a.clock_mode = ClockMode.BUSINESS
    routing_a.save()
    friday_evening = local(2026, 11, 20, 17, 30)
    with time_machine.travel(friday_evening, tick=False):
        complaint = log_complaint(agent_a, customer_a, attitude, callbacks=django_capture_on_commit_callbacks)

    # 30 minutes on Friday, 30 on Monday; 24 business hours: 0.5 h Fri + 9.5 Mon + 9.5 Tue + 4.5 Wed.
    assert complaint.response_due_at == local(2026, 11, 23, 9, 0)
    assert complaint.close_due_at == local(2026, 11, 25, 13, 0)
    assert flag(local(2026, 11, 22, 12, 0), django_capture_on_commit_callbacks) == []
    assert flag(local(2026, 11, 23, 8, 59), django_capture_on_commit_callbacks) == []
    assert len(flag(local(2026, 11, 23, 9, 1), django_capture_on_commit_callbacks)) == 1


def test_business_hours_mode_across_a_night_and_an_official_holiday(
    agent_a, customer_a, attitude, routing_a, django_capture_on_commit_callbacks
):
    routing_a.clock_mode = ClockMode.BUSINESS
    routing_a.save()
    CalendarDay.objects.create(date=datetime.date(2026, 11, 25), kind="holiday", name="店休")
    with time_machine.travel(local(2026, 11, 24, 17, 40), tick=False):
        complaint = log_complaint(agent_a, customer_a, attitude, callbacks=django_capture_on_commit_callbacks)

    # 20 minutes on Tuesday, Wednesday is a day off, 40 minutes on Thursday.
    assert complaint.response_due_at == local(2026, 11, 26, 9, 10)


def test_closing_without_the_customers_confirmation_is_refused_and_nothing_changes(logged, manager_a):
    with pytest.raises(ApplicationError) as refused:
        services.complaint_close(actor=manager_a, complaint=logged, resolution="已更换配件", confirmation="")

    assert refused.value.message == (
        "The complaint cannot be closed without the customer's confirmation: call the customer back "
        "and record whether they are satisfied."
    )
    logged.refresh_from_db()
    assert (logged.status, logged.closed_at, logged.resolution) == (Status.OPEN, None, "")
    assert logged.actions.count() == 1


def test_closing_without_a_resolution_is_refused(logged, manager_a):
    with pytest.raises(ApplicationError, match="resolution"):
        services.complaint_close(actor=manager_a, complaint=logged, resolution=" ", confirmation="satisfied")


def test_close_and_reopen_keep_every_change_in_history(logged, manager_a, django_capture_on_commit_callbacks):
    with time_machine.travel(T0 + datetime.timedelta(hours=2), tick=False):
        services.complaint_close(
            actor=manager_a,
            complaint=logged,
            resolution="赔偿保养券一张",
            confirmation=Confirmation.NOT_SATISFIED,
            confirmation_note="客户仍有异议",
        )
    reopened_at = T0 + datetime.timedelta(hours=3)
    with time_machine.travel(reopened_at, tick=False):
        complaint = services.complaint_reopen(actor=manager_a, complaint=logged, reason="客户再次来电")

    assert (complaint.status, complaint.reopened_count, complaint.closed_at) == (Status.IN_PROGRESS, 1, None)
    assert complaint.customer_confirmation == ""
    assert complaint.close_due_at == reopened_at + datetime.timedelta(hours=24)
    assert list(complaint.actions.values_list("kind", flat=True)) == [
        ActionKind.LOGGED,
        ActionKind.CLOSED,
        ActionKind.REOPENED,
    ]
    history = list(complaint.history.order_by("history_date").values_list("status", "history_user__username"))
    assert history == [("open", "agent_a"), ("closed", "manager_a"), ("in_progress", "manager_a")]
    # A breach after the reopening is a new breach: escalated once more.
    flag(reopened_at + datetime.timedelta(hours=25), django_capture_on_commit_callbacks)
    assert list(Escalation.objects.values_list("kind", "cycle")) == [(BreachKind.CLOSE, 1)]


def test_the_first_action_is_the_response(logged, manager_a):
    with time_machine.travel(T0 + datetime.timedelta(minutes=20), tick=False):
        services.complaint_record_action(actor=manager_a, complaint=logged, kind=ActionKind.ACKNOWLEDGED)
    with time_machine.travel(T0 + datetime.timedelta(minutes=40), tick=False):
        services.complaint_record_action(
            actor=manager_a, complaint=logged, kind=ActionKind.COMPENSATION, note="赠送机油一次"
        )

    logged.refresh_from_db()
    assert logged.first_response_at == T0 + datetime.timedelta(minutes=20)
    assert logged.status == Status.IN_PROGRESS


def test_a_solution_needs_a_note(logged, manager_a):
    with pytest.raises(ApplicationError, match="note"):
        services.complaint_record_action(actor=manager_a, complaint=logged, kind=ActionKind.SOLUTION_PROPOSED)
    assert ComplaintAction.objects.count() == 1


def test_a_vehicle_of_another_customer_is_refused(agent_a, customer_a, attitude, store_a):
    from tests.factories import VehicleFactory

    other = VehicleFactory(customer__store=store_a)
    with pytest.raises(ApplicationError, match="vehicle"):
        services.complaint_create(
            actor=agent_a,
            customer=customer_a,
            vehicle=other,
            channel=Channel.PHONE,
            department=Department.SERVICE,
            complaint_type=attitude,
            severity=Severity.LOW,
            description="x",
        )
    assert Complaint.objects.count() == 0


@pytest.mark.parametrize(
    ("name", "content_type", "size", "message"),
    [
        ("virus.exe", "application/octet-stream", 10, "not an accepted file type"),
        ("photo.jpg", "application/pdf", 10, "does not match its name"),
        ("video.mp4", "video/mp4", 10 * 1024 * 1024 + 1, "at most 10 MB"),
    ],
)
def test_attachments_are_checked_for_type_and_size(logged, manager_a, name, content_type, size, message):
    upload = SimpleUploadedFile(name, b"x" * size, content_type=content_type)

    with pytest.raises(ApplicationError, match=message):
        services.complaint_attachment_add(actor=manager_a, complaint=logged, uploaded_file=upload)
    assert logged.attachments.count() == 0


def test_an_accepted_attachment_is_stored(logged, manager_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("scratch.png", b"\x89PNG....", content_type="image/png")

    attachment = services.complaint_attachment_add(actor=manager_a, complaint=logged, uploaded_file=upload)

    assert (attachment.original_name, attachment.size, attachment.content_type) == ("scratch.png", 8, "image/png")
    assert (tmp_path / attachment.file.name).read_bytes() == b"\x89PNG...."
