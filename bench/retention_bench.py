"""Benchmark of the retention snapshots and "won back by" (issue 13). Run by hand, not in tests.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_retention \
        DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/retention_bench.py --load

--load (re)creates the database, migrates it and fills it with set-based SQL: --customers owners
(1,000,000 by default) in 10 stores, one car each delivered 2019–2026, two repair orders per car
spread over the years (so that owners go dormant, lost and come back), a delivered SMS per owner and
a reached call for every other owner over the last three years. Without --load the data already
there is used (the snapshots are emptied first). It then prints:

- the backfill: 36 months of snapshots, movements and win-backs built from nothing
  (``customer_states_refresh`` as the nightly task runs it on an empty table): time, queries, rows;
- one nightly refresh after it (the current and the previous month);
- peak memory of this process (PostgreSQL's own memory is not in it);
- the retention dashboard for the 10-store group through Django's test client: p50/p95 of --runs
  requests, and of the customers behind the "won back" figure.
"""

import argparse
import datetime
import os
import resource
import statistics
import sys
import time
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_retention")

import django

django.setup()

from benchdb import filler_columns, recreate_database  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

STORES = 10
#: "Today" of the bench: the 36 months built are 2023-12 .. 2026-11.
TODAY = datetime.date(2026, 11, 20)
FIRST_MONTH = datetime.date(2023, 12, 1)


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a console program


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(customers: int) -> None:
    from django.contrib.auth.models import Group

    from crm.models import Store, User
    from followups.models import FollowupRule, FollowupTask
    from followups.services import followup_rules_ensure_defaults

    recreate_database()
    connection.close()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    stores = [Store.objects.create(code=f"R{n:02d}", name=f"基准店{n:02d}") for n in range(STORES)]
    followup_rules_ensure_defaults(stores=stores)
    manager = User.objects.create_user("bench_manager", password="bench-pw-1", sees_all_stores=True)
    manager.groups.add(Group.objects.get(name="manager"))
    agents = [User.objects.create_user(f"bench_agent_{n}", password="bench-pw-1") for n in range(20)]
    first_store = stores[0].pk
    with connection.cursor() as cursor:
        names, values = filler_columns("customers_customer", {
            "customer_no": "'R' || lpad(i::text, 8, '0')", "store_id": f"{first_store} + i % {STORES}",
            "name": "'车主' || i", "gender": "'M'", "mobile": "'139' || lpad(i::text, 8, '0')",
            "confidentiality": "'normal'",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_customer ({names}) SELECT {values} FROM generate_series(1, {customers}) i"
        )
        cursor.execute("SELECT min(id) FROM customers_customer")
        first_customer = cursor.fetchone()[0]
        names, values = filler_columns("customers_vehicle", {
            "vin": "'RV' || lpad(i::text, 15, '0')", "customer_id": f"{first_customer} + i - 1",
            "store_id": f"{first_store} + i % {STORES}", "plate_no": "'苏A' || lpad((i % 100000)::text, 5, '0')",
            "brand": "'东风日产'", "delivery_date": "date '2019-01-01' + (i * 37 % 2740)",
            "status": "CASE WHEN i % 40 = 0 THEN 'transferred' ELSE 'active' END",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_vehicle ({names}) SELECT {values} FROM generate_series(1, {customers}) i"
        )
        # Two repair orders per car: one 30–900 days after delivery, one 200–2000 days after, none
        # after today (those are dropped), so owners drift to dormant and lost and some come back.
        names, values = filler_columns("customers_repairorder", {
            "ro_no": "'RR' || lpad((v.id * 2 + k)::text, 11, '0')", "vehicle_id": "v.id", "store_id": "v.store_id",
            "open_date": "d.day", "settle_date": "d.day", "repair_type": "'maintenance'",
            "total_amount": "300 + (v.id * 7 + k) % 2000",
        })  # fmt: skip
        cursor.execute(
            f"""INSERT INTO customers_repairorder ({names})
            SELECT {values} FROM customers_vehicle v CROSS JOIN generate_series(0, 1) k
            CROSS JOIN LATERAL (SELECT v.delivery_date
                + (CASE WHEN k = 0 THEN 30 + (v.id * 13 % 870) ELSE 200 + (v.id * 31 % 1800) END)::int AS day) d
            WHERE d.day <= date '{TODAY}'"""
        )
        # Contacts: a delivered SMS per owner, a reached call for every other owner, 2023-11 .. today.
        names, values = filler_columns("followups_smsmessage", {
            "idempotency_key": "'bench-' || c.id", "store_id": "c.store_id", "customer_id": "c.id",
            "code": "'maintenance_due'", "mobile": "c.mobile", "body": "'您好'",
            "send_date": "s.at::date", "status": "'sent'", "delivery_status": "'delivered'", "sent_at": "s.at",
            "created_at": "s.at", "send_attempts": "1",
        })  # fmt: skip
        cursor.execute(
            f"""INSERT INTO followups_smsmessage ({names})
            SELECT {values} FROM customers_customer c
            CROSS JOIN LATERAL (
                SELECT timestamptz '2023-11-01 10:00+08' + (c.id * 17 % 1100)::int * interval '1 day' AS at) s"""
        )
        tasks = {}
        for store in stores:
            rule = FollowupRule.objects.get(store=store, code="lost_customer")
            tasks[store.pk] = FollowupTask.objects.create(
                rule=rule, code="lost_customer", store=store, customer_id=first_customer, unit_id=first_customer,
                rule_date=TODAY, queue_date=TODAY, work_date=TODAY, channel="phone",
            ).pk  # fmt: skip
        task_case = " ".join(f"WHEN {store_id} THEN {task_id}" for store_id, task_id in tasks.items())
        agent_ids = "ARRAY[" + ", ".join(str(agent.pk) for agent in agents) + "]"
        names, values = filler_columns("followups_callattempt", {
            "task_id": f"CASE c.store_id {task_case} END", "customer_id": "c.id",
            "agent_id": f"({agent_ids})[1 + c.id % 20]", "call_key": "gen_random_uuid()",
            "at": "timestamptz '2023-11-01 15:00+08' + (c.id * 23 % 1100)::int * interval '1 day'",
            "outcome": "CASE WHEN c.id % 3 = 0 THEN 'no_answer' ELSE 'reached' END",
            "answers": "'{}'::jsonb", "is_dissatisfied": "false", "notes": "''",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO followups_callattempt ({names}) SELECT {values} FROM customers_customer c WHERE c.id % 2 = 0"
        )
        cursor.execute("VACUUM ANALYZE")
    say(f"loaded {customers:,} customers, {customers:,} cars, repair orders, SMS and calls "
        f"in {time.perf_counter() - started:.1f} s")  # fmt: skip


def counts() -> str:
    with connection.cursor() as cursor:
        found = []
        for table in ("customers_customer", "customers_repairorder", "followups_smsmessage", "followups_callattempt"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            found.append(f"{table.split('_', 1)[1]} {cursor.fetchone()[0]:,}")
    return ", ".join(found)


def timed_run(label: str, function) -> None:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        written = function()
        elapsed = time.perf_counter() - started
    say(f"{label}: {elapsed:.1f} s, {len(queries.captured_queries)} queries, {written:,} snapshot rows, "
        f"peak memory of this process {peak_mb():.0f} MB")  # fmt: skip


def build() -> None:
    from customers.models import CustomerMonthState, CustomerStateMovement, CustomerWinBack
    from customers.states import customer_states_refresh

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE customers_customermonthstate, customers_customerstatemovement, "
                       "customers_customerwinback")  # fmt: skip
    # The backfill: every month from the first visit has no snapshot yet. Only the last 36 are
    # asked for: older visits are folded into the first month (customers.states), so the snapshot
    # table starts at FIRST_MONTH, as it would on a database whose DMS history starts there.
    from customers import states

    original = states.first_visit_month
    states.first_visit_month = lambda: FIRST_MONTH
    try:
        timed_run("backfill, 36 months", lambda: customer_states_refresh(today=TODAY))
        timed_run("one nightly refresh", lambda: customer_states_refresh(today=TODAY))
    finally:
        states.first_visit_month = original
    say(f"snapshots {CustomerMonthState.objects.count():,}, movements {CustomerStateMovement.objects.count():,}, "
        f"win-backs {CustomerWinBack.objects.count():,} "
        f"(with a contact {CustomerWinBack.objects.exclude(contact_kind='').count():,})")  # fmt: skip


def timed(function, runs: int) -> tuple[float, float]:
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        response = function()
        durations.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    durations.sort()
    return statistics.median(durations), durations[max(round(0.95 * len(durations)) - 1, 0)]


def dashboard(runs: int) -> None:
    import time_machine
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client's host in
    from django_otp import DEVICE_ID_SESSION_KEY

    from crm.mfa import totp_device_ensure_confirmed
    from crm.models import User

    manager = User.objects.get(username="bench_manager")
    client = Client()
    client.force_login(manager)
    session = client.session  # a manager confirms a log-in with a TOTP code: as if they had
    session[DEVICE_ID_SESSION_KEY] = totp_device_ensure_confirmed(user=manager).persistent_id
    session.save()
    month = "2026-10"
    now = datetime.datetime.combine(TODAY, datetime.time(10), tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    with time_machine.travel(now, tick=True):
        client.get("/customers/retention/")  # warm the connection
        cases = [
            ("dashboard, 10 stores, last whole month", lambda: client.get("/customers/retention/")),
            (
                "customers behind 'won back', 10 stores",
                lambda: client.get(
                    f"/customers/retention/customers/?month={month}&to=active&previous=dormant&previous=lost"
                ),
            ),
            (
                "customers behind 'no contact', 10 stores",
                lambda: client.get(
                    f"/customers/retention/customers/?month={month}&to=active&previous=dormant&previous=lost&by=none"
                ),
            ),
        ]
        for label, function in cases:
            # The pages read from the replica alias when one is configured: count on every connection.
            captures = [CaptureQueriesContext(connections[alias]) for alias in connections]
            for capture in captures:
                capture.__enter__()
            function()
            for capture in captures:
                capture.__exit__(None, None, None)
            query_count = sum(len(capture.captured_queries) for capture in captures)
            p50, p95 = timed(function, runs)
            say(f"{label:<42} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({runs} runs, {query_count} queries)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--load", action="store_true", help="drop and fill the benchmark database")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--skip-build", action="store_true", help="keep the snapshots there are")
    arguments = parser.parse_args()
    if arguments.load:
        load(arguments.customers)
    say(f"data: {counts()}")
    if not arguments.skip_build:
        build()
    dashboard(arguments.runs)


if __name__ == "__main__":
    main()
