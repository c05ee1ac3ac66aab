"""Benchmark of the follow-up engine on about 1,000,000 vehicles (issue 4). Run by hand, not in tests.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_followups \
        DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/followups_bench.py --load

--load (re)creates the database, migrates it and fills it with set-based SQL (generate_series is the
fastest way here: no files): 830,000 customers in 10 stores, 1,000,000 vehicles, 2,000,000 repair
orders. Without --load the data already there is used. It then prints:

- an ordinary day of all rules, generated from scratch, and generated again;
- a holiday-greeting day (one SMS per owner);
- the number of queries of a generation (the same as on a tiny database: see the tests);
- claim-next latency with 100,000 open tasks and 20 concurrent agents (p50/p95/max), and the
  "save and next call" cycle (the outcome recorded, then the next claim) of those agents.
"""

import argparse
import datetime
import json
import multiprocessing
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_followups")

import django

django.setup()

from benchdb import filler_columns, recreate_database  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

STORES = 10
ORDINARY_DAY = datetime.date(2026, 11, 24)  # a Tuesday
GREETING_DAY = datetime.date(2026, 2, 11)  # 春节 2026 (17 Feb) − 6 days, a Wednesday


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a console program


def load(customers: int) -> None:
    recreate_database()
    connection.close()
    call_command("migrate", verbosity=0)
    vehicles = int(customers * 1.2048)
    orders = vehicles * 2
    started = time.perf_counter()
    with connection.cursor() as cursor:
        names, values = filler_columns("crm_store", {
            "code": "'B' || lpad(i::text, 2, '0')", "name": "'门店' || i",
            "phone": "'025-5210' || lpad(i::text, 4, '0')",
            "sms_signature": "'日产' || i", "is_active": "true", "morning_call_start": "'00:00'",
            "morning_call_end": "'12:00'", "afternoon_call_start": "'12:00'", "afternoon_call_end": "'23:59:59'",
        })  # fmt: skip
        cursor.execute(f"INSERT INTO crm_store ({names}) SELECT {values} FROM generate_series(1, {STORES}) i")
        cursor.execute("SELECT min(id) FROM crm_store")
        first_store = cursor.fetchone()[0]
        names, values = filler_columns("customers_customer", {
            "customer_no": "'B' || lpad(i::text, 8, '0')", "store_id": f"{first_store} + i % {STORES}",
            "name": "'客户' || i", "gender": "'M'",
            "birthday": "CASE WHEN i % 7 <> 0 THEN date '1960-01-01' + (i * 37 % 15000) END",
            "mobile": "'139' || lpad(i::text, 8, '0')", "confidentiality": "'normal'",
            "member_card_no": "CASE WHEN i % 10 < 6 THEN 'M' || i ELSE '' END",
            "points_balance": "CASE WHEN i % 10 < 6 THEN (i % 5) * 100 END",
            "sms_opt_out": "i % 50 = 0", "do_not_call": "i % 70 = 0",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_customer ({names}) SELECT {values} FROM generate_series(1, {customers}) i"
        )
        cursor.execute("SELECT min(id) FROM customers_customer")
        first_customer = cursor.fetchone()[0]
        names, values = filler_columns("customers_vehicle", {
            "vin": "'BV' || lpad(j::text, 15, '0')", "customer_id": f"{first_customer} + (j - 1) % {customers}",
            "store_id": f"{first_store} + ((j - 1) % {customers} + 1) % {STORES}",
            "plate_no": "'苏A' || lpad((j % 100000)::text, 5, '0')", "brand": "'东风日产'", "series": "'轩逸'",
            "delivery_date": "date '2020-11-20' + (j * 13 % 2190)",
            "insurance_expiry": "date '2026-11-20' + (j * 13 % 365)",
            "status": "CASE WHEN j % 40 = 0 THEN 'transferred' ELSE 'active' END",
        })  # fmt: skip
        cursor.execute(f"INSERT INTO customers_vehicle ({names}) SELECT {values} FROM generate_series(1, {vehicles}) j")
        cursor.execute("SELECT min(id) FROM customers_vehicle")
        first_vehicle = cursor.fetchone()[0]
        names, values = filler_columns("customers_repairorder", {
            "ro_no": "'BR' || lpad(k::text, 10, '0')", "vehicle_id": "v.id", "store_id": "v.store_id",
            "open_date": "s.day", "settle_date": "s.day",
            "repair_type": "CASE WHEN k % 3 = 0 THEN 'general_repair' ELSE 'maintenance' END",
            "mileage": "GREATEST(1, (s.day - v.delivery_date) * 40)", "total_amount": "500",
        })  # fmt: skip
        cursor.execute(
            f"""
            INSERT INTO customers_repairorder ({names})
            SELECT {values}
            FROM generate_series(1, {orders}) k
            JOIN customers_vehicle v ON v.id = {first_vehicle} + (k - 1) % {vehicles}
            CROSS JOIN LATERAL (SELECT v.delivery_date + 60 + ((k - 1) / {vehicles}) * 200 + (k % 90) AS raw) r
            CROSS JOIN LATERAL (SELECT CASE WHEN r.raw > date '2026-11-21' THEN r.raw - 800 ELSE r.raw END AS day) s
            """
        )
        cursor.execute("ANALYZE")
    say(f"loaded {customers:,} customers, {vehicles:,} vehicles, {orders:,} repair orders "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip


def timed_generation(day: datetime.date, label: str) -> None:
    from followups.services import followups_generate_day

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        made = followups_generate_day(day=day)
        elapsed = time.perf_counter() - started
    made_text = " ".join(f"{code}={count}" for code, count in sorted(made.items()) if count)
    say(f"{label} {day}: {elapsed:.2f} s, {len(queries.captured_queries)} queries, {sum(made.values()):,} tasks "
          f"({made_text})")  # fmt: skip


def _generate_store(arguments) -> int:
    store_id, day = arguments
    from followups.services import followups_generate_day

    connection.close()
    made = followups_generate_day(day=day, store_ids=[store_id])
    connection.close()
    return sum(made.values())


def timed_fan_out(day: datetime.date, label: str, processes: int) -> None:
    """As the nightly job runs it: one job per store, on a pool of ``processes`` workers."""
    from crm.models import Store

    store_ids = list(Store.objects.values_list("pk", flat=True))
    connection.close()
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        made = sum(pool.map(_generate_store, [(store_id, day) for store_id in store_ids]))
    say(f"{label} {day}: {time.perf_counter() - started:.2f} s on {processes} worker processes, {made:,} tasks")


def truncate_tasks() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE followups_smsmessage, followups_callattempt, followups_followuptask, "
            "followups_generationrun CASCADE"
        )


def bench_generation(*, fan_out: bool = True) -> None:
    from followups.models import FollowupTask

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE followups_smsmessage, followups_callattempt, followups_followuptask, "
                       "followups_generationrun CASCADE")  # fmt: skip
    FollowupTask.objects.exists()
    timed_generation(ORDINARY_DAY, "ordinary day, first run    ")
    timed_generation(ORDINARY_DAY, "ordinary day, generated again")
    timed_generation(GREETING_DAY, "holiday-greeting day        ")
    timed_generation(GREETING_DAY, "holiday-greeting day, again ")
    if not fan_out:
        return
    truncate_tasks()
    timed_fan_out(ORDINARY_DAY, "ordinary day, fanned out per store ", 2)
    timed_fan_out(GREETING_DAY, "holiday-greeting day, fanned out   ", 2)
    timed_fan_out(GREETING_DAY, "holiday-greeting day, fanned out again", 2)


def bench_claims(open_tasks: int, agents: int, claims_each: int, think: float) -> None:
    from django.contrib.auth.models import Group

    from crm.models import Store, User
    from followups.models import FollowupRule
    from followups.services import followup_rules_ensure_defaults

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE followups_callattempt, followups_followuptask CASCADE")
    stores = list(Store.objects.all())
    # The stores are loaded by SQL, and only a generation gives them their rules: after --load
    # --skip-generation there were none, and the open tasks below (rule_id NOT NULL) could not be made.
    followup_rules_ensure_defaults(stores=stores)
    group = Group.objects.get(name="call_agent")
    users = []
    for index in range(agents):
        user, _created = User.objects.get_or_create(username=f"bench_agent_{index}")
        user.groups.set([group])
        user.stores.set(stores)
        users.append(user)
    today = timezone.localdate()
    rule_ids = {rule.store_id: rule.pk for rule in FollowupRule.objects.filter(code="delivery_thanks")}
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO followups_followuptask (rule_id, code, store_id, customer_id, vehicle_id, unit_id, rule_date,
                queue_date, work_date, channel, priority, status, attempts, outcome, detail, created_at)
            SELECT (%(rules)s::jsonb ->> cu.store_id::text)::bigint, 'delivery_thanks', cu.store_id, cu.id, NULL,
                   cu.id, %(today)s, %(today)s, %(today)s, 'phone', 1 + cu.id %% 9, 'open', 0, '', '{}', now()
            FROM customers_customer cu WHERE cu.do_not_call = false ORDER BY cu.id LIMIT %(count)s
            """,
            {"rules": json.dumps({str(k): v for k, v in rule_ids.items()}), "today": today,
             "count": open_tasks},
        )  # fmt: skip
        cursor.execute("ANALYZE followups_followuptask")
    connection.close()
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    barrier = context.Barrier(agents)
    processes = [context.Process(target=_agent, args=(user.pk, claims_each, think, barrier, results)) for user in users]
    for process in processes:
        process.start()
    latencies, cycles, claimed_ids = [], [], []
    for _process in processes:
        agent_latencies, agent_cycles, agent_ids = results.get()
        latencies.extend(agent_latencies)
        cycles.extend(agent_cycles)
        claimed_ids.extend(agent_ids)
    for process in processes:
        process.join()

    def figures(values: list[float]) -> str:
        values = sorted(values)
        p95 = values[max(int(len(values) * 0.95) - 1, 0)]
        return f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {values[-1] * 1000:.1f} ms"

    say(
        f"claim next with {open_tasks:,} open tasks, {agents} agent processes, think time {think} s, "
        f"{len(latencies):,} claims: {figures(latencies)}; tasks claimed twice: "
        f"{len(claimed_ids) - len(set(claimed_ids))}"
    )
    if cycles:
        say(f"save and next call (record the outcome, claim the next), {len(cycles):,} cycles: {figures(cycles)}")


def _agent(user_id, claims_each, think, barrier, results):
    """One agent in its own process (as behind gunicorn): claim, talk, record, repeat."""
    from crm.models import User
    from followups.services import call_record_outcome, task_claim_next

    connection.close()  # never share the parent's connection
    user = User.objects.get(pk=user_id)
    latencies, cycles, ids = [], [], []
    barrier.wait()
    recorded = 0.0  # the outcome just recorded: with the claim after it, one "save and next call"
    for _index in range(claims_each):
        started = time.perf_counter()
        call = task_claim_next(user=user)
        elapsed = time.perf_counter() - started
        if not call:
            break
        latencies.append(elapsed)
        if _index:
            cycles.append(recorded + elapsed)
        ids.extend(task.pk for task in call)
        if think:
            time.sleep(random.uniform(0, 2 * think))  # calls differ in length: agents are not in lockstep
        started = time.perf_counter()
        call_record_outcome(user=user, customer_id=call[0].customer_id, outcome="reached")
        recorded = time.perf_counter() - started
    connection.close()
    results.put((latencies, cycles, ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load", action="store_true", help="recreate and fill the benchmark database first")
    parser.add_argument("--customers", type=int, default=830_000)
    parser.add_argument("--open-tasks", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--claims-each", type=int, default=50)
    parser.add_argument("--think", type=float, default=0.0, help="mean seconds an agent talks between claims")
    parser.add_argument("--skip-generation", action="store_true")
    parser.add_argument("--skip-fan-out", action="store_true", help="generation in one process only")
    parser.add_argument("--skip-claims", action="store_true")
    args = parser.parse_args()
    if "bench" not in connection.settings_dict["NAME"]:
        sys.exit("Refusing to run: DATABASE_URL must name a benchmark database (…bench…).")
    if args.load:
        load(args.customers)
    if not args.skip_generation:
        bench_generation(fan_out=not args.skip_fan_out)
    if not args.skip_claims:
        bench_claims(args.open_tasks, args.agents, args.claims_each, args.think)


if __name__ == "__main__":
    main()
