"""Appointments in follow-ups (docs/appointments.md, docs/followups.md): appointment_reminder and
no_show_followup through the real SQL and export_tasks, a visit booked from a call, the confirmation
SMS held to the sending window, and the Y / N replies against event invitations."""

import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from crm.models import CalendarDay
from customers.choices import AppointmentPurpose, AppointmentSource, AppointmentStatus
from customers.models import Appointment
from customers.services.appointments import (
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointments_mark_no_shows,
    walk_in_record,
)
from followups.appointments import appointment_confirmation_queue
from followups.forms import booking_purpose_for
from followups.models import CallAttempt, FollowupTask, InboundSms, SmsMessage
from followups.selectors import call_summary, completion_report
from followups.services import followups_generate_day, sms_inbound_receive, sms_send_batch, task_claim_next
from tests.customers.dms_helpers import make_vin, repair_row, run_import, write_csv
from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
D = datetime.date
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
WEDNESDAY = D(2026, 12, 2)
NOW = datetime.datetime(2026, 12, 2, 9, 10, tzinfo=SHANGHAI)  # a Wednesday, call and SMS windows open
NINE = datetime.time(9, 0)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def gateway(tmp_path, settings):
    from followups.gateways import FileGateway

    settings.SMS_FILE_GATEWAY_DIR = str(tmp_path)
    return FileGateway(tmp_path)


def owner(store, *, name="张伟", mobile="13900001111", number=1):
    customer = CustomerFactory(store=store, name=name, mobile=mobile, customer_no=f"C{number:04d}")
    return customer, VehicleFactory(customer=customer, store=store, vin=make_vin(number), plate_no=f"苏A{number:05d}")


def book(user, store, day, *, slot=NINE, number=1, source=AppointmentSource.DESK, mobile=None, commit=None):
    customer, vehicle = owner(store, number=number, mobile=mobile or f"139{number:08d}")
    return appointment_book(
        user=user, customer=customer, vehicle=vehicle, date=day, slot=slot,
        purpose=AppointmentPurpose.MAINTENANCE, source=source,
    )  # fmt: skip


def generate(day, store, codes):
    return followups_generate_day(day=day, store_ids=[store.pk], codes=codes)


def export(day: str) -> list[str]:
    output = io.StringIO()
    call_command("export_tasks", "--date", day, "--format", "csv", stdout=output)
    return output.getvalue().splitlines()[1:]


# --- appointment_reminder ------------------------------------------------------------------------------


def test_a_monday_booking_is_reminded_on_friday_once(store_a, advisor_a):
    rules_for(store_a)
    monday = book(advisor_a, store_a, D(2026, 12, 7), slot=datetime.time(10, 30))

    assert generate(D(2026, 12, 3), store_a, ["appointment_reminder"]) == {"appointment_reminder": 0}
    assert generate(D(2026, 12, 4), store_a, ["appointment_reminder"]) == {"appointment_reminder": 1}
    assert generate(D(2026, 12, 4), store_a, ["appointment_reminder"]) == {"appointment_reminder": 0}
    assert generate(D(2026, 12, 5), store_a, ["appointment_reminder"]) == {"appointment_reminder": 0}

    task = FollowupTask.objects.get(code="appointment_reminder")
    assert (task.unit_id, task.customer_id, task.vehicle_id, task.channel) == (
        monday.pk, monday.customer_id, monday.vehicle_id, "sms"
    )  # fmt: skip
    assert (task.rule_date, task.queue_date, task.subject_date) == (D(2026, 12, 4), D(2026, 12, 4), D(2026, 12, 7))
    assert task.detail == {"appointment_id": monday.pk, "time": "10:30"}
    assert export("2026-12-04") == [f"appointment_reminder,C0001,{make_vin(1)},sms,2026-12-04"]


def test_across_an_official_holiday_the_reminder_comes_on_the_last_working_day_before(store_a, advisor_a):
    rules_for(store_a)
    for day in (D(2026, 12, 10), D(2026, 12, 11)):  # a store's holiday entered in the official calendar
        CalendarDay.objects.create(date=day, kind="holiday", name="店休")
    after = book(advisor_a, store_a, D(2026, 12, 14), number=1)
    before = book(advisor_a, store_a, D(2026, 12, 9), number=2)

    made = [generate(day, store_a, ["appointment_reminder"])["appointment_reminder"]
            for day in (D(2026, 12, 8), D(2026, 12, 9), D(2026, 12, 10), D(2026, 12, 11))]  # fmt: skip

    assert made == [1, 1, 0, 0]
    assert dict(FollowupTask.objects.values_list("unit_id", "queue_date")) == {
        before.pk: D(2026, 12, 8),
        after.pk: D(2026, 12, 9),
    }
    assert export("2026-12-09") == [f"appointment_reminder,C0001,{make_vin(1)},sms,2026-12-09"]


def test_a_cancelled_booking_and_a_walk_in_get_no_reminder(store_a, advisor_a):
    rules_for(store_a)
    cancelled = book(advisor_a, store_a, D(2026, 12, 3), number=1)
    appointment_cancel(user=advisor_a, appointment=cancelled)
    customer, vehicle = owner(store_a, number=2, mobile="13900000002")
    walk_in_record(user=advisor_a, customer=customer, vehicle=vehicle, purpose=AppointmentPurpose.REPAIR)

    assert generate(WEDNESDAY, store_a, ["appointment_reminder"]) == {"appointment_reminder": 0}
    assert export("2026-12-02") == []


def test_cancelling_after_generation_withdraws_the_reminder(store_a, advisor_a, django_capture_on_commit_callbacks):
    rules_for(store_a)
    appointment = book(advisor_a, store_a, D(2026, 12, 3))
    generate(WEDNESDAY, store_a, ["appointment_reminder"])

    with django_capture_on_commit_callbacks(execute=True):
        appointment_cancel(user=advisor_a, appointment=appointment)

    assert FollowupTask.objects.get(code="appointment_reminder").status == "closed"


# --- no_show_followup ---------------------------------------------------------------------------------


def test_a_no_show_is_called_on_the_next_working_day_with_high_priority(store_a, advisor_a):
    rules_for(store_a)
    friday = book(advisor_a, store_a, D(2026, 12, 4))
    with time_machine.travel(datetime.datetime(2026, 12, 4, 23, 30, tzinfo=SHANGHAI), tick=False):
        assert appointments_mark_no_shows(day=D(2026, 12, 4)) == 1

    made = [generate(day, store_a, ["no_show_followup"])["no_show_followup"]
            for day in (D(2026, 12, 5), D(2026, 12, 6), D(2026, 12, 7), D(2026, 12, 7))]  # fmt: skip

    assert made == [0, 0, 1, 0]
    task = FollowupTask.objects.get(code="no_show_followup")
    assert (task.unit_id, task.vehicle_id, task.channel, task.priority) == (friday.pk, friday.vehicle_id, "phone", 1)
    assert (task.rule_date, task.queue_date, task.subject_date) == (D(2026, 12, 5), D(2026, 12, 7), D(2026, 12, 4))
    assert task.detail == {"appointment_id": friday.pk, "time": "09:00"}
    assert export("2026-12-07") == [f"no_show_followup,C0001,{make_vin(1)},phone,2026-12-07"]


def test_a_booking_kept_by_check_in_or_by_an_imported_repair_order_makes_no_call(
    store_a, advisor_a, tmp_path, django_capture_on_commit_callbacks
):
    rules_for(store_a)
    checked_in = book(advisor_a, store_a, WEDNESDAY, number=1)
    appointment_check_in(user=advisor_a, appointment=checked_in)
    book(advisor_a, store_a, WEDNESDAY, number=2)  # kept by the next day's repair order
    missed = book(advisor_a, store_a, WEDNESDAY, number=3)
    assert appointments_mark_no_shows(day=WEDNESDAY) == 2
    # The next day's repair order of the second car arrives with the DMS import.
    order = repair_row("RO-1", make_vin(2), 进厂日期="2026-12-03", 结算日期="2026-12-03")
    orders = write_csv(tmp_path / "ro.csv", [order])
    with django_capture_on_commit_callbacks(execute=True):
        run_import("repair_orders", orders)

    assert generate(D(2026, 12, 3), store_a, ["no_show_followup"]) == {"no_show_followup": 1}
    assert list(FollowupTask.objects.values_list("unit_id", flat=True)) == [missed.pk]
    assert export("2026-12-03") == [f"no_show_followup,C0003,{make_vin(3)},phone,2026-12-03"]


def test_a_no_show_call_shows_in_the_queue_on_the_next_working_day(store_a, advisor_a, agent_a):
    rules_for(store_a)
    missed = book(advisor_a, store_a, D(2026, 12, 4))
    with time_machine.travel(datetime.datetime(2026, 12, 4, 23, 30, tzinfo=SHANGHAI), tick=False):
        appointments_mark_no_shows(day=D(2026, 12, 4))
    generate(D(2026, 12, 7), store_a, ["no_show_followup"])

    with time_machine.travel(datetime.datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI), tick=False):
        claimed = task_claim_next(user=agent_a)

    assert [(task.code, task.customer_id) for task in claimed] == [("no_show_followup", missed.customer_id)]


# --- booked from a call ----------------------------------------------------------------------------------


def test_the_purpose_of_a_booking_follows_the_rule():
    codes = ("first_service_invite", "maintenance_due", "insurance_renewal", "inspection_due", "warranty_expiry",
             "no_show_followup", "lost_customer")  # fmt: skip
    purposes = ["first_service", "maintenance", "insurance", "inspection", "maintenance", "maintenance", "maintenance"]
    assert [booking_purpose_for([code]) for code in codes] == purposes
    assert booking_purpose_for(["delivery_thanks", "insurance_renewal"]) == "insurance"


def claimed_call(store, agent, code="maintenance_due", **customer_fields):
    customer, vehicle = owner(store, **customer_fields)
    task = FollowupTaskFactory(store=store, customer=customer, vehicle=vehicle, unit_id=vehicle.pk, code=code,
                               rule_date=WEDNESDAY)  # fmt: skip
    assert task_claim_next(user=agent)
    return task


def booking_post(vehicle, **changes):
    return {"outcome": "booked", "notes": "客户同意周四来", "booking-vehicle": vehicle.pk,
            "booking-date": "2026-12-03", "booking-slot": "09:00", "booking-purpose": "maintenance",
            "booking-advisor": "", "booking-notes": "顺便检查空调", **changes}  # fmt: skip


def test_the_call_page_offers_the_booking_with_the_days_slots(client, store_a, agent_a):
    task = claimed_call(store_a, agent_a, code="first_service_invite")
    client.force_login(agent_a)

    html = client.get(reverse("followups:call", args=[task.customer_id])).content.decode()

    assert 'data-outcome="booked"' in html
    assert 'name="booking-date" value="2026-12-03"' in html  # the next working day
    assert html.count('name="booking-slot"') == 17  # 08:30 to 16:30 every 30 minutes
    assert 'data-slot="09:00" data-free="4"' in html
    assert '<option value="first_service" selected>' in html


def test_an_agent_books_a_visit_on_the_call(client, store_a, agent_a, advisor_a, django_capture_on_commit_callbacks):
    task = claimed_call(store_a, agent_a)
    client.force_login(agent_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("followups:call_outcome", args=[task.customer_id]),
            booking_post(task.vehicle, **{"booking-advisor": advisor_a.pk}),
        )

    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.source, appointment.source_reference, appointment.status, appointment.purpose) == (
        "call", f"followuptask:{task.pk}", "booked", "maintenance"
    )  # fmt: skip
    assert (appointment.date, appointment.slot, appointment.advisor, appointment.notes) == (
        D(2026, 12, 3), NINE, advisor_a, "顺便检查空调"
    )  # fmt: skip
    task.refresh_from_db()
    assert (task.status, task.outcome, task.attempts) == ("done", "booked", 1)
    attempt = CallAttempt.objects.get()
    assert (attempt.outcome, attempt.notes) == ("booked", "客户同意周四来")
    message = SmsMessage.objects.get()
    assert (message.code, message.appointment_id, message.not_before, message.send_date, message.status) == (
        "appointment_confirmation", appointment.pk, None, WEDNESDAY, "queued"
    )  # fmt: skip
    assert message.body == (
        f"【{store_a.sms_signature}】尊敬的张伟：您已预约2026年12月3日 09:00到江宁店为爱车苏A00001服务，"
        "确认请回复Y，取消请回复N，"
        f"如需改期请致电{store_a.phone}。回T退订"
    )


def test_a_booked_call_counts_as_reached_in_the_reports(client, store_a, agent_a, manager_a):
    task = claimed_call(store_a, agent_a)
    client.force_login(agent_a)
    client.post(reverse("followups:call_outcome", args=[task.customer_id]), booking_post(task.vehicle))

    summary = call_summary(user=manager_a, start=WEDNESDAY, end=WEDNESDAY)
    by_rule = completion_report(user=manager_a, start=WEDNESDAY, end=WEDNESDAY)["by_rule"]

    assert (summary["total"], summary["reached"], summary["reach_rate"]) == (1, 1, 100.0)
    assert [(row["task__code"], row["made"], row["reached"]) for row in by_rule] == [("maintenance_due", 1, 1)]


def test_a_full_slot_keeps_the_form_names_the_next_free_slots_and_records_nothing(client, store_a, agent_a, advisor_a):
    for number in range(2, 6):
        book(advisor_a, store_a, D(2026, 12, 3), number=number)
    task = claimed_call(store_a, agent_a)
    client.force_login(agent_a)

    response = client.post(
        reverse("followups:call_outcome", args=[task.customer_id]),
        booking_post(task.vehicle, **{f"answer-{task.pk}-0": "8000公里"}),
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert 'maxlength="500">8000公里</textarea>' in html  # the questionnaire's answers stay too
    assert "该时段已约满。最近可约时段：2026年12月3日 09:30、2026年12月3日 10:00、2026年12月3日 10:30" in html
    assert "顺便检查空调" in html  # the values stay
    assert 'data-slot="09:00" data-free="0"' in html
    assert Appointment.objects.filter(customer=task.customer).count() == 0
    assert CallAttempt.objects.count() == 0
    task.refresh_from_db()
    assert (task.status, task.claimed_by, task.attempts) == ("open", agent_a, 0)


def test_show_free_slots_changes_the_day_and_records_nothing(client, store_a, agent_a):
    task = claimed_call(store_a, agent_a)
    client.force_login(agent_a)

    response = client.post(
        reverse("followups:call_outcome", args=[task.customer_id]),
        booking_post(task.vehicle, **{"booking-date": "2026-12-05", "show_slots": "1"}),
    )

    html = response.content.decode()
    assert "2026-12-05 不是工作日" in html
    assert 'value="2026-12-05"' in html
    assert (Appointment.objects.count(), CallAttempt.objects.count()) == (0, 0)


def test_manager_b_cannot_book_on_store_a_s_call(client, store_a, agent_a, manager_b):
    task = claimed_call(store_a, agent_a)
    client.force_login(manager_b)

    response = client.post(reverse("followups:call_outcome", args=[task.customer_id]), booking_post(task.vehicle))

    assert response.status_code == 404
    assert (Appointment.objects.count(), CallAttempt.objects.count()) == (0, 0)
    task.refresh_from_db()
    assert (task.status, task.claimed_by) == ("open", agent_a)


# --- the confirmation SMS -----------------------------------------------------------------------------


def test_a_booking_at_night_is_confirmed_when_the_window_opens(store_a, advisor_a, gateway):
    with time_machine.travel(datetime.datetime(2026, 12, 2, 21, 0, tzinfo=SHANGHAI), tick=False):
        appointment = book(advisor_a, store_a, D(2026, 12, 4))
        message = appointment_confirmation_queue(appointment=appointment)
        assert appointment_confirmation_queue(appointment=appointment) == message  # once
        assert sms_send_batch(store_id=store_a.pk, now=datetime.datetime(2026, 12, 2, 21, 0, tzinfo=SHANGHAI)) == {
            "outside_window": 1
        }
    assert (message.send_date, message.not_before) == (
        D(2026, 12, 3), datetime.datetime(2026, 12, 3, 9, 0, tzinfo=SHANGHAI)
    )  # fmt: skip
    assert sms_send_batch(store_id=store_a.pk, day=D(2026, 12, 3),
                          now=datetime.datetime(2026, 12, 3, 8, 59, tzinfo=SHANGHAI))["sent"] == 0  # fmt: skip
    assert sms_send_batch(store_id=store_a.pk, day=D(2026, 12, 3),
                          now=datetime.datetime(2026, 12, 3, 9, 0, tzinfo=SHANGHAI))["sent"] == 1  # fmt: skip


def test_no_confirmation_for_an_opted_out_customer_or_a_walk_in(store_a, advisor_a):
    opted_out = book(advisor_a, store_a, D(2026, 12, 4), number=1)
    opted_out.customer.sms_opt_out = True
    opted_out.customer.save()
    customer, vehicle = owner(store_a, number=2, mobile="13900000002")
    walk_in = walk_in_record(user=advisor_a, customer=customer, vehicle=vehicle, purpose=AppointmentPurpose.REPAIR)

    assert appointment_confirmation_queue(appointment=opted_out) is None
    assert appointment_confirmation_queue(appointment=walk_in) is None
    assert SmsMessage.objects.count() == 0


# --- Y / N ---------------------------------------------------------------------------------------------------


def sent(store, customer, code, at, *, key, appointment=None):
    return SmsMessage.objects.create(
        idempotency_key=key, store=store, customer=customer, code=code, mobile=customer.mobile, body="…",
        send_date=at.date(), status="sent", sent_at=at, appointment=appointment,
    )  # fmt: skip


def test_y_confirms_and_n_cancels_the_booking_of_the_latest_appointment_message(store_a, advisor_a):
    first = book(advisor_a, store_a, D(2026, 12, 4), number=1, mobile="13900000001")
    second = book(advisor_a, store_a, D(2026, 12, 4), number=2, mobile="13900000002")
    sent(store_a, first.customer, "appointment_confirmation", NOW, key="a1", appointment=first)
    reminder = FollowupTaskFactory(store=store_a, customer=second.customer, code="appointment_reminder",
                                   channel="sms", unit_id=second.pk, detail={"appointment_id": second.pk})  # fmt: skip
    SmsMessage.objects.create(idempotency_key="a2", task=reminder, store=store_a, customer=second.customer,
                              code="appointment_reminder", mobile="13900000002", body="…", send_date=WEDNESDAY,
                              status="sent", sent_at=NOW)  # fmt: skip
    later = NOW + datetime.timedelta(hours=1)

    assert sms_inbound_receive(mobile="13900000001", text="确认", received_at=later).action == "appointment_confirmed"
    assert sms_inbound_receive(mobile="13900000002", text=" n。", received_at=later).action == "appointment_cancelled"

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (AppointmentStatus.CONFIRMED, AppointmentStatus.CANCELLED)


def test_an_event_invitation_sent_later_takes_the_y(store_a, advisor_a):
    appointment = book(advisor_a, store_a, D(2026, 12, 4), mobile="13900000001")
    sent(store_a, appointment.customer, "appointment_confirmation", NOW, key="a1", appointment=appointment)
    sent(store_a, appointment.customer, "event_notice", NOW + datetime.timedelta(minutes=5), key="e1")

    reply = sms_inbound_receive(mobile="13900000001", text="Y", received_at=NOW + datetime.timedelta(hours=1))

    assert reply.action == "rsvp"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_an_appointment_message_sent_after_the_invitation_takes_the_y(store_a, advisor_a):
    appointment = book(advisor_a, store_a, D(2026, 12, 4), mobile="13900000001")
    sent(store_a, appointment.customer, "event_notice", NOW, key="e1")
    sent(store_a, appointment.customer, "appointment_confirmation", NOW + datetime.timedelta(minutes=5), key="a1",
         appointment=appointment)  # fmt: skip

    reply = sms_inbound_receive(mobile="13900000001", text="是", received_at=NOW + datetime.timedelta(hours=1))

    assert reply.action == "appointment_confirmed"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED


def test_a_reply_answers_an_appointment_message_for_three_days_only(store_a, advisor_a):
    appointment = book(advisor_a, store_a, D(2026, 12, 11), mobile="13900000001")
    sent(store_a, appointment.customer, "appointment_confirmation", NOW, key="a1", appointment=appointment)
    edge = NOW + datetime.timedelta(days=3)

    late = sms_inbound_receive(mobile="13900000001", text="N", received_at=edge + datetime.timedelta(seconds=1))
    assert late.action == "none"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED

    assert sms_inbound_receive(mobile="13900000001", text="N", received_at=edge).action == "appointment_cancelled"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED


def test_y_to_an_already_cancelled_booking_changes_nothing(store_a, advisor_a):
    appointment = book(advisor_a, store_a, D(2026, 12, 4), mobile="13900000001")
    appointment_cancel(user=advisor_a, appointment=appointment)
    sent(store_a, appointment.customer, "appointment_confirmation", NOW, key="a1", appointment=appointment)
    history_before = appointment.history.count()

    reply = sms_inbound_receive(mobile="13900000001", text="Y", received_at=NOW + datetime.timedelta(hours=1))

    assert reply.action == "none"
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert appointment.history.count() == history_before
    assert InboundSms.objects.get().in_reply_to.code == "appointment_confirmation"
