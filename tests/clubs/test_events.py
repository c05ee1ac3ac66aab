"""Club events (车友会活动): places counted under a lock, the waiting list moved up on a cancellation,
the door check-in once with the points once (ledger and export_points), the report's figures."""

import csv
import datetime
import io
import threading
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.db import close_old_connections
from django.utils import timezone

from clubs.choices import EntryKind, RegistrationSource, RegistrationStatus
from clubs.models import ClubEvent, EventRegistration, Membership, PointsEntry
from clubs.selectors import event_attendee_rows, event_report, event_status_counts
from clubs.services import (
    event_cancel,
    event_check_in,
    event_create,
    event_invite,
    event_register,
    event_update,
)
from crm.exceptions import ApplicationError
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

TZ = timezone.get_fixed_timezone(8 * 60)
NOW = datetime.datetime(2026, 12, 1, 10, 0, tzinfo=TZ)
STARTS = datetime.datetime(2026, 12, 10, 14, 0, tzinfo=TZ)
ENDS = datetime.datetime(2026, 12, 10, 17, 0, tzinfo=TZ)
EVENT_DAY = datetime.datetime(2026, 12, 10, 13, 30, tzinfo=TZ)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def new_event(store, user, *, capacity=2, points=100, **extra):
    return event_create(
        user=user, store=store, title="新车主课堂", kind="new_owner_class", starts_at=STARTS, ends_at=ENDS,
        place="江宁店二楼", capacity=capacity, points_for_attending=points, **extra,
    )  # fmt: skip


def statuses(event) -> dict[str, str]:
    return dict(EventRegistration.objects.filter(event=event).values_list("customer__name", "status"))


@pytest.fixture
def people(store_a):
    return [CustomerFactory(store=store_a, name=name, mobile=f"1390000000{i}") for i, name in enumerate("甲乙丙丁")]


def test_over_capacity_goes_to_the_waiting_list_and_one_moves_up_per_cancellation(
    store_a, advisor_a, manager_a, people, frozen
):
    event = new_event(store_a, manager_a)
    first, second, _third, fourth = people
    results = []
    for customer in people:
        frozen.shift(60)  # a minute apart: the waiting list keeps the order people asked in
        results.append(event_register(user=advisor_a, event=event, customer=customer).status)
    assert results == ["registered", "registered", "waiting", "waiting"]

    event_cancel(user=advisor_a, registration=EventRegistration.objects.get(event=event, customer=first))
    assert statuses(event) == {"甲": "cancelled", "乙": "registered", "丙": "registered", "丁": "waiting"}
    # Cancelling a place on the waiting list frees none: nobody moves.
    event_cancel(user=advisor_a, registration=EventRegistration.objects.get(event=event, customer=fourth))
    assert statuses(event) == {"甲": "cancelled", "乙": "registered", "丙": "registered", "丁": "cancelled"}
    # Registering again after a cancellation: the end of the queue (no place is free).
    assert event_register(user=advisor_a, event=event, customer=first).status == "waiting"
    assert event_status_counts(event=event) == {
        "invited": 0, "registered": 2, "waiting": 1, "cancelled": 1, "attended": 0,
    }  # fmt: skip
    # A second registration of someone on the list changes nothing.
    assert event_register(user=advisor_a, event=event, customer=second).status == "registered"
    assert EventRegistration.objects.filter(event=event).count() == 4


def test_a_larger_capacity_moves_the_waiting_list_up_a_smaller_one_than_taken_is_refused(
    store_a, advisor_a, manager_a, people
):
    event = new_event(store_a, manager_a, capacity=1)
    for customer in people[:3]:
        event_register(user=advisor_a, event=event, customer=customer)
    event_update(user=manager_a, event=event, capacity=2)
    assert statuses(event) == {"甲": "registered", "乙": "registered", "丙": "waiting"}
    with pytest.raises(ApplicationError) as refused:
        event_update(user=manager_a, event=event, capacity=1)
    assert refused.value.message == "已有 2 人占了名额：活动至少需要 2 个名额。"
    assert ClubEvent.objects.get(pk=event.pk).capacity == 2
    assert event.history.count() == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_at": STARTS}, "活动的结束时间必须晚于开始时间。"),
        ({"ends_at": STARTS - datetime.timedelta(hours=1)}, "活动的结束时间必须晚于开始时间。"),
        ({"capacity": 0}, "活动至少要有 1 个名额。"),
        ({"title": "  "}, "请填写活动名称。"),
        ({"place": ""}, "请填写活动地点。"),
        ({"kind": "party"}, "请选择活动类型。"),
    ],
)
def test_an_event_that_makes_no_sense_is_refused_in_words(store_a, manager_a, changes, message):
    fields = {
        "title": "自驾游", "kind": "self_drive_tour", "starts_at": STARTS, "ends_at": ENDS, "place": "汤山",
        "capacity": 10, **changes,
    }  # fmt: skip
    with pytest.raises(ApplicationError) as refused:
        event_create(user=manager_a, store=store_a, **fields)
    assert refused.value.message == message
    assert ClubEvent.objects.count() == 0


def test_a_manager_of_another_store_plans_no_event_there(store_a, manager_b):
    with pytest.raises(ApplicationError) as refused:
        new_event(store_a, manager_b)
    assert refused.value.message == "您不能为这家门店安排活动。"
    assert ClubEvent.objects.count() == 0


def test_a_customer_of_another_store_is_not_registered(store_a, store_b, manager_a, admin_user):
    event = new_event(store_a, manager_a)
    other = CustomerFactory(store=store_b, name="赵六")
    with pytest.raises(ApplicationError) as refused:
        event_register(user=admin_user, event=event, customer=other)
    assert refused.value.message == "赵六 是其他门店的客户：活动只面向本店客户。"
    with pytest.raises(ApplicationError) as refused:
        event_register(user=manager_a, event=event, customer=other)
    assert refused.value.message == "该客户不属于您所在的门店。"
    assert EventRegistration.objects.count() == 0


def test_an_invitation_then_a_registration_registers_once(store_a, advisor_a, manager_a, people):
    event = new_event(store_a, manager_a)
    invited = event_invite(user=advisor_a, event=event, customer=people[0])
    assert (invited.status, invited.source, invited.invited_at) == ("invited", "phone", NOW)
    assert event_invite(user=advisor_a, event=event, customer=people[0]).pk == invited.pk
    registered = event_register(user=advisor_a, event=event, customer=people[0], source=RegistrationSource.DESK)
    assert (registered.pk, registered.status, registered.source) == (invited.pk, "registered", "desk")
    # An invitation never takes a place back from someone registered.
    assert event_invite(user=advisor_a, event=event, customer=people[0]).status == "registered"


def test_registrations_close_when_the_event_starts(store_a, advisor_a, manager_a, people, frozen):
    event = new_event(store_a, manager_a)
    frozen.move_to(STARTS)
    with pytest.raises(ApplicationError) as refused:
        event_register(user=advisor_a, event=event, customer=people[0])
    assert refused.value.message == "活动已开始，报名已截止；请在门口签到。"


def start_club_with_member(store, name="张伟", mobile="13912345678"):
    customer = CustomerFactory(store=store, customer_no="CA0001", name=name, mobile=mobile, points_balance=0)
    VehicleFactory(customer=customer, plate_no="苏A12345", delivery_date=datetime.date(2025, 6, 1))
    call_command("club_start", "--store", store.code, "--date", "2026-01-01", stdout=io.StringIO())
    return Membership.objects.get(customer=customer)


def export(day: datetime.date) -> list[dict]:
    out = io.StringIO()
    call_command("export_points", "--date", day.isoformat(), "--format", "csv", stdout=out, stderr=io.StringIO())
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def test_check_in_once_credits_the_points_once(store_a, advisor_a, manager_a, frozen):
    member = start_club_with_member(store_a)
    event = new_event(store_a, manager_a, points=150)
    event_register(user=advisor_a, event=event, customer=member.customer)
    with pytest.raises(ApplicationError) as refused:
        event_check_in(user=advisor_a, event=event, customer=member.customer)
    assert refused.value.message == "活动在 2026-12-10：当天才能签到。"

    frozen.move_to(EVENT_DAY)
    registration = event_check_in(user=advisor_a, event=event, customer=member.customer)
    assert (registration.status, registration.checked_in_at) == ("attended", EVENT_DAY)
    with pytest.raises(ApplicationError) as refused:
        event_check_in(user=advisor_a, event=event, customer=member.customer)
    assert refused.value.message == "张伟 已于 13:30 签到。"

    entries = PointsEntry.objects.filter(membership=member, kind=EntryKind.ATTENDANCE)
    assert list(entries.values_list("points", "on", "expires_on", "reference")) == [
        (150, datetime.date(2026, 12, 10), datetime.date(2027, 12, 10), f"event:{event.pk}")
    ]
    assert registration.points_entry_id == entries.get().pk
    member.refresh_from_db()
    assert member.points_balance == 150
    assert [(row["customer_no"], row["balance"]) for row in export(datetime.date(2026, 12, 10))] == [("CA0001", "150")]
    # Cancelling someone who came is refused; the points stay.
    with pytest.raises(ApplicationError) as refused:
        event_cancel(user=advisor_a, registration=registration)
    assert refused.value.message == "该客户已签到，报名不能取消。"
    assert PointsEntry.objects.filter(membership=member).count() == 1


def test_walk_ins_waiting_and_invited_check_in_non_members_earn_nothing(store_a, advisor_a, manager_a, people, frozen):
    event = new_event(store_a, manager_a, capacity=1)
    event_register(user=advisor_a, event=event, customer=people[0])
    event_register(user=advisor_a, event=event, customer=people[1])
    event_invite(user=advisor_a, event=event, customer=people[2])
    frozen.move_to(EVENT_DAY)
    for customer in people:
        event_check_in(user=advisor_a, event=event, customer=customer)
    rows = EventRegistration.objects.filter(event=event).order_by("customer__name")
    assert [(r.customer.name, r.status, r.source, r.points_entry_id) for r in rows] == [
        ("丁", "attended", "door", None),
        ("丙", "attended", "phone", None),
        ("乙", "attended", "phone", None),
        ("甲", "attended", "phone", None),
    ]
    assert PointsEntry.objects.count() == 0
    frozen.move_to(ENDS + datetime.timedelta(days=1))
    with pytest.raises(ApplicationError) as refused:
        event_check_in(user=advisor_a, event=event, customer=CustomerFactory(store=store_a))
    assert refused.value.message == "活动已结束，不能再签到。"


def test_the_report_on_a_constructed_event(store_a, advisor_a, manager_a, frozen):
    member = start_club_with_member(store_a)
    event = new_event(store_a, manager_a, capacity=2, points=80)
    others = [CustomerFactory(store=store_a, name=name) for name in ("钱", "孙", "李", "周", "吴")]
    event_invite(user=advisor_a, event=event, customer=others[0])  # invited, then registers
    event_register(user=advisor_a, event=event, customer=others[0])
    event_register(user=advisor_a, event=event, customer=member.customer)
    event_register(user=advisor_a, event=event, customer=others[1])  # waiting
    event_invite(user=advisor_a, event=event, customer=others[2])  # invited, never answers
    event_register(user=advisor_a, event=event, customer=others[3])  # waiting, then cancels
    event_cancel(user=advisor_a, registration=EventRegistration.objects.get(event=event, customer=others[3]))
    frozen.move_to(EVENT_DAY)
    event_check_in(user=advisor_a, event=event, customer=others[0])
    event_check_in(user=advisor_a, event=event, customer=member.customer)
    event_check_in(user=advisor_a, event=event, customer=others[4])  # a walk-in
    # Repair orders: the window is 2026-12-11 … 2027-01-09.
    car = member.customer.vehicles.get()
    RepairOrderFactory(vehicle=car, open_date=datetime.date(2026, 12, 10), settle_date=datetime.date(2026, 12, 10))
    RepairOrderFactory(vehicle=car, open_date=datetime.date(2026, 12, 11), total_amount=Decimal("820.50"))
    RepairOrderFactory(vehicle=car, open_date=datetime.date(2027, 1, 9), total_amount=Decimal("1200.00"))
    RepairOrderFactory(vehicle=car, open_date=datetime.date(2027, 1, 10), total_amount=Decimal("999.00"))
    walk_in_car = VehicleFactory(customer=others[4])
    RepairOrderFactory(vehicle=walk_in_car, open_date=None, settle_date=datetime.date(2026, 12, 20),
                       total_amount=Decimal("300.00"))  # fmt: skip
    waiting_car = VehicleFactory(customer=others[1])  # not an attendee: not counted
    RepairOrderFactory(vehicle=waiting_car, open_date=datetime.date(2026, 12, 12), total_amount=Decimal("5000"))

    report = event_report(event=event)
    assert (report.first_day, report.last_day) == (datetime.date(2026, 12, 11), datetime.date(2027, 1, 9))
    assert (report.invited, report.registered, report.waiting, report.cancelled, report.attended) == (2, 2, 1, 1, 3)
    assert (report.walk_ins, report.points, report.repair_orders, report.spend, report.returned) == (
        1, 80, 3, Decimal("2320.50"), 2,
    )  # fmt: skip
    rows = event_attendee_rows(user=manager_a, event=event)
    assert [(row.name, row.repair_orders, row.spend) for row in rows] == [
        ("钱", 0, Decimal("0")), ("张伟", 2, Decimal("2020.50")), ("吴", 1, Decimal("300.00")),
    ]  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_two_registrations_racing_for_the_last_place_leave_exactly_one_registered(store_a, advisor_a, manager_a):
    event = new_event(store_a, manager_a, capacity=1)
    racers = [CustomerFactory(store=store_a, name=name) for name in ("快", "慢")]
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def register(customer):
        try:
            barrier.wait()
            outcomes.append(event_register(user=advisor_a, event=event, customer=customer).status)
        except Exception as error:  # reported below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=register, args=(customer,)) for customer in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(outcomes) == ["registered", "waiting"]
    assert event_status_counts(event=event)["registered"] == 1
    assert EventRegistration.objects.filter(event=event, status=RegistrationStatus.WAITING).count() == 1


def test_an_event_is_for_a_segment_of_its_own_store_or_of_the_group(store_a, store_b, manager_a, admin_user):
    from customers.models import Segment

    group = Segment.objects.create(name="全集团车主", definition={})
    other = Segment.objects.create(name="鼓楼店车主", store=store_b, definition={})
    assert new_event(store_a, manager_a, segment=group).segment == group
    with pytest.raises(ApplicationError) as refused:
        new_event(store_a, admin_user, segment=other)
    assert refused.value.message == "该客户细分属于其他门店。"
    assert ClubEvent.objects.count() == 1
