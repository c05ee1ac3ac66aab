"""The complaint dashboard from the per-day volumes customers keeps (customers.volumes): the same
figures as counting the vehicles and repair orders, whether the days are built (nightly, or on
change after an import or a delivery at the desk) or not; and a fixed number of queries."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from complaints.choices import Department
from complaints.selectors import DashboardPeriod, complaint_dashboard, dashboard_months
from customers.choices import DeliverySource
from customers.models import RepairOrder, StoreDayVolume, Vehicle, VolumeDayBuilt
from customers.services import delivery_record
from customers.tasks import refresh_store_day_volumes
from customers.volumes import store_day_volumes_refresh
from tests.complaints.factories import ComplaintFactory, local
from tests.customers.dms_helpers import customer_row, make_vin, repair_row, run_import, vehicle_row, write_csv
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

NOW = local(2026, 11, 10, 12, 0)
TODAY = NOW.date()
TREND = DashboardPeriod(first_month=datetime.date(2025, 12, 1), last_month=datetime.date(2026, 11, 1))


def figures(store_ids):
    return [
        (m.month, m.sales_complaints, m.service_complaints, m.deliveries, m.repair_orders)
        for m in dashboard_months(store_ids=store_ids, period=TREND)
    ]


def from_the_tables(store_ids):
    """The figures with no day built: every delivery and repair order counted from the tables."""
    built = list(VolumeDayBuilt.objects.values_list("day", flat=True))
    VolumeDayBuilt.objects.all().delete()
    try:
        return figures(store_ids)
    finally:
        VolumeDayBuilt.objects.bulk_create(VolumeDayBuilt(day=day, built_at=NOW) for day in built)


def write_data(store, *, scale: int):
    """Cars delivered and repair orders settled over 14 months (some outside the trend), and
    complaints of both departments, ``scale`` times over."""
    customer = CustomerFactory(store=store)
    cars = Vehicle.objects.bulk_create(
        Vehicle(vin=f"S{store.code[-2:]}{scale:02d}{n:012d}", customer=customer, store=store,
                delivery_date=TODAY - datetime.timedelta(days=(7 * n) % 420))
        for n in range(12 * scale)
    )  # fmt: skip
    RepairOrder.objects.bulk_create(
        RepairOrder(ro_no=f"R{store.pk}-{scale}-{n}", vehicle=cars[n % len(cars)], store=store,
                    settle_date=TODAY - datetime.timedelta(days=(3 * n) % 430))
        for n in range(40 * scale)
    )  # fmt: skip
    for n in range(3 * scale):
        ComplaintFactory(
            customer=customer, received_at=NOW - datetime.timedelta(days=(11 * n) % 400, hours=n),
            department=Department.SALES if n % 3 == 0 else Department.SERVICE,
        )  # fmt: skip


def test_the_same_figures_from_the_tables_and_from_the_nightly_aggregates(store_a, store_b):
    write_data(store_a, scale=3)
    write_data(store_b, scale=2)
    groups = [[store_a.pk], [store_b.pk], [store_a.pk, store_b.pk], []]
    before = {tuple(ids): figures(ids) for ids in groups}  # nothing built yet: counted from the tables
    assert sum(month[3] for month in before[(store_a.pk,)]) > 0

    refresh_store_day_volumes(TODAY.isoformat())

    assert StoreDayVolume.objects.exists()
    assert VolumeDayBuilt.objects.filter(day=TODAY).exists()
    assert not VolumeDayBuilt.objects.filter(day__gt=TODAY).exists()
    assert {tuple(ids): figures(ids) for ids in groups} == before


def test_half_built_months_add_the_built_days_and_the_counted_ones(store_a):
    write_data(store_a, scale=3)
    refresh_store_day_volumes(TODAY.isoformat())
    VolumeDayBuilt.objects.filter(day__day__lte=15).delete()  # half of every month not built
    # More cars on days not built, and on a built day, behind the volumes' back: the days not built
    # count them (from the tables), the built day does not until it is recounted.
    customer = CustomerFactory(store=store_a)
    Vehicle.objects.bulk_create(
        Vehicle(vin=f"LATE{n:013d}", customer=customer, store=store_a, delivery_date=datetime.date(2026, 10, 1 + n))
        for n in range(20)
    )  # fmt: skip
    expected = from_the_tables([store_a.pk])
    october = {month[0]: month for month in figures([store_a.pk])}[datetime.date(2026, 10, 1)]
    assert october[3] == {month[0]: month for month in expected}[datetime.date(2026, 10, 1)][3] - 5  # 16th-20th

    store_day_volumes_refresh(days=[datetime.date(2026, 10, day) for day in range(16, 21)])

    assert figures([store_a.pk]) == expected


def test_after_an_import_and_a_delivery_at_the_desk_the_dashboard_equals_a_recount(
    tmp_path, store_a, sales_a, django_capture_on_commit_callbacks
):
    write_data(store_a, scale=1)
    refresh_store_day_volumes(TODAY.isoformat())
    write_csv(tmp_path / "c.csv", [customer_row("C001")])
    write_csv(tmp_path / "v.csv", [vehicle_row(make_vin(n), "C001", 交车日期=f"2026-10-{n:02d}") for n in range(1, 6)])
    write_csv(tmp_path / "r.csv", [repair_row(f"RO{n}", make_vin(1 + n % 5), 结算日期=f"2026-09-{1 + n % 28:02d}")
                                   for n in range(30)])  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        for kind, name in (("customers", "c.csv"), ("vehicles", "v.csv"), ("repair_orders", "r.csv")):
            run_import(kind, tmp_path / name)
        delivery_record(
            user=sales_a, store=store_a, consultant=sales_a, source=DeliverySource.SHOWROOM,
            customer_data={"name": "孙丽", "mobile": "13700001234"},
            vehicle_data={"vin": "LSVAU218XN2183294", "delivery_date": datetime.date(2026, 10, 2)},
        )  # fmt: skip

    months = {month[0]: month for month in figures([store_a.pk])}
    october, september = months[datetime.date(2026, 10, 1)], months[datetime.date(2026, 9, 1)]
    assert october[3] == Vehicle.objects.filter(delivery_date__year=2026, delivery_date__month=10).count()
    assert september[4] == RepairOrder.objects.filter(settle_date__year=2026, settle_date__month=9).count()
    assert figures([store_a.pk]) == from_the_tables([store_a.pk])


def test_the_dashboard_object_is_the_same_built_or_not(store_a):
    write_data(store_a, scale=2)
    period = DashboardPeriod(first_month=datetime.date(2026, 6, 1), last_month=datetime.date(2026, 11, 1))
    before = complaint_dashboard(store_ids=[store_a.pk], period=period, now=NOW)
    refresh_store_day_volumes(TODAY.isoformat())

    assert complaint_dashboard(store_ids=[store_a.pk], period=period, now=NOW) == before


# session, the user (with their groups, permissions and stores: crm/auth_backends.py), the
# verified TOTP device, the open/overdue counts, the monthly complaints, the monthly volumes (one
# statement, built days or not), the breakdowns and the type names, the times, the staff scores,
# and the page's own (the store filter, navigation): whatever the number of rows and whether the
# days are built.
DASHBOARD_QUERIES = 11


@pytest.mark.parametrize(("scale", "built"), [(1, False), (1, True), (6, False), (6, True)])
def test_the_dashboard_page_runs_a_fixed_number_of_queries(
    client, manager_a, store_a, scale, built, django_assert_num_queries
):
    with time_machine.travel(NOW, tick=False):
        write_data(store_a, scale=scale)
        if built:
            refresh_store_day_volumes(TODAY.isoformat())
        client.force_login(manager_a)
        client.get(reverse("complaints:dashboard"))  # warm the session and permission caches
        with django_assert_num_queries(DASHBOARD_QUERIES):
            response = client.get(reverse("complaints:dashboard"))
    assert response.status_code == 200
    assert sum(month.deliveries for month in response.context["dashboard"].months) > 0
