"""Service appointments: capacity, the VIP green channel, cancelling, check-in, walk-ins, no-shows,
kept by check-in or by a repair order, settings, listeners and the store scope."""

import datetime

import pytest
import time_machine

from crm.choices import AuditAction
from crm.exceptions import ApplicationError
from crm.models import AuditLog
from customers.appointment_events import appointment_listener_register, appointment_listener_unregister
from customers.choices import AppointmentPurpose, AppointmentSource, AppointmentStatus, ImportKind
from customers.import_listeners import ImportCommitted
from customers.models import Appointment, AppointmentSettings
from customers.selectors.appointments import (
    appointment_day_slots,
    appointment_queryset_for_user,
    appointment_settings_for,
    arrivals_board,
    bookings_per_day,
)
from customers.services.appointments import (
    appointment_book,
    appointment_cancel,
    appointment_check_in,
    appointment_confirm,
    appointment_reschedule,
    appointment_settings_update,
    appointments_kept_after_import,
    appointments_mark_kept_by_repair_orders,
    appointments_mark_no_shows,
    walk_in_record,
)
from customers.tasks import mark_appointment_no_shows
from tests.customers.appointment_helpers import NINE, NOW, SATURDAY, TODAY, TOMORROW, book, owner
from tests.customers.dms_helpers import make_vin, repair_row, run_import, write_csv
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_day():
    with time_machine.travel(NOW, tick=False):
        yield


def test_a_slot_takes_four_bookings_and_refuses_the_fifth_naming_the_next_free_slots(store_a, advisor_a):
    for number in range(4):
        book(advisor_a, store_a, name=f"客户{number}")

    with pytest.raises(ApplicationError) as refused:
        book(advisor_a, store_a, name="第五位")

    assert (
        refused.value.message
        == "该时段已约满。最近可约时段：2026年12月3日 09:30、2026年12月3日 10:00、2026年12月3日 10:30"
    )
    assert refused.value.extra["next_free_slots"] == ["2026-12-03T09:30", "2026-12-03T10:00", "2026-12-03T10:30"]
    assert Appointment.objects.filter(date=TOMORROW, slot=NINE).count() == 4
    assert not Appointment.objects.filter(is_over_capacity=True).exists()
    working, slots = appointment_day_slots(store=store_a, day=TOMORROW)
    assert working is True
    assert len(slots) == 17  # 08:30 … 16:30
    assert (slots[0].start, slots[-1].start) == (datetime.time(8, 30), datetime.time(16, 30))
    assert [(slot.booked, slot.free) for slot in slots[:3]] == [(0, 4), (4, 0), (0, 4)]


def test_a_vip_takes_one_place_over_capacity_and_only_one(store_a, advisor_a):
    for number in range(4):
        book(advisor_a, store_a, name=f"客户{number}")

    vip = book(advisor_a, store_a, vip=True, name="贵宾甲")
    with pytest.raises(ApplicationError):
        book(advisor_a, store_a, vip=True, name="贵宾乙")
    with pytest.raises(ApplicationError):
        book(advisor_a, store_a, name="普通")

    assert (vip.is_vip, vip.is_over_capacity) == (True, True)
    assert Appointment.objects.filter(date=TOMORROW, slot=NINE).count() == 5
    assert list(Appointment.objects.filter(is_over_capacity=True).values_list("pk", flat=True)) == [vip.pk]


def test_a_vip_booked_first_keeps_the_green_channel_place_for_the_fifth(store_a, advisor_a):
    vip = book(advisor_a, store_a, vip=True, name="贵宾")
    for number in range(4):
        book(advisor_a, store_a, name=f"客户{number}")

    with pytest.raises(ApplicationError):
        book(advisor_a, store_a, name="第六位")

    vip.refresh_from_db()
    assert vip.is_over_capacity is True
    assert Appointment.objects.filter(date=TOMORROW, slot=NINE).count() == 5
    assert Appointment.objects.filter(is_over_capacity=True).count() == 1


def test_cancelling_frees_the_place(store_a, advisor_a):
    bookings = [book(advisor_a, store_a, name=f"客户{number}") for number in range(4)]

    cancelled = appointment_cancel(user=advisor_a, appointment=bookings[0], reason="客户出差")
    again = appointment_cancel(user=advisor_a, appointment=bookings[0])
    fifth = book(advisor_a, store_a, name="第五位")

    assert (cancelled.status, again.status, fifth.status) == ("cancelled", "cancelled", "booked")
    assert Appointment.objects.filter(slot=NINE, status__in=["booked", "confirmed", "arrived"]).count() == 4
    assert cancelled.history.first().history_change_reason == "客户出差"


@pytest.mark.parametrize(
    ("day", "slot", "expected"),
    [
        (SATURDAY, NINE, "不是工作日"),
        (datetime.date(2027, 1, 1), NINE, "不是工作日"),  # 元旦
        (TOMORROW, datetime.time(8, 0), "不是预约时段"),
        (TOMORROW, datetime.time(16, 45), "不是预约时段"),
        (TOMORROW, datetime.time(9, 10), "不是预约时段"),
        (datetime.date(2026, 12, 1), NINE, "该日期已过"),
    ],
)
def test_days_off_times_outside_the_slots_and_past_days_are_refused(store_a, advisor_a, day, slot, expected):
    with pytest.raises(ApplicationError) as refused:
        book(advisor_a, store_a, day=day, slot=slot)

    assert expected in refused.value.message
    assert Appointment.objects.count() == 0


def test_the_last_slot_of_the_day_starts_at_half_past_four(store_a, advisor_a):
    appointment = book(advisor_a, store_a, slot=datetime.time(16, 30))

    assert appointment.slot == datetime.time(16, 30)


def test_a_vehicle_of_another_customer_is_refused(store_a, advisor_a):
    customer, _vehicle = owner(store_a)
    _other, other_vehicle = owner(store_a, name="李雷")

    with pytest.raises(ApplicationError, match="该车辆不属于此客户"):
        appointment_book(user=advisor_a, customer=customer, vehicle=other_vehicle, date=TOMORROW, slot=NINE,
                         purpose="repair", source="desk")  # fmt: skip

    assert Appointment.objects.count() == 0


def test_the_same_vehicle_twice_on_one_day_is_refused(store_a, advisor_a):
    customer, vehicle = owner(store_a)
    values = {"purpose": "repair", "source": "call", "date": TOMORROW}
    appointment_book(user=advisor_a, customer=customer, vehicle=vehicle, slot=NINE, **values)

    with pytest.raises(ApplicationError, match="该车当天已有预约"):
        appointment_book(user=advisor_a, customer=customer, vehicle=vehicle, slot=datetime.time(10, 0), **values)

    assert Appointment.objects.count() == 1


def test_a_store_setting_changes_the_grid_and_is_audited(store_a, manager_a, advisor_a):
    appointment_settings_update(user=manager_a, store=store_a, slot_minutes=60, capacity=2)
    appointment_settings_update(user=manager_a, store=store_a, slot_minutes=60, capacity=2)  # nothing changes

    settings = AppointmentSettings.objects.get(store=store_a)
    assert [start.strftime("%H:%M") for start in settings.slot_starts()] == [
        "08:30", "09:30", "10:30", "11:30", "12:30", "13:30", "14:30", "15:30",
    ]  # fmt: skip
    log = AuditLog.objects.get(action=AuditAction.CHANGE_SETTINGS)
    assert (log.object_type, log.object_ids, log.detail) == (
        "customers.appointmentsettings", [str(store_a.pk)], {"slot_minutes": "60", "capacity": "2"},
    )  # fmt: skip
    assert settings.history.count() == 2  # made with the defaults, then changed
    with pytest.raises(ApplicationError, match="不是预约时段"):
        book(advisor_a, store_a, slot=NINE)
    book(advisor_a, store_a, slot=datetime.time(9, 30), name="甲")
    book(advisor_a, store_a, slot=datetime.time(9, 30), name="乙")
    with pytest.raises(ApplicationError):
        book(advisor_a, store_a, slot=datetime.time(9, 30), name="丙")


def test_bad_settings_are_refused_with_a_message(store_a, manager_a):
    with pytest.raises(ApplicationError, match="首个时段的开始时间必须早于"):
        appointment_settings_update(user=manager_a, store=store_a, opens_at=datetime.time(18), closes_at=NINE)
    with pytest.raises(ApplicationError, match="1 到 100"):
        appointment_settings_update(user=manager_a, store=store_a, capacity=0)

    assert AuditLog.objects.count() == 0
    assert AppointmentSettings.objects.filter(store=store_a).count() == 0
    assert appointment_settings_for(store=store_a).capacity == 4


def test_check_in_is_one_tap_and_idempotent(store_a, advisor_a):
    appointment = book(advisor_a, store_a, day=TODAY)
    events = []
    appointment_listener_register("test.events", events.append)
    try:
        with pytest.MonkeyPatch.context():
            first = appointment_check_in(user=advisor_a, appointment=appointment)
            second = appointment_check_in(user=advisor_a, appointment=appointment)
    finally:
        appointment_listener_unregister("test.events")

    assert (first.status, first.kept_by, first.checked_in_by) == ("arrived", "check_in", advisor_a)
    assert second.checked_in_at == first.checked_in_at
    assert appointment.history.count() == 2  # booked, arrived


def test_check_in_of_another_day_or_a_cancelled_booking_is_refused(store_a, advisor_a):
    tomorrow = book(advisor_a, store_a, name="明天")
    cancelled = appointment_cancel(user=advisor_a, appointment=book(advisor_a, store_a, day=TODAY, name="取消"))

    with pytest.raises(ApplicationError, match="只能为今天的预约签到"):
        appointment_check_in(user=advisor_a, appointment=tomorrow)
    with pytest.raises(ApplicationError, match="不能签到"):
        appointment_check_in(user=advisor_a, appointment=cancelled)

    assert Appointment.objects.filter(status="arrived").count() == 0


def test_listeners_hear_each_change_on_commit_and_a_failing_one_stops_nobody(
    store_a, advisor_a, django_capture_on_commit_callbacks
):
    heard = []

    def broken(event):
        raise RuntimeError("SMS gateway down")

    appointment_listener_register("test.broken", broken)
    appointment_listener_register("test.heard", heard.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            appointment = book(advisor_a, store_a, day=TODAY)
            appointment_confirm(user=advisor_a, appointment=appointment)
            appointment_confirm(user=advisor_a, appointment=appointment)  # already confirmed: nothing
            appointment_reschedule(user=advisor_a, appointment=appointment, date=TODAY, slot=datetime.time(10))
            appointment_check_in(user=advisor_a, appointment=appointment)
    finally:
        appointment_listener_unregister("test.broken")
        appointment_listener_unregister("test.heard")

    assert [event.kind for event in heard] == ["booked", "confirmed", "rescheduled", "arrived"]
    assert {(event.appointment_id, event.store_id, event.customer_id) for event in heard} == {
        (appointment.pk, store_a.pk, appointment.customer_id)
    }


def test_rescheduling_into_a_full_slot_is_refused_and_changes_nothing(store_a, advisor_a):
    for number in range(4):
        book(advisor_a, store_a, slot=datetime.time(10), name=f"客户{number}")
    appointment = book(advisor_a, store_a, name="改期")

    with pytest.raises(ApplicationError):
        appointment_reschedule(user=advisor_a, appointment=appointment, date=TOMORROW, slot=datetime.time(10))

    appointment.refresh_from_db()
    assert appointment.slot == NINE


def test_a_walk_in_arrives_now_and_takes_no_place(store_a, advisor_a):
    for number in range(4):
        book(advisor_a, store_a, day=TODAY, name=f"客户{number}")
    customer, _vehicle = owner(store_a, name="路过")

    walk_in = walk_in_record(user=advisor_a, customer=customer, vehicle=None, purpose="repair", advisor=advisor_a)
    book(advisor_a, store_a, day=TODAY, name="还能约", slot=datetime.time(9, 30))

    assert (walk_in.status, walk_in.source, walk_in.slot, walk_in.kept_by) == (
        "arrived", "walk_in", NINE, "check_in",
    )  # fmt: skip
    _working, slots = appointment_day_slots(store=store_a, day=TODAY)
    assert [slot.booked for slot in slots[1:3]] == [4, 1]


def test_no_shows_are_marked_at_the_end_of_the_day_and_twice_marks_none(store_a, advisor_a):
    missed = book(advisor_a, store_a, day=TODAY, name="爽约")
    confirmed = appointment_confirm(user=advisor_a, appointment=book(advisor_a, store_a, day=TODAY, name="确认"))
    came = appointment_check_in(user=advisor_a, appointment=book(advisor_a, store_a, day=TODAY, name="到店"))
    cancelled = appointment_cancel(user=advisor_a, appointment=book(advisor_a, store_a, day=TODAY, name="取消"))
    tomorrow = book(advisor_a, store_a, name="明天")

    first = mark_appointment_no_shows.apply(args=["2026-12-02"]).get()
    second = mark_appointment_no_shows.apply(args=["2026-12-02"]).get()

    assert (first, second) == (2, 0)
    statuses = dict(Appointment.objects.values_list("pk", "status"))
    assert [statuses[row.pk] for row in (missed, confirmed, came, cancelled, tomorrow)] == [
        "no_show", "no_show", "arrived", "cancelled", "booked",
    ]  # fmt: skip
    assert missed.history.first().status == "no_show"
    assert appointments_mark_no_shows(day=TODAY) == 0


def test_a_repair_order_opening_the_next_day_keeps_the_booking_and_two_days_later_does_not(store_a, advisor_a):
    kept = book(advisor_a, store_a, day=TODAY, name="次日到店")
    late = book(advisor_a, store_a, day=TODAY, name="两天后")
    appointments_mark_no_shows(day=TODAY)
    RepairOrderFactory(vehicle=kept.vehicle, ro_no="RO-NEXT", open_date=TOMORROW, settle_date=TOMORROW)
    RepairOrderFactory(vehicle=late.vehicle, ro_no="RO-LATE", open_date=TODAY + datetime.timedelta(days=2))

    event = ImportCommitted(
        kind=ImportKind.REPAIR_ORDERS, batch_id=1, customer_ids=(kept.customer_id, late.customer_id)
    )
    appointments_kept_after_import(event)
    appointments_kept_after_import(event)  # twice: nothing more

    kept.refresh_from_db()
    late.refresh_from_db()
    assert (kept.status, kept.kept_by, kept.kept_at is not None) == ("no_show", "repair_order:RO-NEXT", True)
    assert (late.status, late.kept_by, late.kept_at) == ("no_show", "", None)
    assert appointments_mark_kept_by_repair_orders() == 0


def test_a_booking_kept_by_a_repair_order_is_never_marked_a_no_show(store_a, advisor_a):
    appointment = book(advisor_a, store_a, day=TODAY)
    RepairOrderFactory(vehicle=appointment.vehicle, open_date=TODAY, settle_date=TODAY)

    assert appointments_mark_kept_by_repair_orders(customer_ids=[appointment.customer_id]) == 1
    assert appointments_mark_no_shows(day=TODAY) == 0
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_other_imports_and_other_customers_keep_nothing(store_a, advisor_a):
    appointment = book(advisor_a, store_a, day=TODAY)
    RepairOrderFactory(vehicle=appointment.vehicle, open_date=TODAY)

    appointments_kept_after_import(
        ImportCommitted(kind=ImportKind.CUSTOMERS, batch_id=1, customer_ids=(appointment.customer_id,))
    )
    appointments_mark_kept_by_repair_orders(customer_ids=[appointment.customer_id + 1000])

    appointment.refresh_from_db()
    assert appointment.kept_at is None


def test_the_arrivals_board_puts_vips_first_within_a_slot(store_a, advisor_a):
    regular = book(advisor_a, store_a, day=TODAY, name="普通")
    vip = book(advisor_a, store_a, day=TODAY, vip=True, name="贵宾")
    early = book(advisor_a, store_a, day=TODAY, slot=datetime.time(8, 30), name="早到")

    board = list(arrivals_board(user=advisor_a, store=store_a, day=TODAY))

    assert [row.pk for row in board] == [early.pk, vip.pk, regular.pk]


def test_manager_b_sees_nothing_of_store_a(store_a, store_b, advisor_a, manager_b):
    appointment = book(advisor_a, store_a, day=TODAY)

    assert appointment_queryset_for_user(manager_b).count() == 0
    assert list(arrivals_board(user=manager_b, store=store_a, day=TODAY)) == []
    assert appointment_queryset_for_user(advisor_a).get() == appointment


def test_bookings_per_day_against_capacity(store_a, advisor_a):
    book(advisor_a, store_a, name="甲")
    appointment_cancel(user=advisor_a, appointment=book(advisor_a, store_a, name="乙"))
    appointment_check_in(user=advisor_a, appointment=book(advisor_a, store_a, day=TODAY, name="丙"))
    customer, _vehicle = owner(store_a, name="路过")
    walk_in_record(user=advisor_a, customer=customer, vehicle=None, purpose=AppointmentPurpose.REPAIR)

    rows = bookings_per_day(store=store_a, first_day=TODAY, last_day=datetime.date(2026, 12, 6))

    assert [(row.day.day, row.booked, row.arrived, row.capacity) for row in rows] == [
        (2, 1, 1, 68), (3, 1, 0, 68), (4, 0, 0, 68), (5, 0, 0, 0), (6, 0, 0, 0),
    ]  # fmt: skip
    assert rows[0].share == 1


def test_an_advisor_of_another_store_cannot_be_named(store_a, store_b, advisor_a, manager_b):
    with pytest.raises(ApplicationError, match="不是本店的服务顾问"):
        book(advisor_a, store_a, advisor=manager_b)

    assert Appointment.objects.count() == 0


def test_a_booking_keeps_its_history_with_who_made_it(store_a, advisor_a):
    appointment = book(advisor_a, store_a, source=AppointmentSource.CALL, source_reference="4711")

    record = appointment.history.get()
    assert (record.history_user, record.source, record.source_reference, appointment.created_by) == (
        advisor_a, "call", "4711", advisor_a,
    )  # fmt: skip
    assert appointment.status == AppointmentStatus.BOOKED


def test_an_imported_repair_order_keeps_the_booking_through_the_import_listener(
    store_a, advisor_a, tmp_path, django_capture_on_commit_callbacks
):
    next_day = VehicleFactory(customer=CustomerFactory(store=store_a, name="次日"), vin=make_vin(1))
    two_days = VehicleFactory(customer=CustomerFactory(store=store_a, name="两天后"), vin=make_vin(2))
    values = {"date": TODAY, "slot": NINE, "purpose": "maintenance", "source": "call"}
    kept = appointment_book(user=advisor_a, customer=next_day.customer, vehicle=next_day, **values)
    late = appointment_book(user=advisor_a, customer=two_days.customer, vehicle=two_days, **values)
    appointments_mark_no_shows(day=TODAY)
    orders = write_csv(tmp_path / "ro.csv", [
        repair_row("RO-A", next_day.vin, 进厂日期="2026-12-03", 结算日期="2026-12-03"),
        repair_row("RO-B", two_days.vin, 进厂日期="2026-12-04", 结算日期="2026-12-04"),
    ])  # fmt: skip

    with (
        time_machine.travel("2026-12-04 18:00 +0800", tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        run_import("repair_orders", orders)

    kept.refresh_from_db()
    late.refresh_from_db()
    assert (kept.status, kept.kept_by) == ("no_show", "repair_order:RO-A")
    assert (late.status, late.kept_by, late.kept_at) == ("no_show", "", None)


def test_the_sql_fragments_name_the_open_and_the_unkept_bookings(store_a, advisor_a):
    from django.db import connection

    from customers.selectors.appointments import appointment_is_open_sql, appointment_not_kept_sql

    open_one = book(advisor_a, store_a, day=TODAY, name="未到")
    came = appointment_check_in(user=advisor_a, appointment=book(advisor_a, store_a, day=TODAY, name="到店"))
    cancelled = appointment_cancel(user=advisor_a, appointment=book(advisor_a, store_a, name="取消"))
    appointments_mark_no_shows(day=TODAY)

    def matching(condition):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT a.id FROM customers_appointment a WHERE {condition} ORDER BY a.id")
            return [row[0] for row in cursor.fetchall()]

    assert matching(appointment_not_kept_sql(alias="a")) == [open_one.pk]
    assert matching(appointment_is_open_sql(alias="a")) == []
    assert (came.status, cancelled.status) == ("arrived", "cancelled")
    with pytest.raises(ValueError, match="not an SQL alias"):
        appointment_is_open_sql(alias="a; DROP")
