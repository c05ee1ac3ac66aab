"""Every dashboard figure against values computed by hand on a small fixture."""

import datetime

import pytest
import time_machine
from django.utils import translation

from complaints.choices import Channel, Department, Severity, Status
from complaints.selectors import DashboardPeriod, complaint_dashboard, dashboard_store_ids
from customers.models import RepairOrder, Vehicle
from tests.complaints.factories import ComplaintFactory, ComplaintTypeFactory, local
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = local(2026, 11, 10, 12, 0)
PERIOD = DashboardPeriod(first_month=datetime.date(2026, 9, 1), last_month=datetime.date(2026, 10, 1))
HOUR, MINUTE = datetime.timedelta(hours=1), datetime.timedelta(minutes=1)


def complaint(customer, received, *, responded=None, closed=None, satisfied=True, **fields):
    status = Status.CLOSED if closed else (Status.IN_PROGRESS if responded else Status.OPEN)
    return ComplaintFactory(
        customer=customer,
        received_at=received,
        first_response_at=received + responded if responded else None,
        closed_at=received + closed if closed else None,
        status=status,
        customer_confirmation=("satisfied" if satisfied else "not_satisfied") if closed else "",
        **fields,
    )


@pytest.fixture
def fixture(store_a, store_b):
    customer = CustomerFactory(store=store_a)
    advisor = UserFactory(username="gu", last_name="顾", first_name="明", stores=[store_a])
    consultant = UserFactory(username="shen", last_name="沈", first_name="浩", stores=[store_a])
    quality, attitude, promise = (ComplaintTypeFactory(name=name) for name in ("维修质量", "服务态度", "销售承诺"))
    service, sales = Department.SERVICE, Department.SALES
    # C1: September, answered in 30 min, closed in 10 h, satisfied.
    complaint(customer, local(2026, 9, 3, 10, 0), responded=30 * MINUTE, closed=10 * HOUR,
              department=service, complaint_type=quality, channel=Channel.PHONE, severity=Severity.HIGH,
              staff_concerned=advisor)  # fmt: skip
    # C2: 23:30 on 30 September, local time (15:30 UTC): still September. Late on both clocks.
    complaint(customer, local(2026, 9, 30, 23, 30), responded=90 * MINUTE, closed=30 * HOUR, satisfied=False,
              department=service, complaint_type=attitude, channel=Channel.WECHAT, severity=Severity.LOW,
              staff_concerned_name="李师傅")  # fmt: skip
    # C3: 00:30 on 1 October local (still 30 September in UTC): October. Answered at exactly 60 min, open.
    complaint(customer, local(2026, 10, 1, 0, 30), responded=60 * MINUTE, department=sales,
              complaint_type=promise, channel=Channel.IN_STORE, severity=Severity.CRITICAL,
              staff_concerned=consultant)  # fmt: skip
    # C4: October, never answered.
    complaint(customer, local(2026, 10, 15, 9, 0), department=sales, complaint_type=attitude,
              channel=Channel.PHONE, severity=Severity.MEDIUM)  # fmt: skip
    # C5: store B, never counted for store A.
    complaint(CustomerFactory(store=store_b), local(2026, 10, 2, 9, 0), department=service, complaint_type=quality)
    # C6: August: only in the 12-month trend.
    complaint(customer, local(2026, 8, 20, 9, 0), responded=10 * MINUTE, closed=2 * HOUR, department=service,
              complaint_type=quality)  # fmt: skip
    # C7: November, half an hour old: open, not yet overdue.
    complaint(customer, local(2026, 11, 10, 11, 30), department=service, complaint_type=quality)

    # Denominators: 4 deliveries in September and 8 in October; 400 and 250 settled repair orders.
    old_car = Vehicle.objects.create(vin="OLD00000000000001", customer=customer, store=store_a,
                                     delivery_date=datetime.date(2024, 5, 1))  # fmt: skip
    deliveries = [(9, 4), (10, 8)]
    Vehicle.objects.bulk_create(
        Vehicle(vin=f"NEW{month:02d}{n:012d}", customer=customer, store=store_a,
                delivery_date=datetime.date(2026, month, 1 + n % 28))
        for month, count in deliveries for n in range(count)
    )  # fmt: skip
    Vehicle.objects.create(vin="BBB00000000000001", customer=customer, store=store_b,
                           delivery_date=datetime.date(2026, 9, 9))  # fmt: skip
    RepairOrder.objects.bulk_create(
        RepairOrder(ro_no=f"RO{month}{n:05d}", vehicle=old_car, store=store_a,
                    settle_date=datetime.date(2026, month, 1 + n % 30))
        for month, count in [(9, 400), (10, 250)] for n in range(count)
    )  # fmt: skip
    RepairOrder.objects.create(
        ro_no="RO-unsettled", vehicle=old_car, store=store_a, open_date=datetime.date(2026, 9, 1)
    )
    return store_a


def test_open_and_overdue_now(fixture):
    dashboard = complaint_dashboard(store_ids=[fixture.pk], period=PERIOD, now=NOW)

    assert dashboard.now == {"open": 3, "overdue": 2, "response_overdue": 1, "close_overdue": 2}


def test_complaint_rates_per_month_over_the_twelve_months_of_the_trend(fixture):
    dashboard = complaint_dashboard(store_ids=[fixture.pk], period=PERIOD, now=NOW)

    months = {month.month: month for month in dashboard.months}
    assert list(months) == [datetime.date(2025 + (10 + n) // 12, (10 + n) % 12 + 1, 1) for n in range(12)]
    september, october, august = (months[datetime.date(2026, m, 1)] for m in (9, 10, 8))
    assert (september.sales_complaints, september.service_complaints) == (0, 2)
    assert (september.deliveries, september.repair_orders) == (4, 400)
    assert (september.sales_rate, september.service_rate) == (0.0, 0.5)
    assert (october.sales_complaints, october.service_complaints, october.deliveries, october.repair_orders) == (
        2,
        0,
        8,
        250,
    )
    assert (october.sales_rate, october.service_rate) == (25.0, 0.0)
    assert (august.complaints, august.sales_rate, august.service_rate) == (1, None, None)
    assert sum(month.complaints for month in dashboard.months) == 5


def test_breakdowns_by_type_channel_department_and_staff(fixture):
    with translation.override("en"):
        dashboard = complaint_dashboard(store_ids=[fixture.pk], period=PERIOD, now=NOW)

    assert dict(dashboard.by_type) == {"服务态度": 2, "维修质量": 1, "销售承诺": 1}
    assert dashboard.by_type[0] == ("服务态度", 2)
    assert dict(dashboard.by_channel) == {"Phone": 2, "WeChat": 1, "In store": 1}
    assert dashboard.by_department == [("Sales", 2), ("Service", 2)]
    assert dict(dashboard.by_staff) == {"顾明": 1, "李师傅": 1, "沈浩": 1}


def test_mean_and_90th_percentile_times_and_on_time_shares(fixture):
    dashboard = complaint_dashboard(store_ids=[fixture.pk], period=PERIOD, now=NOW)

    # Responses 30, 90, 60 min: mean 60, P90 = 60 + 0.8 × 30 = 84. Closings 10 h and 30 h: mean 20,
    # P90 = 10 + 0.9 × 20 = 28. On time: 2 of 3 responses (60 min is on time), 1 of 2 closings.
    assert dashboard.times == {
        "received": 4,
        "closed": 2,
        "respond_mean_minutes": 60.0,
        "respond_p90_minutes": 84.0,
        "close_mean_hours": 20.0,
        "close_p90_hours": 28.0,
        "responded_on_time_percent": 66.667,
        "closed_on_time_percent": 50.0,
        "satisfied_percent": 50.0,
    }


def test_monthly_staff_scores(fixture):
    dashboard = complaint_dashboard(store_ids=[fixture.pk], period=PERIOD, now=NOW)

    assert [
        (row["month"], row["staff"], row["complaints"], row["points"], row["score"]) for row in dashboard.staff_scores
    ] == [
        (datetime.date(2026, 10, 1), "沈浩", 1, 10, 90),
        (datetime.date(2026, 9, 1), "顾明", 1, 5, 95),
        (datetime.date(2026, 9, 1), "李师傅", 1, 1, 99),
    ]


def test_a_manager_of_store_b_sees_nothing_of_store_a(fixture, manager_b, store_b):
    assert dashboard_store_ids(user=manager_b) == [store_b.pk]
    assert dashboard_store_ids(user=manager_b, store_id=fixture.pk) == []

    dashboard = complaint_dashboard(store_ids=dashboard_store_ids(user=manager_b), period=PERIOD, now=NOW)

    assert dashboard.now == {"open": 1, "overdue": 1, "response_overdue": 1, "close_overdue": 1}
    assert dashboard.times["received"] == 1


def test_the_month_in_progress_is_marked_and_left_off_the_rate_lines(fixture, client, manager_a):
    """Today one complaint over one delivery would draw 100 % and flatten the year: the month in
    progress keeps its bar and its row (marked) but has no point on the rate lines."""
    in_progress = DashboardPeriod(first_month=datetime.date(2026, 10, 1), last_month=datetime.date(2026, 11, 1))
    dashboard = complaint_dashboard(store_ids=[fixture.pk], period=in_progress, now=NOW)
    assert [month.month for month in dashboard.months if month.is_partial] == [datetime.date(2026, 11, 1)]

    with time_machine.travel(NOW, tick=False):
        client.force_login(manager_a)
        response = client.get("/complaints/dashboard/", {"first_month": "2026-10", "last_month": "2026-11"})
    chart = response.context["chart"]
    assert chart["months"][-2:] == ["2026-10", "2026-11 (in progress)"]  # the complaints tests run in English
    assert (chart["sales_rate"][-2:], chart["service_rate"][-2:]) == ([25.0, None], [0.0, None])
    assert '<tr data-month="2026-11" data-partial>' in response.content.decode()
