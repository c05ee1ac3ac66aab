"""The number of SQL queries of each page the load harness asks for, on a bench database (issue 16).

    .venv/bin/python bench/load_bench.py ...                # once: creates the load_<role>_<n> staff
    .venv/bin/python bench/page_queries.py [--database crm_bench_retention]

Each page is requested three times in this process through Django's test client, as a bench
account of the role that works it (``load_<role>_<N>``, ``--account N``, 0 by default: the first
store's staff; 9 works the tenth store of the 1,000,000-owner bench, whose lists sort past the other
stores' rows; managers and API clients see the whole group whatever N; logged in as after password and code),
and printed with the queries and the time of each request (and the SQL time of the last one). A detail page (a card,
a club member, a segment, the claimed call) is the first one its list showed just before.
Tomorrow's queue preview is counted by its 1st request (Celery is eager in these settings, so the
worker's count runs inline) and read from the cache by the 2nd, the 3rd and the poll after it.
``--only member,segment`` measures only the pages whose name holds one of the words; ``--profile 30``
prints the 30 functions of each page's last request with the most time (cProfile, cumulative). The counts are the
same on a database of a few rows: the tests pin them (``django_assert_num_queries``); here they are
read on a million owners, to show they do not grow with the data.
"""

import argparse
import cProfile
import datetime
import os
import pstats
import sys
import time
import zoneinfo
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

#: The retention dashboard's month (the last whole one), as its page opens.
_TODAY = datetime.datetime.now(tz=zoneinfo.ZoneInfo("Asia/Shanghai")).date()
LAST_MONTH = f"{_TODAY.replace(day=1) - datetime.timedelta(days=1):%Y-%m}"
#: The customers behind the dashboard's "won back" figure.
WON_BACK = {"month": LAST_MONTH, "to": "active", "previous": ["dormant", "lost"]}

#: (role, page, path, GET parameters or POST data, method) — the pages of bench/load/locustfile.py.
#: A path in braces is a detail page whose ID an earlier page of the list showed (``FOUND``).
PAGES = [
    ("call_agent", "call queue page", "/followups/queue/", {}, "get"),
    ("call_agent", "call: claim next", "/followups/queue/next/", {}, "post"),
    ("call_agent", "call: record outcome + claim next", "{outcome}", {"outcome": "reached", "notes": ""}, "post"),
    ("service_advisor", "customer search", "/customers/", {"q": "车主12345"}, "get"),
    ("service_advisor", "customer card", "{card}", {}, "get"),
    ("service_advisor", "arrivals board", "/customers/arrivals/", {}, "get"),
    ("service_advisor", "complaint list", "/complaints/", {}, "get"),
    ("service_advisor", "club members", "/club/", {}, "get"),
    ("service_advisor", "club members, by joining day", "/club/", {"sort": "joined"}, "get"),
    ("service_advisor", "club member page (points ledger)", "{member}", {}, "get"),
    ("service_advisor", "club events", "/club/events/", {}, "get"),
    ("sales_consultant", "prospects", "/customers/prospects/", {}, "get"),
    ("sales_consultant", "my tasks", "/followups/mine/", {}, "get"),
    ("sales_consultant", "delivery desk, buyer search", "/customers/desk/delivery/", {"q": "车主23456"}, "get"),
    ("manager", "follow-up reports, one month", "/followups/reports/", {}, "get"),
    ("manager", "complaint dashboard", "/complaints/dashboard/", {}, "get"),
    ("manager", "retention dashboard", "/customers/retention/", {}, "get"),
    ("manager", "satisfaction over time, by advisor", "/customers/satisfaction/", {"by": "advisor"}, "get"),
    ("manager", "customer list, group", "/customers/", {}, "get"),
    ("manager", "complaint list, group", "/complaints/", {}, "get"),
    ("manager", "club members, group", "/club/", {}, "get"),
    ("manager", "club members, group, by balance (highest first)", "/club/", {"sort": "-balance"}, "get"),
    ("manager", "segments", "/customers/segments/", {}, "get"),
    ("manager", "segment page", "{segment}", {}, "get"),
    ("manager", "SMS campaigns", "/followups/campaigns/", {}, "get"),
    ("manager", "assigned calls (My tasks, all staff)", "/followups/mine/", {}, "get"),
    ("manager", "follow-up rules", "/followups/rules/", {}, "get"),
    ("manager", "tomorrow's queue preview", "/followups/preview/", {}, "get"),
    ("manager", "tomorrow's queue preview: poll while counting", "/followups/preview/progress/", {}, "get"),
    ("manager", "bookings against capacity", "/customers/appointments/report/", {}, "get"),
    ("manager", "delivery interviews", "/customers/interviews/", {}, "get"),
    ("manager", "prospects won and lost", "/customers/prospects/report/", {}, "get"),
    ("manager", "customers behind 'won back'", "/customers/retention/customers/", WON_BACK, "get"),
    ("api", "API customer list", "/api/customers/", {"page": 7}, "get"),
    ("api", "API customer list by name", "/api/customers/", {"page": 7, "ordering": "name"}, "get"),
    ("api", "API vehicle list by insurance day", "/api/vehicles/", {"page": 7, "ordering": "insurance_expiry"}, "get"),
    ("api", "API complaint list by closing due", "/api/complaints/", {"page": 7, "ordering": "close_due_at"}, "get"),
]
#: The detail pages' IDs, read from the pages before them: {name: (pattern, path, role that reads it)}.
FOUND = {
    "outcome": (r'action="/followups/queue/call/(\d+)/outcome/"', "/followups/queue/call/{}/outcome/", "call_agent"),
    "card": (r'href="/customers/(\d+)/"', "/customers/{}/", "service_advisor"),
    "member": (r'href="/club/members/(\d+)/"', "/club/members/{}/", "service_advisor"),
    "segment": (r'href="/customers/segments/(\d+)/"', "/customers/segments/{}/", "manager"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="crm_bench_retention")
    parser.add_argument("--report-start", default="", help="the follow-up reports' first day (default: this month)")
    parser.add_argument("--report-end", default="")
    parser.add_argument(
        "--only",
        default="",
        help="only the pages whose name holds one of these comma-separated words (a detail page needs its list)",
    )
    parser.add_argument(
        "--account", type=int, default=0, help="ask as load_<role>_<N> (a store's staff: N modulo the stores)"
    )
    parser.add_argument("--search", default="车主12345", help="what the advisor searches (a name of the bench)")
    parser.add_argument(
        "--slow-ms", type=float, default=0, help="print the statements of a page's last request that took this long"
    )
    parser.add_argument(
        "--profile", type=int, default=0, help="the N slowest functions of a page's last request (cProfile)"
    )
    args = parser.parse_args()
    words = [word.strip() for word in args.only.split(",") if word.strip()]
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
    )
    # As gunicorn's workers plan the pages' statements: no parallel workers (config/settings/base.py).
    os.environ.setdefault("DB_PARALLEL_WORKERS_PER_QUERY", "0")
    sys.path.insert(0, str(BASE_DIR))
    import re

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice
    from rest_framework.authtoken.models import Token

    from crm.models import User

    setup_test_environment()  # the test client's templates and responses, without a test database
    clients: dict[str, Client] = {}
    found: dict[str, str] = {}
    print("| page or action | queries (1st, 2nd, 3rd request) | ms (1st, 2nd, 3rd) | SQL ms of the 3rd |")  # noqa: T201
    print("|---|---|---|---|")  # noqa: T201
    for role, name, path, data, method in PAGES:
        if words and not any(word in name for word in words):
            continue
        if role not in clients:
            user = User.objects.filter(username=f"load_{role}_{args.account}").first()
            if user is None:
                raise SystemExit(f"No bench account load_{role}_{args.account}: run bench/load_bench.py first.")
            client = Client(HTTP_X_FORWARDED_PROTO="https")
            if role == "api":
                token, _created = Token.objects.get_or_create(user=user)
                client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
            else:
                client.force_login(user)
                device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
                if device is not None:
                    session = client.session
                    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
                    session.save()
            clients[role] = client
        client = clients[role]
        if name == "customer search":
            data = {"q": args.search}
        if name.startswith("follow-up reports") and args.report_start:
            data = {"start": args.report_start, "end": args.report_end or args.report_start}
        if name == "tomorrow's queue preview":
            # Counted in its 1st request (Celery is eager here: the worker's count, inline), read
            # from the cache by the 2nd and 3rd and by the poll after it, as a manager's page and
            # its polls are once the counts are made (counts kept by an earlier run forgotten).
            from django.core.cache import cache

            cache.delete_many(
                [key.decode().split(":", 2)[2] for key in cache._cache.get_client().scan_iter("*followups:preview:*")]
            )
        counts, times = [], []
        for _attempt in range(3):
            target = path
            if path.startswith("{"):
                key = path.strip("{}")
                if key not in found:
                    raise SystemExit(f"{name}: no page before it showed one ({FOUND[key][0]})")
                target = FOUND[key][1].format(found[key])
            # As the harness's agents post from the queue page: the panel comes with the queue's
            # figures and list (out of band), named by the page's address.
            headers = (
                {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "https://testserver/followups/queue/"}
                if method == "post"
                else {}
            )
            profiler = cProfile.Profile() if args.profile and _attempt == 2 else None
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                if profiler:
                    profiler.enable()
                response = getattr(client, method)(target, data, secure=True, **headers)
                if profiler:
                    profiler.disable()
                times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{name}: HTTP {response.status_code} for {target}")
            text = response.content.decode()
            for key, (pattern, _path, reader) in FOUND.items():
                shown = re.search(pattern, text)
                if shown and reader == role and (key == "outcome" or key not in found):
                    found[key] = shown.group(1)  # the claimed call changes; a card, member, segment stays
            counts.append(len(queries))
        sql_ms = sum(float(query["time"]) for query in queries.captured_queries) * 1000
        shown = ", ".join(f"{ms:.0f}" for ms in times)
        print(f"| {name} | {', '.join(map(str, counts))} | {shown} | {sql_ms:.0f} |")  # noqa: T201
        if profiler:
            pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(args.profile)
        if args.slow_ms:
            for query in queries.captured_queries:
                if float(query["time"]) * 1000 >= args.slow_ms:
                    print(f"    {float(query['time']) * 1000:.0f} ms: {query['sql']}")  # noqa: T201


if __name__ == "__main__":
    main()
