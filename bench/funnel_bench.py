"""A bench database for the follow-up reports' funnel shaped as real calls are (issue 16).

    .venv/bin/python bench/funnel_bench.py [--database crm_bench_funnel] [--owners 400000]
    .venv/bin/python bench/funnel_plan.py --database crm_bench_funnel --user bench_manager

The shared bench (``retention_bench.py --load``) hangs its 500,000 calls on one task per store, so a
funnel there reaches no task in a month and never probes a booking or a repair order. This one
(re)creates its own database with set-based SQL: --owners owners in 10 stores, one car each with two
repair orders over the years, and one phone follow-up task per owner, called once (a third not
answered) and a quarter of them again two days later: 500,000 calls over 1,100 days for 400,000
owners, ~13,600 a month as on the shared bench. A quarter of the tasks reached at the first call
booked a visit from the call (half of those kept), a fifth brought the car in 0-9 days after the
call; 20,000 bookings of other sources. Then VACUUM ANALYZE (autovacuum is off on the bench machine).
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

STORES = 10
#: A task's owner number (kept in its detail by the load).
OWNER = "(t.detail->>'i')::int"


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a console program


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="crm_bench_funnel")
    parser.add_argument("--owners", type=int, default=400_000)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
    )
    import django

    django.setup()
    from benchdb import filler_columns, recreate_database
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection

    from crm.models import Store, User
    from followups.models import FollowupRule
    from followups.services import followup_rules_ensure_defaults

    recreate_database()
    connection.close()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    owners = args.owners
    stores = [Store.objects.create(code=f"F{n:02d}", name=f"漏斗店{n:02d}") for n in range(STORES)]
    followup_rules_ensure_defaults(stores=stores)
    manager = User.objects.create_user("bench_manager", password="bench-pw-1", sees_all_stores=True)
    manager.groups.add(Group.objects.get(name="manager"))
    agents = [User.objects.create_user(f"bench_agent_{n}", password="bench-pw-1") for n in range(20)]
    agent_ids = "ARRAY[" + ", ".join(str(agent.pk) for agent in agents) + "]"
    rules = dict(FollowupRule.objects.filter(code="maintenance_due").values_list("store_id", "pk"))
    rule_case = " ".join(f"WHEN {store_id} THEN {rule_id}" for store_id, rule_id in rules.items())
    first_store = stores[0].pk

    def first_call(i: str) -> str:
        """The first call of owner ``i``'s task: one of 1,100 days from 2023-11-01, in working hours."""
        return (f"timestamptz '2023-11-01 09:00+08' + (({i}) * 23 % 1100) * interval '1 day'"
                f" + (({i}) % 540) * interval '1 minute'")  # fmt: skip

    with connection.cursor() as cursor:
        names, values = filler_columns("customers_customer", {
            "customer_no": "'F' || lpad(i::text, 8, '0')", "store_id": f"{first_store} + i % {STORES}",
            "name": "'车主' || i", "gender": "'M'", "mobile": "'139' || lpad(i::text, 8, '0')",
            "confidentiality": "CASE WHEN i % 5000 = 0 THEN 'top_secret' ELSE 'normal' END",
        })  # fmt: skip
        cursor.execute(f"INSERT INTO customers_customer ({names}) SELECT {values} FROM generate_series(1, {owners}) i")
        cursor.execute("SELECT min(id) FROM customers_customer")
        first = cursor.fetchone()[0]
        names, values = filler_columns("customers_vehicle", {
            "vin": "'FV' || lpad(i::text, 15, '0')", "customer_id": f"{first} + i - 1",
            "store_id": f"{first_store} + i % {STORES}", "plate_no": "'苏F' || lpad((i % 100000)::text, 5, '0')",
            "brand": "'东风日产'", "delivery_date": "date '2019-01-01' + (i * 37 % 1700)", "status": "'active'",
        })  # fmt: skip
        cursor.execute(f"INSERT INTO customers_vehicle ({names}) SELECT {values} FROM generate_series(1, {owners}) i")
        cursor.execute("SELECT min(id) FROM customers_vehicle")
        first_vehicle = cursor.fetchone()[0]
        names, values = filler_columns("customers_repairorder", {
            "ro_no": "'FR' || lpad((v.id * 2 + k)::text, 11, '0')", "vehicle_id": "v.id", "store_id": "v.store_id",
            "open_date": "v.delivery_date + ((v.id * 13 + k * 400) % 1200)::int + 30",
            "settle_date": "v.delivery_date + ((v.id * 13 + k * 400) % 1200)::int + 30", "repair_type": "'maintenance'",
            "total_amount": "300 + (v.id * 7 + k) % 2000",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_repairorder ({names}) "
            f"SELECT {values} FROM customers_vehicle v CROSS JOIN generate_series(0, 1) k"
        )
        names, values = filler_columns("followups_followuptask", {
            "code": "'maintenance_due'", "unit_id": f"{first} + i - 1", "customer_id": f"{first} + i - 1",
            "vehicle_id": f"{first_vehicle} + i - 1", "store_id": f"{first_store} + i % {STORES}",
            "rule_id": f"CASE {first_store} + i % {STORES} {rule_case} END",
            "rule_date": f"({first_call('i')})::date", "queue_date": f"({first_call('i')})::date",
            "work_date": f"({first_call('i')})::date", "channel": "'phone'", "status": "'done'", "outcome": "'reached'",
            "detail": "jsonb_build_object('i', i)",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO followups_followuptask ({names}) SELECT {values} FROM generate_series(1, {owners}) i"
        )
        # i: the owner's number again, from the task's detail.
        names, values = filler_columns("followups_callattempt", {
            "task_id": "t.id", "customer_id": "t.customer_id", "agent_id": f"({agent_ids})[1 + {OWNER} % 20]",
            "call_key": "gen_random_uuid()", "answers": "'{}'::jsonb", "is_dissatisfied": "false", "notes": "''",
            "at": f"{first_call(OWNER)} + k * interval '2 days'",
            "outcome": f"CASE WHEN k = 1 THEN 'reached' WHEN {OWNER} % 3 = 0 THEN 'no_answer' "
                       f"WHEN {OWNER} % 10 = 1 THEN 'booked' ELSE 'reached' END",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO followups_callattempt ({names}) SELECT {values} FROM followups_followuptask t "
            f"CROSS JOIN generate_series(0, 1) k WHERE k = 0 OR {OWNER} % 4 = 0"
        )
        # Each task's first call day, kept in the task's own row (rule_date: the load set it so).
        call_day = "t.rule_date"
        names, values = filler_columns("customers_appointment", {
            "store_id": "t.store_id", "customer_id": "t.customer_id", "vehicle_id": "t.vehicle_id",
            "date": f"{call_day} + 3", "slot": "time '09:00'", "purpose": "'maintenance'", "source": "'call'",
            "source_reference": "'followuptask:' || t.id",
            "status": f"CASE WHEN {OWNER} % 8 = 1 THEN 'arrived' ELSE 'no_show' END",
            "kept_at": f"CASE WHEN {OWNER} % 8 = 1 THEN ({call_day} + 3)::timestamptz END",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_appointment ({names}) SELECT {values} FROM followups_followuptask t "
            f"WHERE {OWNER} % 4 = 1 AND {OWNER} % 3 <> 0"
        )
        names, values = filler_columns("customers_appointment", {
            "store_id": "c.store_id", "customer_id": "c.id", "vehicle_id": f"{first_vehicle} + c.id - {first}",
            "date": "date '2024-01-01' + (c.id % 1000)::int", "slot": "time '10:00'", "purpose": "'maintenance'",
            "source": "'desk'", "status": "'arrived'",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_appointment ({names}) SELECT {values} FROM customers_customer c WHERE c.id % 20 = 0"
        )
        names, values = filler_columns("customers_repairorder", {
            "ro_no": "'FC' || lpad(t.id::text, 11, '0')", "vehicle_id": "t.vehicle_id", "store_id": "t.store_id",
            "open_date": f"{call_day} + {OWNER} % 10",
            "settle_date": f"{call_day} + {OWNER} % 10", "repair_type": "'maintenance'",
            "total_amount": f"500 + {OWNER} % 1500",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_repairorder ({names}) SELECT {values} FROM followups_followuptask t "
            f"WHERE {OWNER} % 5 = 0"
        )
        cursor.execute("VACUUM ANALYZE")
        found = []
        for table in ("customers_customer", "followups_followuptask", "followups_callattempt",
                      "customers_appointment", "customers_repairorder"):  # fmt: skip
            cursor.execute(f"SELECT count(*) FROM {table}")
            found.append(f"{table.split('_', 1)[1]} {cursor.fetchone()[0]:,}")
    say(f"loaded in {time.perf_counter() - started:.1f} s: {', '.join(found)}")


if __name__ == "__main__":
    main()
