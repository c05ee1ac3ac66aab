"""Customer states over time (流失分析): each customer's state at the end of each month, set-based.

At the end E of a month, a customer with at least one visit (a vehicle delivered or a repair order
settled) on or before E is in one state, from the last visit L on or before E: **new** when their
first delivery falls within that month; else **active** when L >= E - 6 months, **dormant** when
E - 12 months <= L < E - 6 months, **lost** when L < E - 12 months. Month arithmetic keeps the day
and clamps to the month's end (PostgreSQL's ``date - interval 'n months'`` does exactly that).
Customers all of whose vehicles are transferred or scrapped *today* are left out of every month
(the DMS keeps no history of a vehicle's status).

One SQL statement computes the states of a run of months for every customer: it is read as it
stands by ``export_states`` and written into ``CustomerMonthState`` snapshots for the dashboard.
"""

import datetime
import re
from collections.abc import Iterator

from django.db import connection, transaction
from django.db.models import Min

from crm.calendar import add_months
from customers.choices import CustomerState
from customers.models import CustomerMonthState, CustomerStateMovement
from customers.selectors import CUSTOMER_TABLE, REPAIR_ORDER_TABLE, VEHICLE_TABLE, vehicle_is_active_sql
from customers.win_backs import win_backs_write

SNAPSHOT_TABLE = CustomerMonthState._meta.db_table
EXPORT_BATCH = 5000
#: The most months one build statement writes: a backfill of years runs as several transactions.
BUILD_RUN_MONTHS = 12
MOVEMENT_TABLE = CustomerStateMovement._meta.db_table


MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})", re.ASCII)


def parse_month(value: str) -> datetime.date | None:
    """The first day of the month written ``YYYY-MM``, or None when it is not one."""
    match = MONTH_PATTERN.fullmatch(value.strip())
    if not match or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        return None
    return datetime.date(int(match[1]), int(match[2]), 1)


def month_start(day: datetime.date) -> datetime.date:
    return day.replace(day=1)


def month_end(month: datetime.date) -> datetime.date:
    return add_months(month_start(month), 1) - datetime.timedelta(days=1)


def months_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    """The first days of the months from ``first``'s to ``last``'s, both included."""
    months, month = [], month_start(first)
    while month <= month_start(last):
        months.append(month)
        month = add_months(month, 1)
    return months


# The states of the months %(first)s .. %(last)s (first days of their months), one row per customer
# and month: (customer_id, store_id, month, state, last_visit).
#  - visit: every delivery and settled repair order up to the last month's end;
#  - per_month: each customer's latest visit per month, visits before the first month folded into it;
#  - grid: each customer's months from their first month with a visit to the last month;
#  - carried: L of each (customer, month) = the latest visit up to that month (a running max).
_STATES_SQL = f"""
WITH visit AS (
    SELECT v.customer_id, v.delivery_date AS visit_date
    FROM {VEHICLE_TABLE} v
    WHERE v.delivery_date <= %(last_end)s
    UNION ALL
    SELECT v.customer_id, ro.settle_date
    FROM {REPAIR_ORDER_TABLE} ro JOIN {VEHICLE_TABLE} v ON v.id = ro.vehicle_id
    WHERE ro.settle_date <= %(last_end)s
),
per_month AS (
    SELECT customer_id, GREATEST(date_trunc('month', visit_date::timestamp)::date, %(first)s::date) AS month,
           max(visit_date) AS latest
    FROM visit GROUP BY 1, 2
),
grid AS (
    SELECT s.customer_id, m.month::date AS month
    FROM (SELECT customer_id, min(month) AS first_month FROM per_month GROUP BY 1) s
    CROSS JOIN LATERAL generate_series(s.first_month::timestamp, %(last)s::timestamp, interval '1 month') AS m(month)
),
carried AS (
    SELECT g.customer_id, g.month,
           max(pm.latest) OVER (PARTITION BY g.customer_id ORDER BY g.month) AS last_visit
    FROM grid g LEFT JOIN per_month pm ON pm.customer_id = g.customer_id AND pm.month = g.month
),
owner AS (
    SELECT c.id, c.store_id, o.first_delivery
    FROM (SELECT ov.customer_id, min(ov.delivery_date) AS first_delivery
          FROM {VEHICLE_TABLE} ov GROUP BY ov.customer_id
          HAVING bool_or({vehicle_is_active_sql(alias="ov")})) o
    JOIN {CUSTOMER_TABLE} c ON c.id = o.customer_id
),
dated AS (
    SELECT k.customer_id, o.store_id, k.month, k.last_visit, o.first_delivery,
           (k.month + interval '1 month' - interval '1 day')::date AS month_end
    FROM carried k JOIN owner o ON o.id = k.customer_id
)
SELECT customer_id, store_id, month,
       CASE
           WHEN first_delivery BETWEEN month AND month_end THEN '{CustomerState.NEW.value}'
           WHEN last_visit >= (month_end - interval '6 months')::date THEN '{CustomerState.ACTIVE.value}'
           WHEN last_visit >= (month_end - interval '12 months')::date THEN '{CustomerState.DORMANT.value}'
           ELSE '{CustomerState.LOST.value}'
       END AS state,
       last_visit
FROM dated
"""


def _params(first: datetime.date, last: datetime.date) -> dict:
    return {"first": month_start(first), "last": month_start(last), "last_end": month_end(last)}


def month_states_rows(*, month: datetime.date) -> Iterator[tuple[str, str]]:
    """(customer_no, state) of every customer of every store at the end of ``month``, computed from
    the data as it stands, sorted by customer_no in code point order (``export_states``). Read
    through a server-side cursor, a few thousand rows at a time."""
    sql = f"""SELECT c.customer_no, st.state FROM ({_STATES_SQL}) st
              JOIN {CUSTOMER_TABLE} c ON c.id = st.customer_id
              ORDER BY c.customer_no COLLATE "C" """
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        with connection.cursor() as settings_cursor:
            settings_cursor.execute("SET LOCAL jit = off")
        cursor.execute(sql, _params(month, month))
        while rows := cursor.fetchmany(EXPORT_BATCH):
            yield from rows


# The movement counts of the months %(first)s .. %(last)s from their snapshots and the month before's.
_MOVEMENTS_SQL = f"""
INSERT INTO {MOVEMENT_TABLE} (store_id, month, previous_state, state, customers)
SELECT cur.store_id, cur.month, COALESCE(prev.state, ''), cur.state, count(*)
FROM {SNAPSHOT_TABLE} cur
LEFT JOIN {SNAPSHOT_TABLE} prev
    ON prev.customer_id = cur.customer_id AND prev.month = (cur.month - interval '1 month')::date
WHERE cur.month BETWEEN %(first)s AND %(last)s
GROUP BY 1, 2, 3, 4
"""


def customer_states_build(*, first: datetime.date, last: datetime.date) -> int:
    """Write the snapshots of the months ``first`` .. ``last`` (any day of each), replacing the rows
    those months had: one DELETE and one INSERT … SELECT, in one transaction. Then sum the movements
    and write the win-backs (customers.win_backs) of those months and of the month after (whose
    "previous state" may have changed). Returns the
    snapshot rows written. Safe twice and concurrently (the second run replaces the first's rows)."""
    first, last = month_start(first), month_start(last)
    if first > last:
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        # Two builds of the same months wait for each other rather than collide on the unique key.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [SNAPSHOT_TABLE])
        # JIT compiling these few big statements costs seconds and saves nothing.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(f"DELETE FROM {SNAPSHOT_TABLE} WHERE month BETWEEN %s AND %s", [first, last])
        cursor.execute(
            f"INSERT INTO {SNAPSHOT_TABLE} (customer_id, store_id, month, state, last_visit) {_STATES_SQL}",
            _params(first, last),
        )
        written = cursor.rowcount
        movements = {"first": first, "last": add_months(last, 1)}
        cursor.execute(f"DELETE FROM {MOVEMENT_TABLE} WHERE month BETWEEN %(first)s AND %(last)s", movements)
        cursor.execute(_MOVEMENTS_SQL, movements)
        # Who was won back in those months and the month after, and by which contact.
        win_backs_write(cursor=cursor, first=first, last=add_months(last, 1))
        return written


def first_visit_month() -> datetime.date | None:
    """The month of the earliest delivery or settled repair order, or None when there is none."""
    from customers.models import RepairOrder, Vehicle

    dates = [
        Vehicle.objects.aggregate(first=Min("delivery_date"))["first"],
        RepairOrder.objects.aggregate(first=Min("settle_date"))["first"],
    ]
    dates = [day for day in dates if day]
    return month_start(min(dates)) if dates else None


def customer_states_refresh(*, today: datetime.date) -> int:
    """The nightly run: rebuild the current and the previous month (the previous month's last day
    was not yet in it), and build every earlier month the data covers that has no snapshot yet
    (the backfill). Returns the rows written."""
    first = first_visit_month()
    if first is None:
        return 0
    current = month_start(today)
    refresh_from = max(first, add_months(current, -1))
    written = 0
    # Read from the movement sums (a few rows a month), not the snapshots (a row a customer).
    built = set(CustomerStateMovement.objects.filter(month__lt=refresh_from).values_list("month", flat=True).distinct())
    missing = [month for month in months_between(first, refresh_from) if month < refresh_from and month not in built]
    # Consecutive missing months are built together, up to BUILD_RUN_MONTHS in one statement.
    for run_first, run_last in _runs(missing):
        written += customer_states_build(first=run_first, last=run_last)
    if refresh_from <= current:
        written += customer_states_build(first=refresh_from, last=current)
    return written


def _runs(months: list[datetime.date]) -> list[tuple[datetime.date, datetime.date]]:
    runs: list[list[datetime.date]] = []
    for month in months:
        if runs and add_months(runs[-1][1], 1) == month and len(months_between(*runs[-1])) < BUILD_RUN_MONTHS:
            runs[-1][1] = month
        else:
            runs.append([month, month])
    return [(first, last) for first, last in runs]
