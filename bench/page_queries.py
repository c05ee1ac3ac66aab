"""The number of SQL queries of each page the load harness asks for, on a bench database (issue 16).

    .venv/bin/python bench/load_bench.py ...                # once: creates the load_<role>_<n> staff
    .venv/bin/python bench/page_queries.py [--database crm_bench_retention]

Each page is requested three times in this process through Django's test client, as the first
bench account of the role that works it (``load_<role>_0``, logged in as after password and code),
and printed with the queries of each request and the time of the last one. The counts are the
same on a database of a few rows: the tests pin them (``django_assert_num_queries``); here they are
read on a million owners, to show they do not grow with the data.
"""

import argparse
import datetime
import os
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
PAGES = [
    ("call_agent", "call queue page", "/followups/queue/", {}, "get"),
    ("call_agent", "call: claim next", "/followups/queue/next/", {}, "post"),
    ("call_agent", "call: record outcome + claim next", "outcome", {"outcome": "reached", "notes": ""}, "post"),
    ("service_advisor", "customer search", "/customers/", {"q": "车主12345"}, "get"),
    ("service_advisor", "customer card", "card", {}, "get"),
    ("service_advisor", "arrivals board", "/customers/arrivals/", {}, "get"),
    ("sales_consultant", "prospects", "/customers/prospects/", {}, "get"),
    ("sales_consultant", "my tasks", "/followups/mine/", {}, "get"),
    ("manager", "follow-up reports, one month", "/followups/reports/", {}, "get"),
    ("manager", "complaint dashboard", "/complaints/dashboard/", {}, "get"),
    ("manager", "retention dashboard", "/customers/retention/", {}, "get"),
    ("manager", "customers behind 'won back'", "/customers/retention/customers/", WON_BACK, "get"),
    ("api", "API customer list", "/api/customers/", {"page": 7}, "get"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="crm_bench_retention")
    parser.add_argument("--report-start", default="", help="the follow-up reports' first day (default: this month)")
    parser.add_argument("--report-end", default="")
    args = parser.parse_args()
    os.environ.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
    )
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
    print("| page or action | queries (1st, 2nd, 3rd request) | last request ms |")  # noqa: T201
    print("|---|---|---|")  # noqa: T201
    for role, name, path, data, method in PAGES:
        if role not in clients:
            user = User.objects.get(username=f"load_{role}_0")
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
        if name.startswith("follow-up reports") and args.report_start:
            data = {"start": args.report_start, "end": args.report_end or args.report_start}
        counts, elapsed = [], 0.0
        for _attempt in range(3):
            target = path
            if path == "outcome":
                target = f"/followups/queue/call/{found['claimed']}/outcome/"
            elif path == "card":
                target = f"/customers/{found['card']}/"
            headers = {"HTTP_HX_REQUEST": "true"} if method == "post" else {}
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = getattr(client, method)(target, data, secure=True, **headers)
                elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"{name}: HTTP {response.status_code} for {target}")
            text = response.content.decode()
            claimed = re.search(r'action="/followups/queue/call/(\d+)/outcome/"', text)
            if claimed:
                found["claimed"] = claimed.group(1)
            card = re.search(r'href="/customers/(\d+)/"', text)
            if card and role == "service_advisor":
                found.setdefault("card", card.group(1))
            counts.append(len(queries))
        print(f"| {name} | {', '.join(map(str, counts))} | {elapsed * 1000:.0f} |")  # noqa: T201


if __name__ == "__main__":
    main()
