"""The stores' volumes per month (cars delivered, repair orders settled), for the dashboards that
divide by them (the complaint dashboard's rates). Read from the per-day counts ``customers.volumes``
keeps; a day never built (before the first nightly run, a day not reached yet) is counted from the
vehicles and repair orders in the same statement, through their indexes, so the figures are always
those of a recount. One query, whatever the number of stores, months or rows."""

import datetime
from dataclasses import dataclass

from django.db import connections, router

from crm.calendar import add_months
from customers.models import RepairOrder, StoreDayVolume, Vehicle, VolumeDayBuilt


@dataclass(frozen=True)
class MonthVolume:
    month: datetime.date
    deliveries: int = 0
    repair_orders: int = 0


_MONTHLY_SQL = f"""
WITH unbuilt AS (
    SELECT ARRAY(
        SELECT series.day::date
        FROM generate_series(%(first)s::date, %(last)s::date, interval '1 day') AS series (day)
        WHERE NOT EXISTS (SELECT 1 FROM {VolumeDayBuilt._meta.db_table} built WHERE built.day = series.day::date)
    ) AS days
), per_day AS (
    SELECT v.day, v.deliveries, v.repair_orders
    FROM {StoreDayVolume._meta.db_table} v
    WHERE v.store_id = ANY(%(stores)s) AND v.day BETWEEN %(first)s AND %(last)s
      AND v.day <> ALL((SELECT days FROM unbuilt)::date[])
    UNION ALL
    SELECT delivery_date, count(*), 0
    FROM {Vehicle._meta.db_table}
    WHERE store_id = ANY(%(stores)s) AND delivery_date = ANY((SELECT days FROM unbuilt)::date[])
    GROUP BY 1
    UNION ALL
    SELECT settle_date, 0, count(*)
    FROM {RepairOrder._meta.db_table}
    WHERE store_id = ANY(%(stores)s) AND settle_date = ANY((SELECT days FROM unbuilt)::date[])
    GROUP BY 1
)
SELECT date_trunc('month', day)::date, sum(deliveries)::int, sum(repair_orders)::int
FROM per_day
GROUP BY 1
"""


def monthly_volumes(
    *, store_ids: list[int], first_month: datetime.date, last_month: datetime.date
) -> dict[datetime.date, MonthVolume]:
    """Deliveries and settled repair orders of ``store_ids`` per month, ``first_month`` to
    ``last_month`` (first days of their months), every month present (zeros when none)."""
    first = first_month.replace(day=1)
    after_last = add_months(last_month.replace(day=1), 1)
    volumes, month = {}, first
    while month < after_last:
        volumes[month] = MonthVolume(month)
        month = add_months(month, 1)
    params = {
        "stores": list(store_ids),
        "first": first,
        "last": after_last - datetime.timedelta(days=1),
    }
    with connections[router.db_for_read(StoreDayVolume)].cursor() as cursor:
        cursor.execute(_MONTHLY_SQL, params)
        for row_month, deliveries, repair_orders in cursor.fetchall():
            volumes[row_month] = MonthVolume(row_month, deliveries, repair_orders)
    return volumes
