"""Tomorrow's queue preview of a group manager, rule by rule (issue 16). Run by hand, not in tests;
it only reads the database.

    .venv/bin/python bench/preview_bench.py [--database crm_bench_retention] [--day 2026-12-04,2027-09-25]
        [--user load_manager_0] [--counts-out counts.json | --counts-in counts.json] [--plans]

For every enabled rule of the user's stores it runs each store's own count, one statement per store
and rule as the preview did before (``preview_statement(rule)`` where the code still has it, else
``preview_statements([rule])``), and, where the code has ``preview_statements``, the statement per
code, channel and parameters over all the stores at once, grouped by store. It prints a table per
rule code (statements and milliseconds each way) and checks that both give the same number for
every store and rule: the first day rule by rule, then a line per day. ``--counts-out`` writes the
per-store numbers (run it with the code before the change), ``--counts-in`` compares with such a
file (run with the code after it).

``--plans`` prints, for the first store, whether generation's SELECT of each rule (one store) has the
same plan with ``store_id = ANY(ARRAY[id])`` as with ``store_id = id`` (``EXPLAIN``, costs off).
"""

import argparse
import datetime
import json
import os
import re
import sys
import time
import zoneinfo
from collections import defaultdict
from pathlib import Path


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a console program


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="crm_bench_retention")
    parser.add_argument("--day", default="", help="the queue's day (default: tomorrow in Shanghai)")
    parser.add_argument("--user", default="load_manager_0")
    parser.add_argument("--counts-out", default="")
    parser.add_argument("--counts-in", default="")
    parser.add_argument("--plans", action="store_true")
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    from django.db import connection

    from crm.models import User
    from crm.selectors import working_calendar
    from followups import generation
    from followups.selectors import rules_for_user

    today = datetime.datetime.now(tz=zoneinfo.ZoneInfo("Asia/Shanghai")).date()
    days = [datetime.date.fromisoformat(day) for day in args.day.split(",") if day] or [
        today + datetime.timedelta(days=1)
    ]
    user = User.objects.get(username=args.user)
    rules = [rule for rule in rules_for_user(user=user) if rule.is_enabled]
    calendar = working_calendar()
    across_stores = hasattr(generation, "preview_statements")
    stores = sorted({rule.store_id for rule in rules})
    say(f"{args.user}: {len(stores)} stores, {len(rules)} enabled rules")

    def timed(cursor, sql, params) -> tuple[list, float]:
        started = time.perf_counter()
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        return rows, (time.perf_counter() - started) * 1000

    every_alone: dict[str, int] = {}
    every_across: dict[str, int] = {}
    totals = []
    for day in days:
        alone: dict[tuple[int, str], int] = {}
        across: dict[tuple[int, str], int] = {}
        cost = defaultdict(lambda: [0, 0.0, 0, 0.0])  # code: per-store statements, ms; across statements, ms
        with connection.cursor() as cursor:
            cursor.execute("SET jit = off")  # as generation and the page run them
            for rule in rules:
                if across_stores:
                    statements = [
                        (sql, params)
                        for _code, sql, params in generation.preview_statements([rule], day=day, calendar=calendar)
                    ]
                else:
                    statement = generation.preview_statement(rule, day=day, calendar=calendar)
                    statements = [statement] if statement else []
                for sql, params in statements:
                    rows, ms = timed(cursor, sql, params)
                    count = rows[0][-1] if rows else 0
                    if count:
                        alone[(rule.store_id, rule.code)] = count
                    cost[rule.code][0] += 1
                    cost[rule.code][1] += ms
            if across_stores:
                for code, sql, params in generation.preview_statements(rules, day=day, calendar=calendar):
                    rows, ms = timed(cursor, sql, params)
                    across.update(((store_id, code), count) for store_id, count in rows if count)
                    cost[code][2] += 1
                    cost[code][3] += ms
        if day == days[0]:
            say(f"queue of {day}, rule by rule:")
            say("| rule | tasks (all stores) | per store: statements, ms | across stores: statements, ms |")
            say("|---|---|---|---|")
            for code in sorted(cost):
                each, each_ms, once, once_ms = cost[code]
                total = sum(count for (_store, rule_code), count in alone.items() if rule_code == code)
                say(f"| {code} | {total:,} | {each}, {each_ms:,.0f} | {once}, {once_ms:,.0f} |")
        sums = [sum(values[index] for values in cost.values()) for index in range(4)]
        same = "yes" if across == alone else "NO" if across_stores else ""
        totals.append(
            f"| {day} | {len(alone)} | {sum(alone.values()):,} | {sums[0]}, {sums[1]:,.0f} | "
            f"{sums[2]}, {sums[3]:,.0f} | {same} |"
        )
        every_alone.update({f"{day}:{store}:{code}": count for (store, code), count in alone.items()})
        every_across.update({f"{day}:{store}:{code}": count for (store, code), count in across.items()})
    say("| queue of | store rules with tasks | tasks | per store: statements, ms | across stores: statements, ms "
        "| across = each store's own |")  # fmt: skip
    say("|---|---|---|---|---|---|")
    for line in totals:
        say(line)
    if args.counts_out:
        Path(args.counts_out).write_text(json.dumps(every_alone, indent=1, sort_keys=True))
    if args.counts_in:
        before = json.loads(Path(args.counts_in).read_text())
        after = every_across if across_stores else every_alone
        say(f"same numbers as {args.counts_in}, every day, store and rule: {before == after} ({len(after)} numbers)")
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                say(f"    {key}: {before.get(key)} → {after.get(key)}")
    if args.plans and across_stores:
        _plans(connection, generation, [rule for rule in rules if rule.store_id == stores[0]], days[0], calendar)


def _plans(connection, generation, rules, day, calendar) -> None:
    """Generation's SELECT of each rule of one store, with ANY(ARRAY[id]) and with = id."""
    from customers.rule_builders import RuleSettings

    for rule in rules:
        (settings,) = RuleSettings.group([rule])
        dates = generation.rule_dates_for(channel=rule.channel, day=day, calendar=calendar)
        candidates = generation.candidates_for(settings, dates)
        if candidates is None:
            continue
        select, params = generation.eligible_sql(settings, candidates)
        params["store_id"] = rule.store_id
        plans = []
        for text in (select, re.sub(r"= ANY\(%\(store_ids\)s\)", "= %(store_id)s", select)):
            with connection.cursor() as cursor:
                cursor.execute(f"EXPLAIN (COSTS OFF) {text}", params)
                plans.append([row[0] for row in cursor.fetchall()])
        # The plan's nodes, their tables and indexes (not their conditions, sort and group keys).
        shapes = [[line for line in plan if not _DETAIL.match(line)] for plan in plans]
        say(f"{rule.code}: same plan nodes with ANY(ARRAY[id]) as with = id: {shapes[0] == shapes[1]}")
        if shapes[0] != shapes[1]:
            say("--- ANY\n" + "\n".join(plans[0]) + "\n--- =\n" + "\n".join(plans[1]))


_DETAIL = re.compile(
    r"\s*(Filter|Index Cond|Recheck Cond|Sort Key|Join Filter|Hash Cond|Merge Cond|Group Key|"
    r"Presorted Key|Output|One-Time Filter|Cache Key|Cache Mode|Rows Removed)"
)


if __name__ == "__main__":
    main()
