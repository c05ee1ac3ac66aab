"""Customer states over time (流失分析): the month-end states at the 6- and 12-month boundaries,
new within the month, who is left out, the snapshots' backfill and nightly refresh, export_states."""

import datetime
import io

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from crm.calendar import add_months
from customers.choices import VehicleStatus
from customers.dms.sample import dms_sample_write
from customers.models import Customer, CustomerMonthState, CustomerStateMovement, Vehicle
from customers.states import customer_states_build, customer_states_refresh, month_states_rows
from customers.tasks import refresh_customer_states
from tests.customers.dms_helpers import run_import
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, VehicleFactory

pytestmark = pytest.mark.django_db

D = datetime.date
OLD_DELIVERY = D(2020, 1, 10)


def owner(customer_no, *, store, delivered=OLD_DELIVERY, settled=(), status=VehicleStatus.ACTIVE):
    customer = CustomerFactory(customer_no=customer_no, store=store)
    vehicle = VehicleFactory(customer=customer, delivery_date=delivered, status=status)
    for day in settled:
        RepairOrderFactory(vehicle=vehicle, open_date=day, settle_date=day)
    return customer


def states(month):
    return dict(month_states_rows(month=month))


@pytest.fixture
def store(db):
    return StoreFactory(code="NJ01")


def test_boundaries_at_the_end_of_august_clamp_to_february_the_28th(store):
    # E = 2025-08-31: E - 6 months = 2025-02-28, E - 12 months = 2024-08-31.
    owner("A1", store=store, settled=[D(2025, 2, 28)])
    owner("A2", store=store, settled=[D(2025, 2, 27)])
    owner("A3", store=store, settled=[D(2024, 8, 31)])
    owner("A4", store=store, settled=[D(2024, 8, 30)])
    owner("A5", store=store, settled=[D(2025, 8, 31)])
    # A repair order settled after E does not count for that month; one never settled never counts.
    owner("A6", store=store, delivered=D(2024, 1, 5), settled=[D(2025, 9, 3)])
    unsettled = owner("A7", store=store, delivered=D(2024, 9, 1))
    RepairOrderFactory(vehicle=unsettled.vehicles.get(), settle_date=None)

    assert states(D(2025, 8, 1)) == {
        "A1": "active", "A2": "dormant", "A3": "dormant", "A4": "lost", "A5": "active", "A6": "lost",
        "A7": "dormant",
    }  # fmt: skip


def test_boundaries_at_the_end_of_february_keep_the_28th(store):
    # E = 2025-02-28: E - 6 months = 2024-08-28, E - 12 months = 2024-02-28.
    owner("B1", store=store, settled=[D(2024, 8, 28)])
    owner("B2", store=store, settled=[D(2024, 8, 27)])
    owner("B3", store=store, settled=[D(2024, 2, 28)])
    owner("B4", store=store, settled=[D(2024, 2, 27)])
    # A leap year: E = 2024-02-29, E - 6 months = 2023-08-29, E - 12 months = 2023-02-28.
    owner("B5", store=store, settled=[D(2023, 8, 29)])
    owner("B6", store=store, settled=[D(2023, 8, 28)])
    owner("B7", store=store, settled=[D(2023, 2, 28)])
    owner("B8", store=store, settled=[D(2023, 2, 27)])

    assert states(D(2025, 2, 1)) == {
        "B1": "active", "B2": "dormant", "B3": "dormant", "B4": "lost",
        "B5": "lost", "B6": "lost", "B7": "lost", "B8": "lost",
    }  # fmt: skip
    assert states(D(2024, 2, 1)) == {
        "B1": "lost", "B2": "lost", "B3": "active", "B4": "active",
        "B5": "active", "B6": "dormant", "B7": "dormant", "B8": "lost",
    }  # fmt: skip


def test_new_is_a_first_delivery_within_the_month(store):
    owner("N1", store=store, delivered=D(2025, 8, 1))
    owner("N2", store=store, delivered=D(2025, 8, 31), settled=[D(2025, 7, 2)])
    second_car = owner("N3", store=store, delivered=D(2025, 7, 31))
    VehicleFactory(customer=second_car, delivery_date=D(2025, 8, 10))

    assert states(D(2025, 7, 1)) == {"N2": "active", "N3": "new"}
    assert states(D(2025, 8, 1)) == {"N1": "new", "N2": "new", "N3": "active"}
    assert states(D(2025, 9, 1)) == {"N1": "active", "N2": "active", "N3": "active"}


def test_owners_of_only_sold_on_or_scrapped_vehicles_and_customers_without_a_visit_are_left_out(store):
    owner("X1", store=store, status=VehicleStatus.TRANSFERRED, settled=[D(2025, 8, 2)])
    owner("X2", store=store, status=VehicleStatus.SCRAPPED)
    owner("X3", store=store, delivered=None)
    CustomerFactory(customer_no="X4", store=store)
    kept = owner("X5", store=store, status=VehicleStatus.TRANSFERRED, settled=[D(2025, 8, 2)])
    VehicleFactory(customer=kept, delivery_date=None)  # one active vehicle keeps the owner

    assert states(D(2025, 8, 1)) == {"X5": "active"}


def test_export_states_writes_every_store_sorted_in_code_point_order(store):
    other = StoreFactory(code="NJ02")
    owner("a10", store=store, settled=[D(2025, 8, 2)])
    owner("B20", store=other, settled=[D(2024, 12, 1)])
    owner("A30", store=store, delivered=D(2025, 8, 5))
    owner("_40", store=other, delivered=D(2022, 3, 3))
    owner("Z50", store=store, delivered=D(2025, 9, 1))  # after the month: not in it

    out = io.StringIO()
    call_command("export_states", "--month", "2025-08", "--format", "csv", stdout=out)

    assert out.getvalue() == "customer_no,state\nA30,new\nB20,dormant\n_40,lost\na10,active\n"


def test_export_states_reads_the_data_as_it_stands_not_the_snapshots(store):
    customer = owner("S1", store=store, settled=[D(2024, 1, 2)])
    customer_states_build(first=D(2025, 8, 1), last=D(2025, 8, 1))
    RepairOrderFactory(vehicle=customer.vehicles.get(), settle_date=D(2025, 8, 20))

    out = io.StringIO()
    call_command("export_states", "--month", "2025-08", stdout=out)

    assert out.getvalue() == "customer_no,state\nS1,active\n"
    assert CustomerMonthState.objects.get().state == "lost"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--month", "2025-13"], "--month 必须是形如 2025-08 的月份，而不是“2025-13”。"),
        (["--month", "2025-8"], "--month 必须是形如 2025-08 的月份，而不是“2025-8”。"),
        (["--month", "八月"], "--month 必须是形如 2025-08 的月份，而不是“八月”。"),
        (["--month", "2025-08", "--format", "xlsx"], "--format 必须是 csv，而不是“xlsx”。"),
    ],
)
def test_export_states_refuses_a_bad_month_or_format_with_a_message(arguments, message):
    with pytest.raises(CommandError) as raised:
        call_command("export_states", *arguments, stdout=io.StringIO())
    assert str(raised.value) == message


def _snapshot():
    rows = CustomerMonthState.objects.values_list("customer__customer_no", "store_id", "month", "state", "last_visit")
    return sorted(rows)


def _history(store):
    owner("H1", store=store, delivered=D(2024, 3, 15), settled=[D(2024, 6, 1), D(2025, 1, 31)])
    owner("H2", store=store, delivered=D(2024, 5, 31))
    owner("H3", store=store, delivered=D(2023, 12, 1), settled=[D(2024, 12, 31)])
    owner("H4", store=store, delivered=D(2024, 4, 30), status=VehicleStatus.TRANSFERRED)


def test_backfill_in_one_statement_equals_month_by_month_builds(store):
    _history(store)
    written = customer_states_build(first=D(2024, 1, 1), last=D(2025, 6, 1))
    at_once = _snapshot()
    CustomerMonthState.objects.all().delete()
    month = D(2024, 1, 1)
    while month <= D(2025, 6, 1):
        customer_states_build(first=month, last=month)
        month = D(month.year + month.month // 12, month.month % 12 + 1, 1)

    assert _snapshot() == at_once
    assert written == len(at_once) == 18 + 16 + 14
    h1 = {row[2]: row[3] for row in at_once if row[0] == "H1"}
    assert h1[D(2024, 3, 1)] == "new"
    assert h1[D(2024, 11, 1)] == "active"  # E - 6 = 2024-05-30, L = 2024-06-01
    assert h1[D(2024, 12, 1)] == "dormant"  # E - 6 = 2024-06-30
    assert h1[D(2025, 1, 1)] == "active"  # won back by the repair order of 2025-01-31
    assert h1[D(2025, 6, 1)] == "active"
    h2 = {row[2]: (row[3], row[4]) for row in at_once if row[0] == "H2"}
    assert h2[D(2024, 5, 1)] == ("new", D(2024, 5, 31))
    assert h2[D(2024, 11, 1)] == ("active", D(2024, 5, 31))  # E - 6 = 2024-05-30
    assert h2[D(2024, 12, 1)] == ("dormant", D(2024, 5, 31))  # E - 6 = 2024-06-30
    assert h2[D(2025, 5, 1)] == ("dormant", D(2024, 5, 31))  # E - 12 = 2024-05-31
    assert h2[D(2025, 6, 1)] == ("lost", D(2024, 5, 31))


def test_the_nightly_task_backfills_every_month_then_rebuilds_the_last_two_and_is_idempotent(store):
    _history(store)
    # The first visit is H3's delivery of 2023-12-01: the backfill starts there.
    assert customer_states_build(first=D(2023, 12, 1), last=D(2025, 6, 1)) == 49
    expected = _snapshot()
    CustomerMonthState.objects.all().delete()
    CustomerStateMovement.objects.all().delete()

    assert refresh_customer_states("2025-06-18") == len(expected)
    assert _snapshot() == expected
    # Twice: only the previous and the current month are written again, to the same rows.
    assert refresh_customer_states("2025-06-18") == 6
    assert _snapshot() == expected

    # A month lost in between is built again; a repair order imported late lands in the months rebuilt.
    CustomerMonthState.objects.filter(month=D(2024, 9, 1)).delete()
    CustomerStateMovement.objects.filter(month=D(2024, 9, 1)).delete()
    RepairOrderFactory(vehicle=CustomerFactory._meta.model.objects.get(customer_no="H2").vehicles.get(),
                       settle_date=D(2025, 6, 2))  # fmt: skip
    assert customer_states_refresh(today=D(2025, 6, 18)) == 3 + 6
    assert CustomerMonthState.objects.get(customer__customer_no="H2", month=D(2025, 6, 1)).state == "active"
    assert CustomerMonthState.objects.get(customer__customer_no="H2", month=D(2025, 5, 1)).state == "dormant"


def test_the_nightly_refresh_is_scheduled_at_a_quarter_to_three():
    entry = settings.CELERY_BEAT_SCHEDULE["customers-refresh-customer-states"]
    assert entry["task"] == "customers.tasks.refresh_customer_states"
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({2}, {45})


def _reference_states(month: datetime.date) -> str:
    """The spec read plainly, customer by customer in Python: the check on export_states."""
    end = add_months(month, 1) - datetime.timedelta(days=1)
    rows = []
    customers = Customer.objects.prefetch_related("vehicles__repair_orders")
    for customer in customers:
        vehicles = list(customer.vehicles.all())
        if all(vehicle.status != VehicleStatus.ACTIVE for vehicle in vehicles):
            continue
        deliveries = [vehicle.delivery_date for vehicle in vehicles if vehicle.delivery_date]
        settled = [
            order.settle_date for vehicle in vehicles for order in vehicle.repair_orders.all() if order.settle_date
        ]
        visits = [day for day in deliveries + settled if day <= end]
        if not visits:
            continue
        last = max(visits)
        if deliveries and month <= min(deliveries) <= end:
            state = "new"
        elif last >= add_months(end, -6):
            state = "active"
        elif last >= add_months(end, -12):
            state = "dormant"
        else:
            state = "lost"
        rows.append((customer.customer_no, state))
    return "customer_no,state\n" + "".join(f"{number},{state}\n" for number, state in sorted(rows))


def test_export_states_agrees_with_a_plain_reading_of_the_spec_on_a_sample_import(tmp_path):
    StoreFactory(code="NJ01")
    StoreFactory(code="NJ02")
    dms_sample_write(out_dir=tmp_path, customers=400, seed=5, today=D(2026, 11, 22), stores=["NJ01", "NJ02"])
    for name in ("customers", "vehicles", "repair_orders"):
        run_import(name, tmp_path / f"{name}.csv")
    sold = Vehicle.objects.order_by("vin")[::7]
    Vehicle.objects.filter(pk__in=[vehicle.pk for vehicle in sold]).update(status=VehicleStatus.TRANSFERRED)
    months = [D(2024, 2, 1), D(2024, 8, 1), D(2025, 2, 1), D(2025, 8, 1), D(2025, 12, 1), D(2026, 11, 1)]

    for month in months:
        out = io.StringIO()
        call_command("export_states", "--month", f"{month:%Y-%m}", stdout=out)
        expected = _reference_states(month)
        assert out.getvalue() == expected
        assert expected.count("\n") > 50
    assert {state for _number, state in month_states_rows(month=D(2025, 8, 1))} == {"new", "active", "dormant", "lost"}


def _movements(month):
    rows = CustomerStateMovement.objects.filter(month=month).values_list("previous_state", "state", "customers")
    return sorted(rows)


def test_movements_sum_each_month_against_the_month_before_and_follow_a_rebuild(store):
    back = owner("M1", store=store, delivered=D(2023, 1, 5), settled=[D(2025, 2, 10)])
    owner("M2", store=store, delivered=D(2024, 8, 20))
    owner("M3", store=store, delivered=D(2025, 2, 3))
    customer_states_build(first=D(2025, 1, 1), last=D(2025, 3, 1))

    # January has no month before it built: everyone is "none".
    assert _movements(D(2025, 1, 1)) == [("", "active", 1), ("", "lost", 1)]
    assert _movements(D(2025, 2, 1)) == [("", "new", 1), ("active", "dormant", 1), ("lost", "active", 1)]
    assert _movements(D(2025, 3, 1)) == [("active", "active", 1), ("dormant", "dormant", 1), ("new", "active", 1)]

    # A repair order of January imported late: rebuilding January alone re-sums February too.
    RepairOrderFactory(vehicle=back.vehicles.get(), settle_date=D(2025, 1, 20))
    customer_states_build(first=D(2025, 1, 1), last=D(2025, 1, 1))
    assert _movements(D(2025, 1, 1)) == [("", "active", 2)]
    assert _movements(D(2025, 2, 1)) == [("", "new", 1), ("active", "active", 1), ("active", "dormant", 1)]
    assert _movements(D(2025, 3, 1)) == [("active", "active", 1), ("dormant", "dormant", 1), ("new", "active", 1)]
