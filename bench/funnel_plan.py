"""The follow-up reports' funnel statement on a bench database: its time and its plan (issue 16).

    .venv/bin/python bench/funnel_plan.py [--database crm_bench_retention] [--start 2026-10-01 --end 2026-10-31]

Runs ``followups.selectors.call_funnel_report`` --runs times as the bench manager (``load_manager_0``,
every store; ``--user`` for another) and prints the statement's SQL time of each run (p50, min,
max), then its plan with ``EXPLAIN (ANALYZE, BUFFERS)``. Read only: it writes nothing.
"""

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="crm_bench_retention")
    parser.add_argument("--user", default="load_manager_0")
    parser.add_argument("--start", default="2026-10-01")
    parser.add_argument("--end", default="2026-10-31")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-plan", action="store_true", help="only the times")
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.db import connection

    from crm.models import User
    from followups.selectors import call_funnel_report

    user = User.objects.get(username=args.user)
    period = {"start": datetime.date.fromisoformat(args.start), "end": datetime.date.fromisoformat(args.end)}
    captured: list = []
    times: list[float] = []

    def timed(execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            if "first_reach" in sql:
                times.append((time.perf_counter() - started) * 1000)
                captured[:] = [sql, params]

    with connection.execute_wrapper(timed):
        for _run in range(args.runs):
            report = call_funnel_report(user=user, **period)
    reached = sum(row["reached"] for row in report["by_rule"])
    say = print
    say(f"funnel of {args.start}..{args.end} as {args.user}: {reached} tasks reached, {args.runs} runs")
    say(f"statement ms: p50 {statistics.median(times):.1f}, min {min(times):.1f}, max {max(times):.1f}")
    if args.no_plan:
        return
    sql, params = captured
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        for (line,) in cursor.fetchall():
            say(line)


if __name__ == "__main__":
    main()
