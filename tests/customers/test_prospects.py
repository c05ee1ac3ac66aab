"""Prospects (潜在客户): recording, the pipeline's transitions, winning by a delivery (the 0–180 day
window, the earliest prospect per car, each prospect once), the vehicles import's listener."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

from crm.exceptions import ApplicationError
from customers.choices import ImportKind
from customers.import_listeners import ImportCommitted, import_listeners
from customers.models import Prospect
from customers.services.prospects import (
    prospect_advance,
    prospect_assign,
    prospect_create,
    prospects_win_for_deliveries,
    prospects_win_for_vehicle,
    win_prospects_after_import,
)
from tests.customers.dms_helpers import customer_row, make_vin, run_import, vehicle_row, write_csv
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture(autouse=True)
def today():
    """Today is 2 December 2026 (Beijing time), whenever the tests run."""
    with time_machine.travel(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=True):
        yield


def record(user, mobile="13900000001", *, name="李娜", source="showroom", on=None, **kwargs) -> Prospect:
    return prospect_create(user=user, name=name, mobile=mobile, source=source, recorded_on=on, **kwargs)


def deliver(store, mobile, day, **kwargs):
    customer = CustomerFactory(store=store, mobile=mobile, name="买家")
    return VehicleFactory(customer=customer, delivery_date=day, **kwargs)


# --- recording ------------------------------------------------------------------------------------


def test_a_prospect_is_recorded_with_its_mobile_normalised(sales_a, store_a):
    prospect = record(sales_a, "+86 １３９-0000 0001", name="  李  娜 ", intended_model=" 轩逸 ", consultant=sales_a)
    prospect.refresh_from_db()
    assert (prospect.store, prospect.name, prospect.mobile, prospect.intended_model) == (
        store_a, "李 娜", "13900000001", "轩逸",
    )  # fmt: skip
    assert (prospect.status, prospect.consultant, prospect.recorded_by, prospect.recorded_on) == (
        "new", sales_a, sales_a, D(2026, 12, 2),
    )  # fmt: skip
    assert [(entry.history_type, entry.history_user) for entry in prospect.history.all()] == [("+", sales_a)]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mobile": "1390000"}, "请输入潜在客户的手机号：11位大陆手机号，例如 138 0013 8000。"),
        ({"name": "  "}, "请输入潜在客户的姓名。"),
        ({"source": "tv"}, "请选择潜在客户的来源。"),
        ({"on": D(2026, 12, 3)}, "潜在客户的登记日期不能晚于今天。"),
    ],
)
def test_bad_input_is_refused_with_a_message(sales_a, kwargs, message):
    with pytest.raises(ApplicationError) as refused:
        record(sales_a, **kwargs)
    assert refused.value.message == message
    assert Prospect.objects.count() == 0


def test_a_second_open_prospect_of_one_mobile_is_refused_naming_the_first(sales_a, advisor_a, store_a):
    first = record(sales_a, consultant=sales_a, on=D(2026, 11, 20))
    with pytest.raises(ApplicationError) as refused:
        record(advisor_a, "139 0000 0001", name="李女士")
    assert refused.value.message == "该手机号已是本店的在跟潜在客户：李娜，登记于 2026-11-20（王明）。"
    assert refused.value.extra == {"prospect_id": first.pk}
    assert Prospect.objects.count() == 1


def test_the_consultant_must_be_a_sales_consultant_of_the_store(sales_a, store_b):
    sales_b = UserFactory(username="sales_b", role="sales_consultant", stores=[store_b])
    with pytest.raises(ApplicationError) as refused:
        record(sales_a, consultant=sales_b)
    assert refused.value.message == "王明 不是江宁店的销售顾问。"
    assert Prospect.objects.count() == 0


def test_staff_of_several_stores_choose_the_store(admin_user, store_b):
    with pytest.raises(ApplicationError) as refused:
        record(admin_user)
    assert refused.value.message == "请选择潜在客户到访的门店。"
    assert record(admin_user, store=store_b).store == store_b


def test_a_store_the_user_does_not_work_at_is_refused(sales_a, store_b):
    with pytest.raises(ApplicationError):
        record(sales_a, store=store_b)
    assert Prospect.objects.count() == 0


# --- the pipeline -------------------------------------------------------------------------------


def test_a_prospect_moves_along_the_pipeline_with_history(sales_a):
    prospect = record(sales_a)
    for status in ("contacted", "test_drive_booked", "test_drive_done"):
        prospect = prospect_advance(user=sales_a, prospect=prospect, status=status)
    prospect.refresh_from_db()
    assert prospect.status == "test_drive_done"
    assert [entry.status for entry in prospect.history.order_by("history_id")] == [
        "new", "contacted", "test_drive_booked", "test_drive_done",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        (["contacted"], "new", "潜在客户不能从“已联系”改为“新线索”。"),
        (["test_drive_done"], "test_drive_booked", "潜在客户不能从“已试驾”改为“已预约试驾”。"),
        ([], "won", "潜在客户只有在其手机号提车后才算成交：交车时自动标记。"),
        ([], "maybe", "请选择一个状态。"),
    ],
)
def test_bad_transitions_are_refused_and_change_nothing(sales_a, path, status, message):
    prospect = record(sales_a)
    for step in path:
        prospect_advance(user=sales_a, prospect=prospect, status=step)
    with pytest.raises(ApplicationError) as refused:
        prospect_advance(user=sales_a, prospect=prospect, status=status)
    assert refused.value.message == message
    prospect.refresh_from_db()
    assert prospect.status == (path[-1] if path else "new")
    assert prospect.history.count() == 1 + len(path)


def test_lost_needs_a_reason_and_may_be_reopened(sales_a):
    prospect = record(sales_a)
    with pytest.raises(ApplicationError) as refused:
        prospect_advance(user=sales_a, prospect=prospect, status="lost", lost_note="太贵")
    assert refused.value.message == "请填写战败原因。"
    prospect = prospect_advance(
        user=sales_a, prospect=prospect, status="lost", lost_reason="price", lost_note=" 太 贵 "
    )
    assert (prospect.status, prospect.lost_reason, prospect.lost_note) == ("lost", "price", "太 贵")
    with pytest.raises(ApplicationError):
        prospect_advance(user=sales_a, prospect=prospect, status="test_drive_done")
    prospect = prospect_advance(user=sales_a, prospect=prospect, status="contacted")
    prospect.refresh_from_db()
    assert (prospect.status, prospect.lost_reason, prospect.lost_note) == ("contacted", "", "")
    assert prospect.history.count() == 3


def test_assigning_needs_a_consultant_of_the_store(sales_a, manager_a, store_b):
    prospect = record(manager_a)
    assert prospect_assign(user=manager_a, prospect=prospect, consultant=sales_a).consultant == sales_a
    with pytest.raises(ApplicationError):
        prospect_assign(user=manager_a, prospect=prospect, consultant=manager_a)
    prospect.refresh_from_db()
    assert prospect.consultant == sales_a
    assert prospect_assign(user=manager_a, prospect=prospect, consultant=None).consultant is None


# --- won by a delivery ----------------------------------------------------------------------------


def test_a_delivery_wins_the_prospect_within_0_to_180_days(sales_a, store_a):
    on_the_day = record(sales_a, "13900000001", on=D(2026, 1, 10))
    last_day = record(sales_a, "13900000002", on=D(2026, 1, 10))
    a_day_late = record(sales_a, "13900000003", on=D(2026, 1, 10))
    a_day_early = record(sales_a, "13900000004", on=D(2026, 1, 10))
    cars = {
        "first": deliver(store_a, "13900000001", D(2026, 1, 10)),
        "last": deliver(store_a, "13900000002", D(2026, 7, 9)),  # 180 days
        "late": deliver(store_a, "13900000003", D(2026, 7, 10)),  # 181 days
        "early": deliver(store_a, "13900000004", D(2026, 1, 9)),
    }
    won = prospects_win_for_deliveries(store_ids=None, through=D(2026, 12, 1))
    assert won == [on_the_day.pk, last_day.pk]
    for prospect in (on_the_day, last_day, a_day_late, a_day_early):
        prospect.refresh_from_db()
    assert (on_the_day.status, on_the_day.won_vehicle, on_the_day.won_customer, on_the_day.won_on) == (
        "won", cars["first"], cars["first"].customer, D(2026, 1, 10),
    )  # fmt: skip
    assert (last_day.status, last_day.won_on) == ("won", D(2026, 7, 9))
    assert (a_day_late.status, a_day_late.won_vehicle) == ("new", None)
    assert (a_day_early.status, a_day_early.won_vehicle) == ("new", None)
    entry = on_the_day.history.order_by("-history_id").first()
    assert (entry.status, entry.history_change_reason, entry.history_user) == ("won", "won by a delivery", None)
    # Running again changes nothing.
    assert prospects_win_for_deliveries(store_ids=None, through=D(2026, 12, 1)) == []
    assert on_the_day.history.count() == 2


def test_each_prospect_is_won_once_with_its_earliest_car_of_its_own_store(sales_a, manager_a, store_a, store_b):
    prospect = record(sales_a, "13900000001", on=D(2026, 3, 1), consultant=sales_a)
    manager_a.stores.add(store_b)
    other_store = record(manager_a, "13900000001", on=D(2026, 2, 1), store=store_b)
    later_car = deliver(store_a, "13900000001", D(2026, 4, 1))
    earlier_car = VehicleFactory(customer=later_car.customer, delivery_date=D(2026, 3, 20))
    assert prospects_win_for_deliveries(store_ids=None, through=D(2026, 12, 1)) == [prospect.pk]
    prospect.refresh_from_db()
    other_store.refresh_from_db()
    assert (prospect.won_vehicle, prospect.won_on) == (earlier_car, D(2026, 3, 20))
    assert other_store.status == "new"  # no car was delivered in its store


def test_one_car_wins_the_earliest_of_two_open_prospects_and_never_a_lost_one(sales_a, manager_a, store_a):
    earliest = record(sales_a, "13900000001", on=D(2026, 3, 1))
    prospect_advance(user=sales_a, prospect=earliest, status="lost", lost_reason="postponed")
    later = record(manager_a, "13900000001", on=D(2026, 3, 2))  # the lost one leaves room for a new one
    prospect_advance(user=sales_a, prospect=earliest, status="contacted")  # reopened: two open prospects
    lost = record(sales_a, "13900000005", on=D(2026, 2, 1))
    prospect_advance(user=sales_a, prospect=lost, status="lost", lost_reason="other_brand")
    deliver(store_a, "13900000005", D(2026, 3, 1))
    car = deliver(store_a, "13900000001", D(2026, 3, 10))
    assert prospects_win_for_deliveries(store_ids=None, through=D(2026, 12, 1)) == [earliest.pk]
    lost.refresh_from_db()
    assert (lost.status, lost.won_vehicle) == ("lost", None)  # a lost prospect is not won
    earliest.refresh_from_db()
    later.refresh_from_db()
    assert (earliest.won_vehicle, later.won_vehicle, later.status) == (car, None, "new")


def test_deliveries_after_through_wait(sales_a, store_a):
    prospect = record(sales_a, on=D(2026, 3, 1))
    deliver(store_a, "13900000001", D(2026, 3, 10))
    assert prospects_win_for_deliveries(store_ids=None, through=D(2026, 3, 9)) == []
    assert prospects_win_for_deliveries(store_ids=[], through=D(2026, 3, 10)) == []
    assert prospects_win_for_deliveries(store_ids=None, through=D(2026, 3, 10)) == [prospect.pk]


def test_a_won_prospect_no_longer_moves(sales_a, store_a):
    prospect = record(sales_a, on=D(2026, 3, 1), consultant=sales_a)
    car = deliver(store_a, "13900000001", D(2026, 3, 10))
    assert prospects_win_for_vehicle(vehicle_id=car.pk) == [prospect.pk]
    assert prospects_win_for_vehicle(vehicle_id=car.pk) == []
    with pytest.raises(ApplicationError) as refused:
        prospect_advance(user=sales_a, prospect=prospect, status="lost", lost_reason="price")
    assert refused.value.message == "该潜在客户已成交（车辆于 2026-03-10 交付）：状态不再变更。"
    with pytest.raises(ApplicationError):
        prospect_assign(user=sales_a, prospect=prospect, consultant=None)
    prospect.refresh_from_db()
    assert (prospect.status, prospect.consultant) == ("won", sales_a)


def test_prospects_win_for_vehicle_wins_only_for_that_car(sales_a, store_a):
    one = record(sales_a, "13900000001", on=D(2026, 3, 1))
    two = record(sales_a, "13900000002", on=D(2026, 3, 1))
    deliver(store_a, "13900000001", D(2026, 3, 10))
    car = deliver(store_a, "13900000002", D(2026, 3, 10))
    assert prospects_win_for_vehicle(vehicle_id=car.pk) == [two.pk]
    one.refresh_from_db()
    assert one.status == "new"


# --- the vehicles import's listener --------------------------------------------------------------


def test_the_listener_is_registered():
    assert ("customers.prospects_won", win_prospects_after_import) in import_listeners()


def test_a_vehicles_import_wins_the_touched_customers_prospects(sales_a, store_a):
    touched = record(sales_a, "13900000001", on=D(2026, 11, 1))
    untouched = record(sales_a, "13900000002", on=D(2026, 11, 1))
    car = deliver(store_a, "13900000001", D(2026, 11, 20))
    other = deliver(store_a, "13900000002", D(2026, 11, 20))
    win_prospects_after_import(
        ImportCommitted(kind=ImportKind.REPAIR_ORDERS, batch_id=1, customer_ids=(car.customer_id,))
    )
    touched.refresh_from_db()
    assert touched.status == "new"
    for _ in range(2):
        win_prospects_after_import(
            ImportCommitted(kind=ImportKind.VEHICLES, batch_id=1, customer_ids=(car.customer_id,))
        )
    touched.refresh_from_db()
    untouched.refresh_from_db()
    assert (touched.status, touched.won_vehicle, touched.history.count()) == ("won", car, 2)
    assert untouched.status == "new"
    assert other.pk != car.pk


def test_a_real_vehicles_import_wins_the_prospect(tmp_path, sales_a, store_a, django_capture_on_commit_callbacks):
    prospect = record(sales_a, "13812345678", on=D(2025, 2, 1))
    customers = write_csv(tmp_path / "c.csv", [customer_row("C001")])
    vehicles = write_csv(tmp_path / "v.csv", [vehicle_row(make_vin(1), "C001", 交车日期="2025-03-01")])
    with django_capture_on_commit_callbacks(execute=True):
        run_import("customers", customers)
    prospect.refresh_from_db()
    assert prospect.status == "new"  # a customers import wins nothing: the car is not there yet
    with django_capture_on_commit_callbacks(execute=True):
        run_import("vehicles", vehicles)
    prospect.refresh_from_db()
    assert (prospect.status, prospect.won_vehicle.vin, prospect.won_on) == ("won", make_vin(1), D(2025, 3, 1))
