"""The stores' volumes per day (customers.volumes): after an import of vehicles and repair orders,
after a delivery at the sales desk, after a vehicle is changed, and after the nightly run, the kept
counts equal a recount from scratch; refreshing twice writes nothing the second time."""

import datetime
import io
from collections import Counter

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from customers.choices import DeliverySource
from customers.models import RepairOrder, StoreDayVolume, Vehicle, VolumeDayBuilt
from customers.services import delivery_record, vehicle_save
from customers.tasks import refresh_store_day_volumes
from customers.volumes import RECENT_DAYS, store_day_volumes_build, store_day_volumes_refresh
from tests.customers.dms_helpers import customer_row, make_vin, repair_row, run_import, vehicle_row, write_csv
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
D = datetime.date
TODAY = D(2026, 11, 30)


def recount() -> dict[tuple[int, datetime.date], tuple[int, int]]:
    """Every (store, day) with a delivery or a settled repair order, counted from the tables."""
    deliveries = Counter(Vehicle.objects.exclude(delivery_date=None).values_list("store_id", "delivery_date"))
    orders = Counter(RepairOrder.objects.exclude(settle_date=None).values_list("store_id", "settle_date"))
    return {key: (deliveries[key], orders[key]) for key in {*deliveries, *orders}}


def kept() -> dict[tuple[int, datetime.date], tuple[int, int]]:
    return {(row.store_id, row.day): (row.deliveries, row.repair_orders) for row in StoreDayVolume.objects.all()}


def built_days() -> set[datetime.date]:
    return set(VolumeDayBuilt.objects.values_list("day", flat=True))


def assert_kept_equals_recount():
    expected = recount()
    built = built_days()
    assert {day for _store, day in expected} <= built, "every day with data is built"
    assert kept() == expected


@pytest.fixture
def imported(tmp_path, store_a, store_b, django_capture_on_commit_callbacks):
    """Two owners, three cars (two delivered on 3 November, one on 5 November, one at store B) and
    four repair orders, through the DMS import (the on-change path: its listener)."""
    write_csv(tmp_path / "c.csv", [customer_row("C001"), customer_row("C002", 客户姓名="李娜", 所属门店="NJ02")])
    write_csv(tmp_path / "v.csv", [
        vehicle_row(make_vin(1), "C001", 交车日期="2026-11-03"),
        vehicle_row(make_vin(2), "C001", 交车日期="2026-11-03"),
        vehicle_row(make_vin(3), "C002", 交车日期="2026-11-05", 所属门店="NJ02"),
    ])  # fmt: skip
    write_csv(tmp_path / "r.csv", [
        repair_row("RO1", make_vin(1), 结算日期="2026-11-10"),
        repair_row("RO2", make_vin(2), 结算日期="2026-11-10"),
        repair_row("RO3", make_vin(3), 结算日期="2026-11-10", 所属门店="NJ02"),
        repair_row("RO4", make_vin(3), 结算日期="2026-11-12", 所属门店="NJ02"),
    ])  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        for kind, name in (("customers", "c.csv"), ("vehicles", "v.csv"), ("repair_orders", "r.csv")):
            run_import(kind, tmp_path / name)
    return tmp_path


def test_an_import_of_vehicles_and_repair_orders_refreshes_the_days_it_touched(imported, store_a, store_b):
    assert kept() == {
        (store_a.pk, D(2026, 11, 3)): (2, 0),
        (store_b.pk, D(2026, 11, 5)): (1, 0),
        (store_a.pk, D(2026, 11, 10)): (0, 2),
        (store_b.pk, D(2026, 11, 10)): (0, 1),
        (store_b.pk, D(2026, 11, 12)): (0, 1),
    }
    assert built_days() == {D(2026, 11, 3), D(2026, 11, 5), D(2026, 11, 10), D(2026, 11, 12)}
    assert_kept_equals_recount()


def test_a_re_import_moving_a_car_to_another_day_and_store_recounts_its_old_day_too(
    imported, store_a, store_b, django_capture_on_commit_callbacks
):
    """The old day is read from the vehicle's history: 3 November loses the car."""
    write_csv(imported / "v2.csv", [vehicle_row(make_vin(2), "C001", 交车日期="2026-11-07", 所属门店="NJ02")])
    with django_capture_on_commit_callbacks(execute=True):
        run_import("vehicles", imported / "v2.csv")

    volumes = kept()
    assert (volumes[(store_a.pk, D(2026, 11, 3))], volumes[(store_b.pk, D(2026, 11, 7))]) == ((1, 0), (1, 0))
    assert_kept_equals_recount()


def test_the_days_an_import_reads_with_its_customers_are_those_the_listener_would_look_up(
    imported, django_capture_on_commit_callbacks
):
    """The importer hands the days it wrote to the listeners (repair orders; vehicles when none was
    updated); they are exactly the days the volumes listener looks up from the written rows."""
    from customers.import_listeners import import_listener_register, import_listener_unregister
    from customers.volumes import _days_of_import

    events = []
    import_listener_register("tests.days", events.append)
    try:
        write_csv(imported / "v3.csv", [vehicle_row(make_vin(4), "C002", 交车日期="2026-11-08")])
        write_csv(imported / "r2.csv", [
            repair_row("RO1", make_vin(1), 结算日期="2026-11-10", 结算金额="600"),  # updated: its day
            repair_row("RO5", make_vin(4), 结算日期="2026-11-14"),
            repair_row("RO6", make_vin(4), 结算日期=""),  # not settled yet
        ])  # fmt: skip
        write_csv(imported / "v4.csv", [vehicle_row(make_vin(2), "C001", 交车日期="2026-11-09")])
        with django_capture_on_commit_callbacks(execute=True):
            for kind, name in (("vehicles", "v3.csv"), ("repair_orders", "r2.csv"), ("vehicles", "v4.csv")):
                run_import(kind, imported / name)
    finally:
        import_listener_unregister("tests.days")
    created_vehicles, repair_orders, updated_vehicles = events
    assert created_vehicles.days == (D(2026, 11, 8),)
    assert repair_orders.days == (D(2026, 11, 10), D(2026, 11, 14))
    assert updated_vehicles.days is None  # the day before is the history's: the listener reads it
    for event in (created_vehicles, repair_orders):
        looked_up = _days_of_import(kind=event.kind, batch_id=event.batch_id, customer_ids=list(event.customer_ids))
        assert sorted(looked_up) == list(event.days)
    assert_kept_equals_recount()


def test_a_delivery_at_the_sales_desk_counts_on_its_day(imported, sales_a, store_a, django_capture_on_commit_callbacks):
    day = D(2026, 11, 3)
    with django_capture_on_commit_callbacks(execute=True):
        delivery_record(
            user=sales_a, store=store_a, consultant=sales_a, source=DeliverySource.SHOWROOM,
            customer_data={"name": "孙丽", "mobile": "13700001234"},
            vehicle_data={"vin": "LSVAU218XN2183294", "plate_no": "苏A8K888", "delivery_date": day},
        )  # fmt: skip

    assert kept()[(store_a.pk, day)] == (3, 0)
    assert_kept_equals_recount()


def test_a_vehicle_saved_with_another_delivery_day_moves_between_days(
    imported, manager_a, store_a, django_capture_on_commit_callbacks
):
    vehicle = Vehicle.objects.get(vin=make_vin(1))
    vehicle.delivery_date = D(2026, 11, 20)
    with django_capture_on_commit_callbacks(execute=True):
        vehicle_save(vehicle=vehicle, user=manager_a)

    volumes = kept()
    assert (volumes[(store_a.pk, D(2026, 11, 3))], volumes[(store_a.pk, D(2026, 11, 20))]) == ((1, 0), (1, 0))
    assert_kept_equals_recount()


def test_refreshing_twice_writes_nothing_the_second_time(imported):
    days = sorted(built_days())
    assert store_day_volumes_refresh(days=days) == 0
    before = kept()
    assert store_day_volumes_refresh(days=days) == 0
    assert kept() == before


def _bypassing_the_services(store_a):
    """Cars and repair orders written straight into the tables (as a data migration or a script
    would): no listener hears of them."""
    customer = CustomerFactory(store=store_a)
    old_car = Vehicle.objects.create(vin="OLD00000000000001", customer=customer, store=store_a,
                                     delivery_date=D(2024, 5, 1))  # fmt: skip
    Vehicle.objects.bulk_create(
        Vehicle(vin=f"NEW{n:014d}", customer=customer, store=store_a, delivery_date=TODAY - datetime.timedelta(days=n))
        for n in range(0, 60, 3)
    )  # fmt: skip
    RepairOrder.objects.bulk_create(
        RepairOrder(ro_no=f"RO{n:05d}", vehicle=old_car, store=store_a,
                    settle_date=TODAY - datetime.timedelta(days=n % 90))
        for n in range(300)
    )  # fmt: skip
    RepairOrder.objects.create(ro_no="RO-open", vehicle=old_car, store=store_a, open_date=TODAY)


def test_the_nightly_run_equals_a_recount_and_builds_every_earlier_day_once(store_a, store_b):
    _bypassing_the_services(store_a)

    written = refresh_store_day_volumes(TODAY.isoformat())

    assert written == len(recount())
    assert_kept_equals_recount()
    # Every day from the first with data through today is built, and nothing after today.
    assert built_days() == {D(2024, 5, 1) + datetime.timedelta(days=n) for n in range((TODAY - D(2024, 5, 1)).days + 1)}
    assert refresh_store_day_volumes(TODAY.isoformat()) == 0  # safe twice


def test_the_nightly_run_catches_up_the_recent_days_written_behind_its_back(imported, store_a):
    """Writes that no listener heard (within RECENT_DAYS) are counted by the next nightly run."""
    vehicle = Vehicle.objects.get(vin=make_vin(1))
    Vehicle.objects.filter(pk=vehicle.pk).update(delivery_date=D(2026, 11, 25))
    RepairOrder.objects.create(ro_no="RO-late", vehicle=vehicle, store=store_a, settle_date=D(2026, 11, 12))
    assert kept() != recount()

    refresh_store_day_volumes(TODAY.isoformat())

    assert_kept_equals_recount()


def test_the_nightly_run_leaves_built_days_older_than_the_recent_ones_and_the_command_rebuilds_them(imported, store_a):
    call_command("build_volumes", "--to", TODAY.isoformat(), stdout=io.StringIO())
    vehicle = Vehicle.objects.get(vin=make_vin(1))
    Vehicle.objects.filter(pk=vehicle.pk).update(delivery_date=D(2025, 1, 1))
    late = TODAY + datetime.timedelta(days=RECENT_DAYS + 30)
    refresh_store_day_volumes(late.isoformat())
    assert kept()[(store_a.pk, D(2026, 11, 3))] == (2, 0)  # older than RECENT_DAYS: left as built

    out = io.StringIO()
    call_command("build_volumes", "--from", "2026-11-01", "--to", "2026-11-30", stdout=out)

    assert kept()[(store_a.pk, D(2026, 11, 3))] == (1, 0)
    assert "2026-11-01" in out.getvalue()
    assert_kept_equals_recount()


def test_the_command_refuses_bad_days_with_a_message():
    with pytest.raises(CommandError, match="--from 须为日期，如 2026-03-01，而不是“yesterday”"):
        call_command("build_volumes", "--from", "yesterday", stdout=io.StringIO())
    with translation.override("en"), pytest.raises(CommandError, match="--from must be a day like 2026-03-01"):
        call_command("build_volumes", "--from", "yesterday", stdout=io.StringIO())
    with translation.override("en"), pytest.raises(CommandError, match="--to must not be before --from"):
        call_command("build_volumes", "--from", "2026-11-02", "--to", "2026-11-01", stdout=io.StringIO())


def test_missing_only_builds_only_days_never_built(imported, store_a):
    Vehicle.objects.filter(vin=make_vin(1)).update(delivery_date=D(2026, 11, 4))  # behind its back
    assert store_day_volumes_build(first=D(2026, 11, 1), last=D(2026, 11, 30), only_missing=True) == 1
    # 3 November was built already: still two cars there; 4 November was not: one car.
    assert (kept()[(store_a.pk, D(2026, 11, 3))], kept()[(store_a.pk, D(2026, 11, 4))]) == ((2, 0), (1, 0))


def test_the_nightly_run_is_in_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["customers-refresh-store-day-volumes"]
    assert entry["task"] == "customers.tasks.refresh_store_day_volumes"
    assert entry["options"]["expires"] > 0
