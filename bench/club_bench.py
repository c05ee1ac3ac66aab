"""Benchmark of the owners' club on 1,000,000 members (issue 10). Run by hand, not in tests.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_club \
        DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/club_bench.py --load

--load (re)creates the database, migrates it and fills it with set-based SQL: 10 stores, 1,000,000
customers each with a car delivered between 2019 and 2024 (60 % with a DMS card, tiers and points
balances as a DMS would have them), and 2,000,000 settled repair orders over 2023–2025 (1 in 20 a
warranty claim). Without --load the data already there is used, and the club tables are emptied.

It then prints time, query count and the process's peak memory of:
- club_start of the ten stores on 2025-01-01 (1,000,000 members join, opening lots);
- the catch-up run from S to 2025-12-30 (a year of orders, about 670,000, earned at once);
- one nightly run: the orders of 2025-12-31 (2,000 new ones) imported, then club_run through that day;
- the same night run again (nothing to do);
- export_points for 2025-12-31 (1,000,000 lines).
"""

import argparse
import datetime
import io
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_club")

import django

django.setup()

from benchdb import filler_columns, recreate_database  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

STORES = 10
START = datetime.date(2025, 1, 1)
NIGHT = datetime.date(2025, 12, 31)
# The data was imported before the benchmark's night (a run looks again at rows changed since just
# before its last start; rows written by the load a minute ago would all look new).
IMPORTED = {"created_at": "timestamptz '2025-12-01 20:00+08'", "updated_at": "timestamptz '2025-12-01 20:00+08'"}


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a console program


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(customers: int) -> None:
    recreate_database()
    connection.close()
    call_command("migrate", verbosity=0)
    orders = customers * 2
    started = time.perf_counter()
    with connection.cursor() as cursor:
        names, values = filler_columns("crm_store", {
            "code": "'K' || lpad(i::text, 2, '0')", "name": "'门店' || i", "is_active": "true",
            "morning_call_start": "'08:30'", "morning_call_end": "'12:00'", "afternoon_call_start": "'13:00'",
            "afternoon_call_end": "'19:00'",
        })  # fmt: skip
        cursor.execute(f"INSERT INTO crm_store ({names}) SELECT {values} FROM generate_series(1, {STORES}) i")
        cursor.execute("SELECT min(id) FROM crm_store")
        first_store = cursor.fetchone()[0]
        names, values = filler_columns("customers_customer", {
            "customer_no": "'K' || lpad(i::text, 8, '0')", "store_id": f"{first_store} + i % {STORES}",
            "name": "'客户' || i", "mobile": "'139' || lpad(i::text, 8, '0')", "confidentiality": "'normal'",
            "member_card_no": "CASE WHEN i % 10 < 6 THEN 'VIP' || i ELSE '' END",
            "member_tier": "CASE WHEN i % 10 >= 6 THEN '' WHEN i % 50 = 0 THEN '钻石' WHEN i % 20 = 0 THEN '金卡'"
                           " WHEN i % 7 = 0 THEN '银卡' ELSE '普通' END",
            "points_balance": "CASE WHEN i % 10 < 6 THEN (i % 13) * 150 END", **IMPORTED,
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_customer ({names}) SELECT {values} FROM generate_series(1, {customers}) i"
        )
        cursor.execute("SELECT min(id) FROM customers_customer")
        first_customer = cursor.fetchone()[0]
        names, values = filler_columns("customers_vehicle", {
            "vin": "'KV' || lpad(j::text, 15, '0')", "customer_id": f"{first_customer} + j - 1",
            "store_id": f"{first_store} + j % {STORES}", "plate_no": "'苏A' || lpad((j % 100000)::text, 5, '0')",
            "delivery_date": "date '2019-01-01' + (j * 13 % 2190)", "status": "'active'", **IMPORTED,
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_vehicle ({names}) SELECT {values} FROM generate_series(1, {customers}) j"
        )
        cursor.execute("SELECT min(id) FROM customers_vehicle")
        first_vehicle = cursor.fetchone()[0]
        # Two orders per car, spread over 2023-01-01 … 2025-12-30 (the 31st is the benchmark's night).
        names, values = filler_columns("customers_repairorder", {
            "ro_no": "'KR' || lpad(k::text, 10, '0')", "vehicle_id": f"{first_vehicle} + (k - 1) % {customers}",
            "store_id": f"{first_store} + ((k - 1) % {customers} + 1) % {STORES}",
            "open_date": "date '2023-01-01' + (k * 7 % 1094)", "settle_date": "date '2023-01-01' + (k * 7 % 1094)",
            "repair_type": "CASE WHEN k % 20 = 0 THEN 'warranty_claim' WHEN k % 3 = 0 THEN 'general_repair'"
                           " ELSE 'maintenance' END",
            "total_amount": "200 + (k * 37 % 6000)", **IMPORTED,
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_repairorder ({names}) SELECT {values} FROM generate_series(1, {orders}) k"
        )
        cursor.execute("ANALYZE")
    say(f"loaded {customers:,} customers and cars, {orders:,} repair orders in {time.perf_counter() - started:.1f} s")


def empty_club() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE clubs_pointsallocation, clubs_pointsentry, clubs_tierchange, clubs_walletentry, "
            "clubs_referral, clubs_historicalreferral, clubs_membership, clubs_tierrule, clubs_historicaltierrule, "
            "clubs_storeclub, clubs_historicalstoreclub CASCADE"
        )
        cursor.execute("DELETE FROM customers_repairorder WHERE settle_date = %s", [NIGHT])
        cursor.execute("VACUUM ANALYZE")


def timed(label: str, work) -> object:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = work()
        elapsed = time.perf_counter() - started
    say(f"{label}: {elapsed:.2f} s, {len(queries.captured_queries)} queries, peak memory {peak_mb():.0f} MB")
    return result


def night_orders(count: int) -> None:
    """The repair orders a night's import brings: ``count`` orders settled on NIGHT."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(id), max(id) FROM customers_vehicle")
        first, last = cursor.fetchone()
        names, values = filler_columns("customers_repairorder", {
            "ro_no": "'KN' || lpad(k::text, 10, '0')", "vehicle_id": f"{first} + (k * 487) % ({last} - {first} + 1)",
            "store_id": "(SELECT store_id FROM customers_vehicle WHERE id = "
                        f"{first} + (k * 487) % ({last} - {first} + 1))",
            "open_date": f"date '{NIGHT}'", "settle_date": f"date '{NIGHT}'", "repair_type": "'maintenance'",
            "total_amount": "300 + k % 2000",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_repairorder ({names}) SELECT {values} FROM generate_series(1, {count}) k"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load", action="store_true", help="(re)create and fill the database first")
    parser.add_argument("--customers", type=int, default=1_000_000)
    options = parser.parse_args()
    if options.load:
        load(options.customers)
    else:
        empty_club()
    from clubs.run import club_run, club_start
    from crm.models import Store

    stores = list(Store.objects.order_by("code"))

    def start_all():
        return sum(club_start(store=store, started_on=START).members for store in stores)

    members = timed("club_start of 10 stores on 2025-01-01", start_all)
    say(f"  {members:,} members")
    result = timed("catch-up club_run 2025-01-01 … 2025-12-30", lambda: club_run(through=NIGHT - datetime.timedelta(1)))
    say(f"  {result.orders_earned:,} orders earned, {result.points_earned:,} points, {result.tier_rises:,} rises, "
        f"{result.lots_expired:,} lots expired")  # fmt: skip
    night_orders(2000)
    result = timed("one night: club_run 2025-12-31 after 2,000 new orders", lambda: club_run(through=NIGHT))
    say(f"  {result.orders_earned:,} orders earned, {result.lots_expired:,} lots expired, "
        f"{result.members_updated:,} members updated")  # fmt: skip
    timed("the same night again", lambda: club_run(through=NIGHT))
    timed("export_points 2025-12-31", lambda: call_command("export_points", "--date", str(NIGHT), stdout=io.StringIO(),
                                                            stderr=io.StringIO()))  # fmt: skip


if __name__ == "__main__":
    main()
