"""Tomorrow's queue preview with its counts kept in the cache, against counting in the request
(issue 16). Run by hand, not in tests; it only reads the database (and writes the preview's keys in
the bench's Redis, ``REDIS_URL``, default db 12).

    .venv/bin/python bench/preview_page_bench.py [--database crm_bench_retention] [--user load_manager_0]
        [--day 2026-12-04,2027-09-25] [--pairs 3]

For each day, ``--pairs`` times in turn: the preview counted in the request as the page did before
(``selectors.queue_preview``: the rules, every count, the tasks rolled over) and then rendered, and
the page's work now with the counts kept (``queue_preview.queue_preview_show``: the rules, the
calendar, the cache, the tasks rolled over) rendered the same way. Then once: the worker's count
(``queue_preview_count``, what ``followups.tasks.count_queue_preview`` does), the page's work when no
counts are kept (it queues the count: Celery not eager here, the message is removed again) and a
poll while counting. It prints the load average and a calibration (``sum(range(10**8))``) first,
and checks that the numbers shown are the same both ways.
"""

import argparse
import datetime
import os
import sys
import time
import zoneinfo
from pathlib import Path


def say(message: str) -> None:
    print(message, flush=True)  # noqa: T201 - a console program


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="crm_bench_retention")
    parser.add_argument("--user", default="load_manager_0")
    parser.add_argument("--day", default="", help="the queue's days, comma-separated (default: tomorrow)")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import django

    django.setup()
    import redis
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.template.loader import render_to_string
    from django.test.utils import CaptureQueriesContext

    from config.celery import app
    from crm.models import User
    from crm.selectors import working_calendar
    from followups import queue_preview
    from followups.selectors import queue_preview as counted_in_the_request
    from followups.selectors import rules_for_user

    started = time.perf_counter()
    sum(range(10**8))
    say(f"load average {os.getloadavg()[0]:.2f}, calibration sum(range(10**8)) {time.perf_counter() - started:.2f} s")
    today = datetime.datetime.now(tz=zoneinfo.ZoneInfo("Asia/Shanghai")).date()
    days = [datetime.date.fromisoformat(day) for day in args.day.split(",") if day] or [
        today + datetime.timedelta(days=1)
    ]
    user = User.objects.get(username=args.user)
    app.conf.task_always_eager = False  # as in production: the page queues, a worker counts

    def forget() -> None:
        client = cache._cache.get_client()
        for key in client.scan_iter(match="*followups:preview:*"):
            client.delete(key)

    def timed(work) -> tuple[float, int, object]:
        with CaptureQueriesContext(connection) as queries:
            begun = time.perf_counter()
            result = work()
            return (time.perf_counter() - begun) * 1000, len(queries), result

    def render(rows, day) -> str:
        shown = queue_preview.QueuePreview(state="ready", day=day, rows=rows, counted_at=None)
        return render_to_string("followups/partials/preview_counts.html", {"preview": shown, "day": day})

    say("| day | pair | counted in the request: ms, queries | counts kept: ms, queries | load |")
    say("|---|---|---|---|---|")
    for day in days:
        forget()
        rules = list(rules_for_user(user=user))
        key = queue_preview.preview_key(rules=rules, day=day, calendar=working_calendar())
        store_ids = sorted({rule.store_id for rule in rules})
        queue_preview.queue_preview_count(store_ids=store_ids, day=day, key=key)  # the counts kept
        for pair in range(1, args.pairs + 1):
            before_ms, before_queries, before_rows = timed(
                lambda day=day: render(counted_in_the_request(user=user, day=day), day)
            )
            kept_ms, kept_queries, shown = timed(
                lambda day=day: render(queue_preview.queue_preview_show(user=user, day=day).rows, day)
            )
            if shown != before_rows:
                import difflib

                say("\n".join(difflib.unified_diff(before_rows.splitlines(), shown.splitlines(), lineterm="")))
                raise SystemExit("the numbers differ")
            say(
                f"| {day} | {pair} | {before_ms:,.0f}, {before_queries} | {kept_ms:,.0f}, {kept_queries} "
                f"| {os.getloadavg()[0]:.1f} |"
            )
        count_ms, count_queries, _key = timed(
            lambda day=day, store_ids=store_ids, key=key: queue_preview.queue_preview_count(
                store_ids=store_ids, day=day, key=key
            )
        )
        forget()
        queue_ms, queue_queries, state = timed(lambda day=day: queue_preview.queue_preview_show(user=user, day=day))
        poll_ms, poll_queries, _state = timed(lambda day=day: queue_preview.queue_preview_show(user=user, day=day))
        say(
            f"{day}: the worker's count {count_ms:,.0f} ms ({count_queries} queries); no counts kept: the page "
            f"queues the count in {queue_ms:,.0f} ms ({queue_queries} queries, {state.state}), a poll "
            f"{poll_ms:,.0f} ms ({poll_queries} queries)"
        )
        broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
        for raw in broker.lrange("celery", 0, -1):
            if b"followups.tasks.count_queue_preview" in raw:
                broker.lrem("celery", 0, raw)
        forget()


if __name__ == "__main__":
    main()
