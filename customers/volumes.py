"""Each store's volume per day (cars delivered, repair orders settled), kept as ``StoreDayVolume`` so
that the complaint dashboard divides a year of complaints by a few thousand rows instead of counting
a year of vehicles and repair orders on every view (docs/architecture.md, "Volumes per day").

A day is always recounted whole, for every store, from the vehicles (``delivery_date``) and repair
orders (``settle_date``) as they stand, and marked built (``VolumeDayBuilt``): recounting a day twice
writes nothing the second time. Refreshes are serialised by one advisory lock (held to the end of
the transaction), so a recount that started later never loses to one that read older data.

When a day is recounted:
- after a DMS import of vehicles or repair orders (an import listener): the days of the rows the
  batch wrote (as the importer read them with its touched customers, when it did), and for
  vehicles their days before the import (read from the vehicles' history);
- after a vehicle is saved by a service (the sales desk's delivery, a card's new vehicle, the
  admin): its day, and its previous day when the date or store changed;
- every night (``customers.tasks.refresh_store_day_volumes``): the last ``RECENT_DAYS`` days, and
  every earlier day not built yet (the first run builds the whole history);
- by hand: ``manage.py build_volumes --from YYYY-MM-DD --to YYYY-MM-DD``.
A day never built is counted from the tables when read (customers.selectors.volumes), so the figures
are right before the first build too, only slower.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from crm.bulk import id_array
from customers.choices import ImportKind
from customers.models import ImportBatch, RepairOrder, StoreDayVolume, Vehicle, VolumeDayBuilt

VOLUME_TABLE = StoreDayVolume._meta.db_table
BUILT_TABLE = VolumeDayBuilt._meta.db_table
VEHICLE_TABLE = Vehicle._meta.db_table
REPAIR_ORDER_TABLE = RepairOrder._meta.db_table
VEHICLE_HISTORY_TABLE = Vehicle.history.model._meta.db_table

#: The nightly run recounts this many days back from today (late DMS corrections, writes that
#: bypass the services).
RECENT_DAYS = 40
#: Days recounted per statement and per transaction (a month of a dealer group's repair orders).
CHUNK_DAYS = 31
# pg_advisory_xact_lock key: "VOLUMES" in ASCII.
_LOCK_KEY = 0x564F4C554D4553

_REFRESH_SQL = f"""
WITH fresh AS (
    SELECT store_id, day, sum(deliveries)::int AS deliveries, sum(repair_orders)::int AS repair_orders
    FROM (
        SELECT store_id, delivery_date AS day, count(*) AS deliveries, 0 AS repair_orders
        FROM {VEHICLE_TABLE}
        WHERE delivery_date BETWEEN %(first)s AND %(last)s AND delivery_date = ANY(%(days)s::date[])
        GROUP BY 1, 2
        UNION ALL
        SELECT store_id, settle_date, 0, count(*)
        FROM {REPAIR_ORDER_TABLE}
        WHERE settle_date BETWEEN %(first)s AND %(last)s AND settle_date = ANY(%(days)s::date[])
        GROUP BY 1, 2
    ) AS counts
    GROUP BY 1, 2
), removed AS (
    DELETE FROM {VOLUME_TABLE} old
    WHERE old.day BETWEEN %(first)s AND %(last)s AND old.day = ANY(%(days)s::date[])
      AND NOT EXISTS (SELECT 1 FROM fresh WHERE fresh.store_id = old.store_id AND fresh.day = old.day)
    RETURNING 1
), written AS (
    INSERT INTO {VOLUME_TABLE} AS kept (store_id, day, deliveries, repair_orders)
    SELECT store_id, day, deliveries, repair_orders FROM fresh
    ON CONFLICT (store_id, day) DO UPDATE
        SET deliveries = EXCLUDED.deliveries, repair_orders = EXCLUDED.repair_orders
        WHERE (kept.deliveries, kept.repair_orders) IS DISTINCT FROM (EXCLUDED.deliveries, EXCLUDED.repair_orders)
    RETURNING 1
)
SELECT (SELECT count(*) FROM removed) + (SELECT count(*) FROM written)
"""

_MARK_BUILT_SQL = f"""
INSERT INTO {BUILT_TABLE} (day, built_at) SELECT unnest(%(days)s::date[]), %(now)s
ON CONFLICT (day) DO UPDATE SET built_at = EXCLUDED.built_at
"""


def _chunks(days: list[datetime.date], size: int = CHUNK_DAYS) -> Iterable[list[datetime.date]]:
    for start in range(0, len(days), size):
        yield days[start : start + size]


def store_day_volumes_refresh(*, days: Iterable[datetime.date | None], days_per_statement: int = CHUNK_DAYS) -> int:
    """Recount ``days`` (None ignored) for every store and mark them built; returns the volume rows
    written or removed (0 when nothing changed). Set-based: one statement per ``days_per_statement``
    days, each chunk in its own transaction (a savepoint inside the caller's)."""
    wanted = sorted({day for day in days if day is not None})
    changed = 0
    for chunk in _chunks(wanted, days_per_statement):
        params = {"days": chunk, "first": chunk[0], "last": chunk[-1], "now": timezone.now()}
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
            cursor.execute(_REFRESH_SQL, params)
            changed += cursor.fetchone()[0]
            cursor.execute(_MARK_BUILT_SQL, params)
    return changed


def _days_between(first: datetime.date, last: datetime.date) -> list[datetime.date]:
    return [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]


def store_day_volumes_build(*, first: datetime.date, last: datetime.date, only_missing: bool = False) -> int:
    """Recount every day from ``first`` to ``last`` (both included), or with ``only_missing`` the
    days among them never built. Returns the volume rows written or removed."""
    if last < first:
        return 0
    days = _days_between(first, last)
    if only_missing:
        built = set(VolumeDayBuilt.objects.filter(day__range=(first, last)).values_list("day", flat=True))
        days = [day for day in days if day not in built]
    return store_day_volumes_refresh(days=days)


def earliest_volume_day() -> datetime.date | None:
    """The first day with a delivery or a settled repair order (two index look-ups)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT least((SELECT min(delivery_date) FROM {VEHICLE_TABLE}), "
            f"(SELECT min(settle_date) FROM {REPAIR_ORDER_TABLE}))"
        )
        return cursor.fetchone()[0]


def store_day_volumes_nightly(*, today: datetime.date, recent_days: int = RECENT_DAYS) -> int:
    """The nightly run: recount the last ``recent_days`` days through ``today``, then build every
    earlier day not built yet (all of history on the first run, nothing afterwards)."""
    first_recent = today - datetime.timedelta(days=recent_days)
    changed = store_day_volumes_build(first=first_recent, last=today)
    earliest = earliest_volume_day()
    if earliest is not None and earliest < first_recent:
        changed += store_day_volumes_build(
            first=earliest, last=first_recent - datetime.timedelta(days=1), only_missing=True
        )
    return changed


# --- on change -----------------------------------------------------------------------------------


def _days_of_import(*, kind: str, batch_id: int, customer_ids: list[int]) -> list[datetime.date]:
    """The days a committed import may have changed: those of the rows the batch wrote (their
    ``updated_at`` is at or after the batch's start), and for vehicles the day each had before."""
    started_at = ImportBatch.objects.filter(pk=batch_id).values_list("started_at", flat=True).first()
    if started_at is None or not customer_ids:
        return []
    params = {"customers": id_array(customer_ids), "since": started_at}
    # The touched customers joined as a set (hashed when they are many, an index look-up each when
    # they are few): "customer_id = ANY(array)" probed the index once per element of a first
    # import's hundreds of thousands.
    written_vehicles = f"""
        SELECT v.id, v.delivery_date FROM {VEHICLE_TABLE} v
        JOIN unnest(%(customers)s::bigint[]) AS touched (id) ON touched.id = v.customer_id
        WHERE v.updated_at >= %(since)s"""
    if kind == ImportKind.VEHICLES:
        sql = f"""
            WITH written AS MATERIALIZED ({written_vehicles})
            SELECT delivery_date FROM written WHERE delivery_date IS NOT NULL
            UNION
            SELECT before.delivery_date FROM (
                SELECT DISTINCT ON (h.id) h.delivery_date
                FROM {VEHICLE_HISTORY_TABLE} h
                WHERE h.id IN (SELECT id FROM written) AND h.history_date < %(since)s
                ORDER BY h.id, h.history_date DESC, h.history_id DESC
            ) AS before
            WHERE before.delivery_date IS NOT NULL"""
    elif kind == ImportKind.REPAIR_ORDERS:
        # A repair order keeps no history: a settle date changed by the DMS leaves its old day to
        # the nightly recount (RECENT_DAYS) or a rebuild.
        sql = f"""
            SELECT DISTINCT ro.settle_date FROM {REPAIR_ORDER_TABLE} ro
            JOIN {VEHICLE_TABLE} v ON v.id = ro.vehicle_id
            JOIN unnest(%(customers)s::bigint[]) AS touched (id) ON touched.id = v.customer_id
            WHERE ro.updated_at >= %(since)s AND ro.settle_date IS NOT NULL"""
    else:
        return []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def refresh_volumes_after_import(event) -> None:
    """Import listener (``customers.import_listeners``): recount the days a vehicles or repair
    orders import touched, at once (a few statements; missed days are the nightly run's)."""
    if event.kind not in (ImportKind.VEHICLES, ImportKind.REPAIR_ORDERS) or not event.customer_ids:
        return
    # The days the import read with its touched customers, else looked up from the written rows.
    days = event.days
    if days is None:
        days = _days_of_import(kind=event.kind, batch_id=event.batch_id, customer_ids=list(event.customer_ids))
    # All in one statement: the listener's transaction holds the lock for all of them anyway, and a
    # first import's thousands of days are then one pass over the tables instead of an index walk
    # per month over rows spread across the whole table (2,100 days of 542,000 repair orders:
    # 3.0 s in chunks of CHUNK_DAYS, 0.3 s at once).
    store_day_volumes_refresh(days=days, days_per_statement=max(len(days), 1))


def refresh_volumes_on_commit(*, days: Iterable[datetime.date | None]) -> None:
    """Recount ``days`` once the current transaction commits (at once outside one): a service that
    wrote a vehicle or a repair order calls this with the row's day, and its previous day."""
    wanted = {day for day in days if day is not None}
    if wanted:
        transaction.on_commit(lambda: store_day_volumes_refresh(days=wanted))
