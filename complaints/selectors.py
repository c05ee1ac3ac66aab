"""Reads of complaints, scoped to what the user may see, and the managers' dashboard as
set-based SQL (one statement per block, whatever the number of complaints)."""

import datetime
from dataclasses import dataclass, field
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from complaints.choices import SEVERITY_DEDUCTION, Channel, Department, Status
from complaints.models import Complaint, ComplaintAction, ComplaintType
from crm.calendar import add_months, local_midnight
from crm.compiled_reads import compiled_read
from crm.models import User
from crm.scoping import in_stores, report_store_ids, store_scope, visible_store_ids
from customers.models import SatisfactionResult
from customers.selectors import customer_visible_to_user_id, sees_every_level
from customers.selectors.volumes import monthly_volumes

LIST_RELATED = ["store", "customer", "vehicle", "complaint_type", "assigned_manager", "staff_concerned"]
#: What a row of the complaint list shows (templates/complaints/complaint_list.html and _status.html):
#: not the whole card, car, store and staff of each row (a card alone has 43 columns).
LIST_PAGE_FIELDS = (
    "store_id", "customer_id", "vehicle_id", "complaint_type_id", "assigned_manager_id", "department", "severity",
    "status", "received_at", "response_due_at", "close_due_at", "first_response_at", "customer__name",
    "customer__customer_no", "complaint_type__name", "assigned_manager__first_name", "assigned_manager__last_name",
)  # fmt: skip
STAFF_SCORE_START = 100


# --- complaints as the user may see them ---------------------------------------------------------


def complaint_queryset_for_user(user) -> QuerySet[Complaint]:
    """Complaints of the user's stores: all of them for agents and managers; for advisors and sales
    consultants the open ones and those they logged themselves (closed too); never those of a 绝密 or
    机密 card the user may not see."""
    reading = _complaints_read(user)
    if reading is None:
        return Complaint.objects.none()
    return _complaints_visible(reading, user_id=user.pk)


class _Reading(NamedTuple):
    """What the user's complaints depend on besides the user's ID (the key of their compiled reads)."""

    scope: tuple[int, ...] | None  # the stores (None: every store)
    open_only: bool  # only the open ones and the user's own
    every_level: bool  # every card level seen


def _complaints_read(user) -> _Reading | None:
    """The user's reading of complaints; None when the user reads no complaint."""
    if not (user and user.is_authenticated):
        return None
    if user.has_perm("complaints.view_complaint"):
        open_only = False
    elif user.has_perm("complaints.view_open_complaints"):
        open_only = True
    else:
        return None
    return _Reading(scope=store_scope(user), open_only=open_only, every_level=sees_every_level(user))


def _complaints_visible(reading: _Reading, *, user_id: int) -> QuerySet[Complaint]:
    complaints = in_stores(Complaint.objects.all(), reading.scope)
    if reading.open_only:
        complaints = complaints.filter(~Q(status=Status.CLOSED) | Q(created_by_id=user_id))
    if reading.every_level:
        return complaints
    # The card levels as "not one of the few restricted cards hidden from the user" (an indexed
    # anti-join, as the call queue reads its tasks), not as ``customer IN (every card the user may
    # see)``: for a group that had the planner read all of its million cards on every page.
    return complaints.filter(customer_visible_to_user_id(user_id))


def complaint_summaries_for_user(user) -> QuerySet[Complaint]:
    """Complaints of the user's stores whose summary (number, type, logged / closed / reopened, when)
    the user may read on a card they see: every complaint for staff who read complaints, the closed
    ones too for advisors and sales consultants, who meet the customer next. What a complaint says
    stays behind complaint_queryset_for_user."""
    reading = _complaints_read(user)
    if reading is None:
        return Complaint.objects.none()
    return in_stores(Complaint.objects.all(), reading.scope)


def customer_complaint_actions(*, user, customer, kinds: tuple[str, ...], limit: int = 50) -> list[ComplaintAction]:
    """The ``kinds`` of actions (logged, closed…) on the customer's complaints whose summary the user
    may read (``complaint_summaries_for_user``), newest first, each marked ``readable`` when the user
    may read the complaint itself (``complaint_queryset_for_user``): the card's timeline, one
    statement compiled once per what the user's complaints depend on (crm.compiled_reads)."""
    reading = _complaints_read(user)
    if reading is None:
        return []

    def build(*, customer_id: int, user_id: int) -> QuerySet[ComplaintAction]:
        summaries = in_stores(Complaint.objects.all(), reading.scope).filter(customer_id=customer_id)
        readable = _complaints_visible(reading, user_id=user_id).filter(pk=OuterRef("complaint_id"))
        return (
            ComplaintAction.objects.filter(complaint__in=summaries, kind__in=kinds)
            .annotate(readable=Exists(readable))
            .select_related("complaint__complaint_type", "actor")
            .order_by("-at")[:limit]
        )

    key = ("complaint actions", reading, kinds, limit)
    return compiled_read(key, build, customer_id=customer.pk, user_id=user.pk)


def staff_concerned_choices(user) -> QuerySet[User]:
    """Active staff of the user's stores: who a complaint may be about."""
    staff = User.objects.filter(is_active=True).order_by("last_name", "first_name", "username")
    store_ids = visible_store_ids(user)
    if store_ids is not None:
        staff = staff.filter(stores__in=store_ids).distinct()
    return staff


def overdue_q(now: datetime.datetime) -> Q:
    return ~Q(status=Status.CLOSED) & (
        Q(first_response_at__isnull=True, response_due_at__lte=now) | Q(close_due_at__lte=now)
    )


def complaint_list_for_user(
    *,
    user,
    search: str = "",
    status: str = "",
    store_id: int | None = None,
    overdue_only: bool = False,
    now: datetime.datetime | None = None,
) -> QuerySet[Complaint]:
    queryset = (
        complaint_queryset_for_user(user)
        .select_related("customer", "complaint_type", "assigned_manager")
        .only(*LIST_PAGE_FIELDS)
    )
    if status == "active":
        queryset = queryset.exclude(status=Status.CLOSED)
    elif status in Status.values:
        queryset = queryset.filter(status=status)
    if store_id:
        queryset = queryset.filter(store_id=store_id)
    if overdue_only:
        queryset = queryset.filter(overdue_q(now or timezone.now()))
    search = search.strip()
    if search:
        condition = Q(customer__name__startswith=search) | Q(customer__customer_no__iexact=search)
        condition |= Q(vehicle__plate_no__iexact=search)
        if search.lstrip("#").isdecimal():
            condition |= Q(pk=int(search.lstrip("#")))
        queryset = queryset.filter(condition)
    return queryset.order_by("-received_at", "-id")


def complaint_get_for_user(*, user, pk) -> Complaint:
    """The complaint, or 404 when it does not exist or lies outside what the user may see."""
    try:
        return complaint_queryset_for_user(user).select_related(*LIST_RELATED, "created_by").get(pk=pk)
    except (Complaint.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def complaint_timeline(*, complaint: Complaint) -> QuerySet[ComplaintAction]:
    return complaint.actions.select_related("actor").order_by("at", "id")


def complaint_history(*, complaint: Complaint, limit: int = 50):
    return complaint.history.select_related("history_user").order_by("-history_date")[:limit]


def customer_open_complaints(*, user, customer) -> list[Complaint]:
    """The customer's open complaints the user may read, oldest first (the card's panel, the call
    panel's alert): compiled once per what the user's complaints depend on (crm.compiled_reads)."""
    reading = _complaints_read(user)
    if reading is None:
        return []

    def build(*, customer_id: int, user_id: int) -> QuerySet[Complaint]:
        complaints = _complaints_visible(reading, user_id=user_id).filter(customer_id=customer_id)
        complaints = complaints.exclude(status=Status.CLOSED).select_related("complaint_type", "assigned_manager")
        return complaints.order_by("received_at")

    return compiled_read(("open complaints", reading), build, customer_id=customer.pk, user_id=user.pk)


def complaint_for_result_reference(*, user, reference: str) -> Complaint | None:
    """The complaint (as the user may see it) a satisfaction result opened or was added to."""
    if not reference:
        return None
    visible = complaint_queryset_for_user(user)
    return (
        visible.filter(origin_reference=reference).first()
        or visible.filter(actions__reference=reference).order_by("id").first()
    )


def satisfaction_result_for_customer(*, customer, reference: str) -> SatisfactionResult | None:
    return SatisfactionResult.objects.filter(customer=customer, reference=reference).first()


# --- the managers' dashboard ---------------------------------------------------------------------


# The dashboard covers the stores of crm.scoping's rule for reports.
dashboard_store_ids = report_store_ids


@dataclass
class DashboardPeriod:
    """Whole months, ``first_month`` to ``last_month`` (both the 1st of their month), local time."""

    first_month: datetime.date
    last_month: datetime.date

    @property
    def start(self) -> datetime.datetime:
        return local_midnight(self.first_month)

    @property
    def end(self) -> datetime.datetime:
        return local_midnight(add_months(self.last_month, 1))

    @property
    def months(self) -> list[datetime.date]:
        months, month = [], self.first_month
        while month <= self.last_month:
            months.append(month)
            month = add_months(month, 1)
        return months

    @classmethod
    def last_twelve_months(cls, today: datetime.date) -> "DashboardPeriod":
        last = today.replace(day=1)
        return cls(first_month=add_months(last, -11), last_month=last)


@dataclass
class MonthFigures:
    month: datetime.date
    sales_complaints: int
    service_complaints: int
    deliveries: int
    repair_orders: int
    # The month in progress: its rates divide a few days' complaints by a few days' deliveries.
    is_partial: bool = False

    @property
    def complaints(self) -> int:
        return self.sales_complaints + self.service_complaints

    @property
    def sales_rate(self) -> float | None:
        """Sales complaints per 100 deliveries (%), as seed 004 reports it."""
        return _percent(self.sales_complaints, self.deliveries)

    @property
    def service_rate(self) -> float | None:
        """Service complaints per 100 repair orders (%)."""
        return _percent(self.service_complaints, self.repair_orders)


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 3) if whole else None


@dataclass
class Dashboard:
    period: DashboardPeriod
    now: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)
    months: list[MonthFigures] = field(default_factory=list)
    by_type: list[tuple[str, int]] = field(default_factory=list)
    by_channel: list[tuple[str, int]] = field(default_factory=list)
    by_department: list[tuple[str, int]] = field(default_factory=list)
    by_staff: list[tuple[str, int]] = field(default_factory=list)
    times: dict = field(default_factory=dict)
    staff_scores: list[dict] = field(default_factory=list)


def dashboard_now(*, store_ids: list[int], now: datetime.datetime) -> dict:
    """Open complaints and how many are overdue right now (response, closing, either)."""
    response_overdue = Q(first_response_at__isnull=True, response_due_at__lte=now)
    close_overdue = Q(close_due_at__lte=now)
    return (
        Complaint.objects.filter(store_id__in=store_ids)
        .exclude(status=Status.CLOSED)
        .aggregate(
            open=Count("id"),
            overdue=Count("id", filter=response_overdue | close_overdue),
            response_overdue=Count("id", filter=response_overdue),
            close_overdue=Count("id", filter=close_overdue),
        )
    )


MONTHLY_SQL = """
SELECT date_trunc('month', received_at AT TIME ZONE %(zone)s)::date AS month,
       count(*) FILTER (WHERE department = 'sales') AS sales,
       count(*) FILTER (WHERE department = 'service') AS service
FROM complaints_complaint
WHERE store_id = ANY(%(stores)s) AND received_at >= %(start)s AND received_at < %(end)s
GROUP BY 1
"""


def dashboard_months(*, store_ids: list[int], period: DashboardPeriod) -> list[MonthFigures]:
    """Per month: complaints by department and the deliveries and settled repair orders they are
    divided by (the complaint rates of seed 004). The complaints are counted here (few rows, read
    through complaint_store_received_idx); the deliveries and repair orders come from the per-day
    volumes customers keeps (customers.selectors.volumes), never from its tables. Two queries."""
    params = {"start": period.start, "end": period.end, "stores": store_ids, "zone": settings.TIME_ZONE}
    with connection.cursor() as cursor:
        cursor.execute(MONTHLY_SQL, params)
        complaints = {month: (sales, service) for month, sales, service in cursor.fetchall()}
    volumes = monthly_volumes(store_ids=store_ids, first_month=period.first_month, last_month=period.last_month)
    return [
        MonthFigures(month, *complaints.get(month, (0, 0)), volume.deliveries, volume.repair_orders)
        for month, volume in sorted(volumes.items())
    ]


TIMES_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE status = 'closed'),
       avg(extract(epoch FROM first_response_at - received_at)) / 60,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM first_response_at - received_at)) / 60,
       avg(extract(epoch FROM closed_at - received_at)) FILTER (WHERE status = 'closed') / 3600,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM closed_at - received_at))
           FILTER (WHERE status = 'closed') / 3600,
       count(*) FILTER (WHERE first_response_at IS NOT NULL AND first_response_at <= response_due_at),
       count(*) FILTER (WHERE first_response_at IS NOT NULL),
       count(*) FILTER (WHERE status = 'closed' AND closed_at <= close_due_at),
       count(*) FILTER (WHERE status = 'closed' AND customer_confirmation = 'satisfied')
FROM complaints_complaint
WHERE store_id = ANY(%(stores)s) AND received_at >= %(start)s AND received_at < %(end)s
"""


def _rounded(value, digits: int = 1) -> float | None:
    return None if value is None else round(float(value), digits)


def dashboard_times(*, store_ids: list[int], period: DashboardPeriod) -> dict:
    """Mean and 90th percentile of the time to respond (minutes) and to close (hours), with the
    shares answered and closed on time, over the complaints received in the period."""
    with connection.cursor() as cursor:
        cursor.execute(TIMES_SQL, {"stores": store_ids, "start": period.start, "end": period.end})
        (
            received,
            closed,
            respond_mean,
            respond_p90,
            close_mean,
            close_p90,
            responded_on_time,
            responded,
            closed_on_time,
            satisfied,
        ) = cursor.fetchone()
    return {
        "received": received,
        "closed": closed,
        "respond_mean_minutes": _rounded(respond_mean),
        "respond_p90_minutes": _rounded(respond_p90),
        "close_mean_hours": _rounded(close_mean),
        "close_p90_hours": _rounded(close_p90),
        "responded_on_time_percent": _percent(responded_on_time, responded),
        "closed_on_time_percent": _percent(closed_on_time, closed),
        "satisfied_percent": _percent(satisfied, closed),
    }


BREAKDOWN_SQL = """
SELECT GROUPING(complaint_type_id, channel, department), complaint_type_id, channel, department, count(*)
FROM complaints_complaint
WHERE store_id = ANY(%(stores)s) AND received_at >= %(start)s AND received_at < %(end)s
GROUP BY GROUPING SETS ((complaint_type_id), (channel), (department))
"""
# GROUPING() bits: 1 = department rolled up, 2 = channel, 4 = type; so a by-type row reads 3.
_BY_TYPE, _BY_CHANNEL, _BY_DEPARTMENT = 3, 5, 6


def dashboard_breakdowns(*, store_ids: list[int], period: DashboardPeriod) -> dict[str, list[tuple[str, int]]]:
    """Complaints of the period by type, by channel and by department, in one scan."""
    with connection.cursor() as cursor:
        cursor.execute(BREAKDOWN_SQL, {"stores": store_ids, "start": period.start, "end": period.end})
        rows = cursor.fetchall()
    type_names = dict(ComplaintType.objects.values_list("pk", "name"))
    channel_labels, department_labels = dict(Channel.choices), dict(Department.choices)
    by_type = [(type_names[type_id], n) for grouping, type_id, _c, _d, n in rows if grouping == _BY_TYPE]
    by_channel = [(str(channel_labels[code]), n) for grouping, _t, code, _d, n in rows if grouping == _BY_CHANNEL]
    by_department = [(code, n) for grouping, _t, _c, code, n in rows if grouping == _BY_DEPARTMENT]
    return {
        "by_type": sorted(by_type, key=lambda item: (-item[1], item[0])),
        "by_channel": sorted(by_channel, key=lambda item: (-item[1], item[0])),
        "by_department": [(str(department_labels[code]), n) for code, n in sorted(by_department)],
    }


STAFF_SQL = """
SELECT date_trunc('month', c.received_at AT TIME ZONE %(zone)s)::date AS month,
       coalesce(nullif(u.last_name || u.first_name, ''), u.username, c.staff_concerned_name) AS staff,
       count(*) AS complaints,
       sum(CASE c.severity {deductions} ELSE 0 END) AS points
FROM complaints_complaint c
LEFT JOIN {user_table} u ON u.id = c.staff_concerned_id
WHERE c.store_id = ANY(%(stores)s) AND c.received_at >= %(start)s AND c.received_at < %(end)s
  AND (c.staff_concerned_id IS NOT NULL OR c.staff_concerned_name <> '')
GROUP BY 1, 2
ORDER BY 1 DESC, 4 DESC, 2
""".format(
    deductions=" ".join(f"WHEN '{severity}' THEN {points}" for severity, points in SEVERITY_DEDUCTION.items()),
    user_table=User._meta.db_table,
)


def dashboard_staff(*, store_ids: list[int], period: DashboardPeriod) -> tuple[list[tuple[str, int]], list[dict]]:
    """Complaints per staff member over the period, and the monthly score table (每月客诉评分):
    100 minus the points of each complaint about the member (low 1, medium 2, high 5, critical 10)."""
    with connection.cursor() as cursor:
        cursor.execute(
            STAFF_SQL, {"stores": store_ids, "start": period.start, "end": period.end, "zone": settings.TIME_ZONE}
        )
        rows = cursor.fetchall()
    totals: dict[str, int] = {}
    scores = []
    for month, staff, complaints, points in rows:
        totals[staff] = totals.get(staff, 0) + complaints
        scores.append(
            {
                "month": month,
                "staff": staff,
                "complaints": complaints,
                "points": points,
                "score": max(STAFF_SCORE_START - points, 0),
            }
        )
    by_staff = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return by_staff, scores


def complaint_dashboard(*, store_ids: list[int], period: DashboardPeriod, now: datetime.datetime) -> Dashboard:
    """Everything the dashboard shows; the monthly rates cover the 12 months ending with the period."""
    trend = DashboardPeriod(first_month=add_months(period.last_month, -11), last_month=period.last_month)
    dashboard = Dashboard(period=period)
    dashboard.now = dashboard_now(store_ids=store_ids, now=now)
    dashboard.months = dashboard_months(store_ids=store_ids, period=trend)
    this_month = timezone.localtime(now).date().replace(day=1)
    for month in dashboard.months:
        month.is_partial = month.month == this_month
    breakdowns = dashboard_breakdowns(store_ids=store_ids, period=period)
    dashboard.by_type = breakdowns["by_type"]
    dashboard.by_channel = breakdowns["by_channel"]
    dashboard.by_department = breakdowns["by_department"]
    dashboard.times = dashboard_times(store_ids=store_ids, period=period)
    dashboard.by_staff, dashboard.staff_scores = dashboard_staff(store_ids=store_ids, period=period)
    return dashboard


def complaint_export_rows(*, user, store_ids: list[int], period: DashboardPeriod) -> QuerySet[Complaint]:
    """One row per complaint received in the period that the user may see (a 绝密 or 机密 card's
    complaints only for those who may see the card: customers.selectors), for the managers' CSV export."""
    return (
        complaint_queryset_for_user(user)
        .filter(store_id__in=store_ids, received_at__gte=period.start, received_at__lt=period.end)
        .select_related(*LIST_RELATED)
        .order_by("received_at", "id")
    )


def complaints_by_id_for_user(*, user, ids: list[int]) -> QuerySet[Complaint]:
    """The complaints of ``ids`` the user may still see (an approved export), oldest first."""
    return (
        complaint_queryset_for_user(user).filter(pk__in=ids).select_related(*LIST_RELATED).order_by("received_at", "id")
    )
