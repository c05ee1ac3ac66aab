"""Satisfaction over time counted per month (docs/retention.md, "Satisfaction over time"), kept as
``SatisfactionMonth`` so that the page sums a few rows per store and month instead of every result
of the period on every view.

Whom a result is credited to is fixed when it is recorded (``satisfaction_result_credit``, called by
``customers.satisfaction.satisfaction_result_record``): the customer's store then, the advisor of the
customer's latest repair order settled on or before the result's local day and the consultant of
the customer's newest car delivered on or before it. So the figures of a month only change when
results are added or removed, never when a card moves to another store or the DMS brings a repair
order later.

Each result counts in three rows of its month and store of record: its rule key (``dimension``
"rule"), its advisor ("advisor") and its consultant ("consultant"). The figures are kept up to date:

- on change: a recorded result adds itself to its three rows in its own transaction
  (``satisfaction_figures_add``: one upsert, so its cost does not grow with the month's results);
  the admin's deletion of a customer recounts the months and stores of the customer's results
  (``customers.services.customers_delete``). Nothing else writes or deletes results: the PIPL erasure
  keeps the card and its results, the DMS import never touches them;
- every night (``customers.tasks.refresh_satisfaction_figures``): the results written by other
  means are credited, and the current and the previous month of every store are recounted, with
  every (month, store) that has results but no figures (``satisfaction_figures_nightly``);
- by hand: ``manage.py rebuild_satisfaction_figures --all`` or ``--month YYYY-MM``.

A recount of a month replaces the rows of its stores with one DELETE and one INSERT … SELECT …
GROUP BY. It holds a transaction-level advisory lock per (month, store), and a result's addition the
same lock shared: a recount waits for the additions in flight to commit and they wait for it, so no
result is counted twice or lost.
"""

import datetime
from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from crm.calendar import add_months, local_midnight
from crm.models import Store
from customers.choices import SatisfactionSource, SatisfactionVerdict
from customers.models import Customer, RepairOrder, SatisfactionMonth, SatisfactionResult, Vehicle

RESULT_TABLE = SatisfactionResult._meta.db_table
MONTH_TABLE = SatisfactionMonth._meta.db_table
_CUSTOMER_TABLE = Customer._meta.db_table
_VEHICLE_TABLE = Vehicle._meta.db_table
_REPAIR_ORDER_TABLE = RepairOrder._meta.db_table

#: The groupings kept: the rule key, the service advisor and the sales consultant of record.
DIMENSIONS = ("rule", "advisor", "consultant")
SCORES = (1, 2, 3, 4, 5)
# The advisory locks of this module: (namespace << 40) | (month number << 20) | store id.
_LOCK_NAMESPACE = 0x5346  # "SF"

# A result's rule key (alias sr): a delivery interview is its own group whatever its rule; a result
# without a rule is named by its source.
RULE_KEY_SQL = f"""CASE WHEN sr.source = '{SatisfactionSource.DELIVERY_INTERVIEW.value}' THEN 'source:' || sr.source
    WHEN sr.rule_code <> '' THEN sr.rule_code ELSE 'source:' || sr.source END"""

# The advisor and the consultant of record of the customer ``{customer}`` on the local day ``{day}``
# (an index look-up each: the customer's cars, their repair orders by settle date).
ADVISOR_SQL = f"""COALESCE((
    SELECT ro.service_advisor FROM {_REPAIR_ORDER_TABLE} ro JOIN {_VEHICLE_TABLE} rv ON rv.id = ro.vehicle_id
    WHERE rv.customer_id = {{customer}} AND ro.settle_date <= {{day}}
    ORDER BY ro.settle_date DESC, ro.id DESC LIMIT 1), '')"""
CONSULTANT_SQL = f"""COALESCE((
    SELECT cv.sales_consultant FROM {_VEHICLE_TABLE} cv
    WHERE cv.customer_id = {{customer}} AND cv.delivery_date <= {{day}}
    ORDER BY cv.delivery_date DESC, cv.id DESC LIMIT 1), '')"""

_CREDIT_SQL = f"""
    SELECT c.store_id,
           {ADVISOR_SQL.format(customer="c.id", day="%(day)s")},
           {CONSULTANT_SQL.format(customer="c.id", day="%(day)s")}
    FROM {_CUSTOMER_TABLE} c WHERE c.id = %(customer)s"""

# The rows written by other means (a data migration, a script) credited as the service would have
# at their time, from the customers' cars and repair orders as they stand; returns their months and stores.
_LOCAL_DAY = "(sr.at AT TIME ZONE %(tz)s)::date"
_CREDIT_UNCREDITED_SQL = f"""
    WITH credited AS (
        UPDATE {RESULT_TABLE} sr
        SET store_id = c.store_id,
            service_advisor = {ADVISOR_SQL.format(customer="sr.customer_id", day=_LOCAL_DAY)},
            sales_consultant = {CONSULTANT_SQL.format(customer="sr.customer_id", day=_LOCAL_DAY)}
        FROM {_CUSTOMER_TABLE} c
        WHERE c.id = sr.customer_id AND sr.store_id IS NULL
        RETURNING date_trunc('month', sr.at AT TIME ZONE %(tz)s)::date AS month, sr.store_id
    )
    SELECT DISTINCT month, store_id FROM credited"""

_SCORE_COLUMNS = ", ".join(f"score_{score}" for score in SCORES)
_COUNT_COLUMNS = ("results", "scored", "score_sum", "dissatisfied", *(f"score_{score}" for score in SCORES))
# The figures of the results ``{where}`` selects (alias sr), one row per month, store and group.
_FIGURES_SQL = f"""
    SELECT date_trunc('month', sr.at AT TIME ZONE %(tz)s)::date, sr.store_id, d.dimension, d.key,
           count(*), count(sr.score), COALESCE(sum(sr.score), 0),
           count(*) FILTER (WHERE sr.verdict = '{SatisfactionVerdict.DISSATISFIED.value}'),
           {", ".join(f"count(*) FILTER (WHERE sr.score = {score})" for score in SCORES)}
    FROM {RESULT_TABLE} sr
    CROSS JOIN LATERAL (VALUES ('rule', {RULE_KEY_SQL}), ('advisor', sr.service_advisor),
                               ('consultant', sr.sales_consultant)) AS d (dimension, key)
    WHERE {{where}}
    GROUP BY 1, 2, 3, 4"""
_INSERT = f"INSERT INTO {MONTH_TABLE} AS f (month, store_id, dimension, key, {', '.join(_COUNT_COLUMNS)})"

_LOCK_SQL = "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%(keys)s::bigint[]) AS k;"
_REFRESH_SQL = f"""
    DELETE FROM {MONTH_TABLE} f WHERE f.month = %(month)s AND f.store_id = ANY(%(store_ids)s);
    {_INSERT}
    {_FIGURES_SQL.format(where="sr.store_id = ANY(%(store_ids)s) AND sr.at >= %(start)s AND sr.at < %(end)s")};
"""

_ADD_SQL = f"""
    SELECT count(pg_advisory_xact_lock_shared(k)) FROM unnest(%(keys)s::bigint[]) AS k;
    {_INSERT}
    {_FIGURES_SQL.format(where="sr.id = %(id)s AND sr.store_id IS NOT NULL")}
    ON CONFLICT (store_id, month, dimension, key) DO UPDATE SET
        {", ".join(f"{column} = f.{column} + EXCLUDED.{column}" for column in _COUNT_COLUMNS)};
"""

# The (month, store) pairs with credited results but no figures at all.
_MISSING_SQL = f"""
    SELECT DISTINCT date_trunc('month', sr.at AT TIME ZONE %(tz)s)::date, sr.store_id
    FROM {RESULT_TABLE} sr WHERE sr.store_id IS NOT NULL
    EXCEPT
    SELECT DISTINCT f.month, f.store_id FROM {MONTH_TABLE} f"""

_EPOCH_YEAR = 2000


def _lock_key(month: datetime.date, store_id: int) -> int:
    months = (month.year - _EPOCH_YEAR) * 12 + month.month - 1
    return (_LOCK_NAMESPACE << 40) | ((months & 0xFFFFF) << 20) | (store_id & 0xFFFFF)


def result_month(at: datetime.datetime) -> datetime.date:
    """The month (its first day) a result of time ``at`` counts in: local time."""
    return timezone.localdate(at).replace(day=1)


def satisfaction_result_credit(*, customer_id: int, day: datetime.date) -> tuple[int, str, str]:
    """Whom a result of the customer on the local ``day`` is credited to: the customer's store now,
    the service advisor of the customer's latest repair order settled on or before ``day`` and the
    sales consultant of the customer's newest car delivered on or before it ('' when none). One
    query (index look-ups)."""
    with connection.cursor() as cursor:
        cursor.execute(_CREDIT_SQL, {"customer": customer_id, "day": day})
        store_id, advisor, consultant = cursor.fetchone()
    return store_id, advisor, consultant


def satisfaction_figures_add(*, result: SatisfactionResult) -> None:
    """A result just saved (credited) adds itself to the three rows of its month and store, in the
    caller's transaction: one statement, whatever the month's results. The nightly recount puts
    right anything this missed."""
    if result.store_id is None:
        return  # credited and counted by the next recount
    params = {
        "tz": settings.TIME_ZONE,
        "id": result.pk,
        "keys": [_lock_key(result_month(result.at), result.store_id)],
    }
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute(_ADD_SQL, params)


def satisfaction_figures_refresh(*, pairs: Iterable[tuple[datetime.date, int]]) -> int:
    """Recount the figures of the (month, store) ``pairs`` from the results: per month, its stores'
    rows deleted and counted again in one statement each, in a transaction of its own (a savepoint
    within the caller's) holding the pairs' locks. Safe to run twice. Returns the months recounted."""
    stores_of: dict[datetime.date, set[int]] = defaultdict(set)
    for month, store_id in pairs:
        stores_of[month.replace(day=1)].add(store_id)
    for month, store_ids in sorted(stores_of.items()):
        params = {
            "tz": settings.TIME_ZONE,
            "month": month,
            "store_ids": sorted(store_ids),
            "start": local_midnight(month),
            "end": local_midnight(add_months(month, 1)),
            "keys": sorted(_lock_key(month, store_id) for store_id in store_ids),
        }
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_LOCK_SQL + _REFRESH_SQL, params)
    return len(stores_of)


def satisfaction_results_credit_uncredited() -> set[tuple[datetime.date, int]]:
    """Credit the results written by other means than the service (no store of record), as the
    service would have at their time; returns their (month, store) pairs. One statement (a partial
    index finds them: normally none)."""
    with connection.cursor() as cursor:
        cursor.execute(_CREDIT_UNCREDITED_SQL, {"tz": settings.TIME_ZONE})
        return {(month, store_id) for month, store_id in cursor.fetchall()}


def satisfaction_figures_missing() -> set[tuple[datetime.date, int]]:
    """The (month, store) pairs that have credited results but no figures."""
    with connection.cursor() as cursor:
        cursor.execute(_MISSING_SQL, {"tz": settings.TIME_ZONE})
        return {(month, store_id) for month, store_id in cursor.fetchall()}


def _every_store(months: Iterable[datetime.date]) -> set[tuple[datetime.date, int]]:
    store_ids = list(Store.objects.values_list("pk", flat=True))
    return {(month, store_id) for month in months for store_id in store_ids}


def satisfaction_figures_nightly(*, today: datetime.date) -> int:
    """The nightly run: credit the results written by other means, then recount the current and
    the previous month of every store, their months, and every (month, store) with results but no
    figures (all of history on a database whose figures were never built). Returns the months
    recounted."""
    current = today.replace(day=1)
    pairs = satisfaction_results_credit_uncredited()
    pairs |= _every_store([add_months(current, -1), current])
    pairs |= satisfaction_figures_missing()
    return satisfaction_figures_refresh(pairs=pairs)


def satisfaction_figures_rebuild(*, months: Iterable[datetime.date] | None = None, today: datetime.date) -> int:
    """Recount ``months`` (first days) for every store, after crediting the results written by other
    means; None: every month from the first with a result or a figure through ``today``'s (the
    first build after an upgrade, a repair). Returns the months recounted."""
    pairs = satisfaction_results_credit_uncredited()
    if months is None:
        first = satisfaction_first_month()
        last_figure = SatisfactionMonth.objects.order_by("-month").values_list("month", flat=True).first()
        last = max(today.replace(day=1), last_figure or today.replace(day=1))
        months = []
        while first is not None and first <= last:
            months.append(first)
            first = add_months(first, 1)
    return satisfaction_figures_refresh(pairs=pairs | _every_store(months))


def satisfaction_first_month() -> datetime.date | None:
    """The first month with a result or a figure (where a full rebuild starts)."""
    first_result = SatisfactionResult.objects.order_by("at").values_list("at", flat=True).first()
    first_figure = SatisfactionMonth.objects.order_by("month").values_list("month", flat=True).first()
    months = [month for month in (first_result and result_month(first_result), first_figure) if month]
    return min(months) if months else None


def satisfaction_figures_pairs_of_customers(*, customer_ids: list[int]) -> set[tuple[datetime.date, int]]:
    """The (month, store) pairs the results of ``customer_ids`` count in (before they are deleted)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT DISTINCT date_trunc('month', sr.at AT TIME ZONE %(tz)s)::date, sr.store_id
                FROM {RESULT_TABLE} sr WHERE sr.customer_id = ANY(%(customers)s) AND sr.store_id IS NOT NULL""",
            {"tz": settings.TIME_ZONE, "customers": list(customer_ids)},
        )
        return {(month, store_id) for month, store_id in cursor.fetchall()}
