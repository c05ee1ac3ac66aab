"""The segment facts (CustomerStats): one row per customer of the traits, vehicles and repair-order
figures segments filter on, kept set-based in SQL (customers.segments reads them)."""

from __future__ import annotations

import datetime

from django.db import connection, transaction
from django.utils import timezone

from crm.bulk import bulk_load, id_array
from crm.calendar import add_months
from customers.membership import member_tier_joins
from customers.selectors import RESTRICTED_LEVELS

_STATS_TRAITS = (
    "store_id", "gender", "birthday", "source", "district", "income_band", "member_tier", "is_restricted",
    "vehicle_brands", "vehicle_series", "vehicle_models",
)  # fmt: skip
# is_restricted: the card's level is one of the visibility rule's restricted levels (customers.selectors).
_RESTRICTED_SQL = ", ".join(f"'{level}'" for level in RESTRICTED_LEVELS)
_STATS_FIGURES = ("last_visit", "spend_12m", "visits_12m", "latest_delivery", "warranty_end")


def _stats_write_sql(*, some_customers: bool, upsert: bool = True) -> str:
    """INSERT … SELECT … ON CONFLICT of the segment facts, one statement: the card's traits, the
    vehicles' brands / series / models and dates, the repair orders' last settle date and 12-month
    figures. Only rows whose values changed are written (so a nightly run rewrites little and the
    table stays compact). With ``some_customers`` the statement is limited to ``%(ids)s`` and keeps
    the stored value third (it ranks a customer against the whole store: the next full run sets it).
    Without ``upsert`` it is a plain INSERT, for a table emptied first."""
    only = "AND {column} = ANY(%(ids)s::bigint[])" if some_customers else ""
    if some_customers:
        value_tier = "''"
    else:
        value_tier = """CASE ntile(3) OVER (PARTITION BY c.store_id
                                ORDER BY coalesce(vi.spend, 0) DESC, coalesce(vi.visits, 0) DESC, c.id)
                 WHEN 1 THEN 'top' WHEN 2 THEN 'middle' ELSE 'low' END"""
    updated = [*_STATS_TRAITS, *_STATS_FIGURES] + ([] if some_customers else ["value_tier"])
    target = "customers_customerstats"
    conflict = (
        f"""
        ON CONFLICT (customer_id) DO UPDATE SET
            {", ".join(f"{name} = EXCLUDED.{name}" for name in updated)}, as_of = EXCLUDED.as_of
        WHERE ({", ".join(f"{target}.{name}" for name in updated)})
              IS DISTINCT FROM ({", ".join(f"EXCLUDED.{name}" for name in updated)})
    """
        if upsert
        else ""
    )
    # The club's tier for its members (customers.membership), else the DMS's on the card.
    member_tier_join, member_tier = member_tier_joins(customer="c", day="%(today)s::date")
    return f"""
        INSERT INTO {target} (customer_id, {", ".join(_STATS_TRAITS)}, {", ".join(_STATS_FIGURES)},
                              value_tier, as_of)
        SELECT c.id, c.store_id, c.gender, c.birthday, c.source, c.district, c.income_band, {member_tier},
               c.confidentiality IN ({_RESTRICTED_SQL}),
               coalesce(d.brands, '{{}}'), coalesce(d.series, '{{}}'), coalesce(d.models, '{{}}'),
               greatest(vi.last_settle, d.latest_delivery), coalesce(vi.spend, 0), coalesce(vi.visits, 0),
               d.latest_delivery, d.warranty_end, {value_tier}, %(today)s
        FROM customers_customer c
        {member_tier_join}
        LEFT JOIN (
            SELECT v.customer_id, max(ro.settle_date) AS last_settle,
                   sum(ro.total_amount) FILTER (WHERE ro.settle_date > %(since)s AND ro.settle_date <= %(today)s)
                       AS spend,
                   count(*) FILTER (WHERE ro.settle_date > %(since)s AND ro.settle_date <= %(today)s) AS visits
            FROM customers_repairorder ro JOIN customers_vehicle v ON v.id = ro.vehicle_id
            WHERE true {only.format(column="v.customer_id")}
            GROUP BY v.customer_id
        ) vi ON vi.customer_id = c.id
        LEFT JOIN (
            SELECT customer_id, max(delivery_date) AS latest_delivery,
                   (array_agg(coalesce(warranty_end, (delivery_date + interval '2 years')::date)
                              ORDER BY delivery_date DESC NULLS LAST, id DESC))[1] AS warranty_end,
                   array_agg(DISTINCT brand ORDER BY brand) FILTER (WHERE brand <> '') AS brands,
                   array_agg(DISTINCT series ORDER BY series) FILTER (WHERE series <> '') AS series,
                   array_agg(DISTINCT model ORDER BY model) FILTER (WHERE model <> '') AS models
            FROM customers_vehicle
            WHERE true {only.format(column="customer_id")}
            GROUP BY customer_id
        ) d ON d.customer_id = c.id
        WHERE true {only.format(column="c.id")}
        {conflict}
    """


def customer_stats_refresh(*, today: datetime.date | None = None, expected_changes: int = 0) -> int:
    """Recompute the segment facts (CustomerStats) of every customer, set-based, in one statement;
    only rows whose values changed are written. Value thirds are per store (ntile over 12-month
    spend, then visits). Returns the number of rows written. Called after large imports and nightly.

    ``expected_changes``: how many rows the caller expects to change (an import's touched customers);
    when that is most of the table, its indexes are built once after the write (crm.bulk)."""
    today = today or timezone.localdate()
    params = {"today": today, "since": add_months(today, -12)}
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        bulk_load(cursor, "customers_customerstats", new_rows=expected_changes) as taken,
    ):
        if taken:
            # The table is ours until the commit: written afresh, without comparing row by row.
            cursor.execute("TRUNCATE customers_customerstats")
            cursor.execute(_stats_write_sql(some_customers=False, upsert=False), params)
        else:
            cursor.execute(_stats_write_sql(some_customers=False), params)
        return cursor.rowcount


def customer_stats_refresh_for_customers(*, customer_ids, today: datetime.date | None = None) -> int:
    """Recompute the segment facts of a few customers right away (after a card edit): traits,
    vehicles, last visit, 12-month figures. Their value third stays as the last full refresh ranked
    it (a new customer has none until then). Returns the number of rows written."""
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return 0
    today = today or timezone.localdate()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _stats_write_sql(some_customers=True),
            {"today": today, "since": add_months(today, -12), "ids": id_array(ids)},
        )
        return cursor.rowcount


def customer_stats_refresh_after_import(*, customer_ids, today: datetime.date | None = None) -> int:
    """Recompute the segment facts of the customers an import touched, then re-rank the value
    thirds of their stores (old and new) from the facts table, as the full refresh ranks them
    (12-month spend, then visits, then id). When the import touched more than a third of all
    customers the full refresh is run instead: it costs about the same and ranks from the source.
    Returns the number of fact rows written."""
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        total = cursor.fetchone()[0]
    if len(ids) * 3 > total:
        return customer_stats_refresh(today=today, expected_changes=len(ids))
    stores_of = "SELECT DISTINCT store_id FROM customers_customerstats WHERE customer_id = ANY(%s::bigint[])"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(stores_of, [id_array(ids)])
        stores = {row[0] for row in cursor.fetchall()}
        written = customer_stats_refresh_for_customers(customer_ids=ids, today=today)
        cursor.execute(stores_of, [id_array(ids)])
        stores |= {row[0] for row in cursor.fetchall()}
        cursor.execute(
            """
            UPDATE customers_customerstats s SET value_tier = r.tier
            FROM (SELECT customer_id,
                         CASE ntile(3) OVER (PARTITION BY store_id ORDER BY spend_12m DESC, visits_12m DESC,
                                                                            customer_id)
                         WHEN 1 THEN 'top' WHEN 2 THEN 'middle' ELSE 'low' END AS tier
                  FROM customers_customerstats WHERE store_id = ANY(%s)) r
            WHERE s.customer_id = r.customer_id AND s.value_tier IS DISTINCT FROM r.tier
            """,
            [sorted(stores)],
        )
        return written + cursor.rowcount


def customer_stats_refresh_member_tier(
    *, customer_ids_sql: str, params: dict | None = None, today: datetime.date | None = None
) -> int:
    """Rewrite the membership tier of the segment facts of the customers ``customer_ids_sql`` (an SQL
    SELECT of customer ids, with its ``params``) from the club (customers.membership), else the DMS's
    tier on the card: the club's nightly run calls it for the members whose tier it changed. Only
    rows whose tier differs are written. Returns their number."""
    today = today or timezone.localdate()
    joins, tier = member_tier_joins(customer="c", day="%(today)s::date")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE customers_customerstats s SET member_tier = t.tier
            FROM (SELECT c.id, {tier} AS tier FROM customers_customer c {joins}
                  WHERE c.id IN ({customer_ids_sql})) t
            WHERE s.customer_id = t.id AND s.member_tier IS DISTINCT FROM t.tier
            """,
            {**(params or {}), "today": today},
        )
        return cursor.rowcount


def customer_stats_vacuum() -> None:
    """VACUUM ANALYZE the segment facts after a large refresh, so counts stay index-only scans and
    the planner knows the new distribution. Skipped inside a transaction (where VACUUM cannot run)."""
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) customers_customerstats")
