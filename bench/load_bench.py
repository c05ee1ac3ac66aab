"""Load harness of issue 16: gunicorn as in production, locust's role-based users, one table per run.

    .venv/bin/pip install -r bench/requirements.txt        # locust, once (bench only)
    .venv/bin/python bench/load_bench.py [--database crm_bench_retention] [--users 10,50] [--run-time 60]

Uses a bench database that already exists (built by another script of bench/, e.g.
``retention_bench.py --load``: 1,000,000 owners in 10 stores); it is migrated if behind the code.
It then, on that database and idempotently:

- gives the stores a call window around the clock (the queue must be callable whenever it runs);
- creates the bench staff ``load_<role>_<n>`` (call agents, service advisors, sales consultants:
  one store each; managers and API clients: the whole group, each with a confirmed authenticator);
- keeps ``--open-tasks`` open phone tasks due today for the queue;
- keeps what the desks and dashboards show: prospects in every store, today's bookings on the
  arrivals board (one in ten a VIP), open tasks owned by each sales consultant ("My tasks"), a
  year of complaints and three years of satisfaction results with their monthly figures
  (``desk_data_ensure``).

It collects the static files and starts gunicorn the way the Dockerfile does (its CMD, 3 workers,
``config.settings.base`` with DEBUG=0, behind a pretend TLS proxy on loopback) and a Celery worker
as docker-compose.yml does (the queue preview's counts are its work), runs locust headless
for ``--run-time`` seconds at each number of ``--users``, prints one table per run (page or action,
requests, req/s, p50, p95, failures; ``/healthz`` is the ceiling of the machine in the same run)
and stops everything it started.
"""

import argparse
import csv
import datetime
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
LOCUSTFILE = BASE_DIR / "bench" / "load" / "locustfile.py"
PASSWORD = "load-bench-pw-1"
#: Pool of accounts per role: enough for every person of the largest run.
ROLES = {"call_agent": "call_agent", "service_advisor": "service_advisor", "sales_consultant": "sales_consultant",
         "manager": "manager", "api": "manager"}  # fmt: skip


def say(message: str = "") -> None:
    print(message, flush=True)  # noqa: T201 - a console program


def dockerfile_command() -> list[str]:
    """The image's CMD (a JSON array on the Dockerfile's CMD line)."""
    for line in (BASE_DIR / "Dockerfile").read_text().splitlines():
        if line.startswith("CMD "):
            return json.loads(line[4:])
    raise SystemExit("The Dockerfile has no CMD line.")


def compose_worker_command() -> list[str]:
    """The Celery worker's command in docker-compose.yml (its worker service's JSON array)."""
    for line in (BASE_DIR / "docker-compose.yml").read_text().splitlines():
        if line.strip().startswith("command:") and '"worker"' in line:
            return json.loads(line.split("command:", 1)[1])
    raise SystemExit("docker-compose.yml has no Celery worker command.")


def start_celery_worker(env: dict) -> subprocess.Popen:
    """The Celery worker as compose runs it, for the pages whose work it does (the queue preview's
    counts): production has one beside gunicorn."""
    # --purge: tasks left in the bench's Redis (by tests, or a bench stopped mid-run) are not this run's work.
    command = [*compose_worker_command(), "--purge"]
    process = subprocess.Popen(
        [sys.executable, "-m", *command], cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    time.sleep(3)
    if process.poll() is not None:
        raise SystemExit("the Celery worker stopped at once (run its command by hand to see why)")
    return process


def forget_preview_counts(redis_url: str) -> None:
    """Every run starts without the queue preview's counts kept by an earlier one, so its managers
    wait for one count and poll, as the first managers of a morning do."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match="*followups:preview:*"):
        client.delete(key)


def dockerfile_collectstatic() -> list[str]:
    for line in (BASE_DIR / "Dockerfile").read_text().splitlines():
        if "manage.py collectstatic" in line:
            return line[line.index("manage.py") :].split()
    raise SystemExit("The Dockerfile does not collect the static files.")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_env(database: str, root: Path) -> dict[str, str]:
    """The image's environment (compose's .env) pointed at the bench database and the bench's Redis."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        PYTHONDONTWRITEBYTECODE="1",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_PROXY_SSL_HEADER="1",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{database}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/12"),
        STATIC_ROOT=str(root / "static"),
        MEDIA_ROOT=str(root / "media"),
        SMS_FILE_GATEWAY_DIR=str(root / "sms"),
        LOG_LEVEL="WARNING",
    )
    return env


def prepare(*, accounts: int, open_tasks: int) -> dict:
    """Stores, staff, authenticators and open tasks on the bench database (Django set up with the
    production settings, so the passwords are hashed the way gunicorn checks them)."""
    import django

    django.setup()
    from benchdb import filler_columns
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from crm.mfa import totp_device_ensure_confirmed
    from crm.models import Store, User
    from followups.models import FollowupRule
    from followups.services import followup_rules_ensure_defaults

    call_command("migrate", verbosity=0)
    stores = list(Store.objects.filter(is_active=True).order_by("pk"))
    if not stores:
        raise SystemExit("The bench database has no store: build it first (e.g. bench/retention_bench.py --load).")
    Store.objects.filter(pk__in=[store.pk for store in stores]).update(
        morning_call_start=datetime.time(0, 0), morning_call_end=datetime.time(12, 0),
        afternoon_call_start=datetime.time(12, 0), afternoon_call_end=datetime.time(23, 59, 59),
    )  # fmt: skip
    hashed = make_password(PASSWORD)  # once: the production hasher is slow on purpose
    setup: dict = {"password": PASSWORD, "roles": {}}
    with transaction.atomic():
        for role, group_name in ROLES.items():
            group = Group.objects.get(name=group_name)
            group_wide = group_name == "manager"
            setup["roles"][role] = []
            for index in range(accounts):
                user, _created = User.objects.update_or_create(
                    username=f"load_{role}_{index}",
                    defaults={"password": hashed, "is_active": True, "sees_all_stores": group_wide},
                )
                user.groups.set([group])
                user.stores.set(stores if group_wide else [stores[index % len(stores)]])
                account = {"username": user.username}
                if group_wide:
                    account["totp_key"] = totp_device_ensure_confirmed(user=user).key
                setup["roles"][role].append(account)
    followup_rules_ensure_defaults(stores=stores)
    rules = {str(rule.store_id): rule.pk for rule in FollowupRule.objects.filter(code="delivery_thanks")}
    today = timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM followups_followuptask WHERE status = 'open' AND channel = 'phone' "
            "AND work_date = %s AND assignee_id IS NULL",
            [today],
        )
        missing = open_tasks - cursor.fetchone()[0]
        if missing > 0:  # customers without an open task today, the oldest first (as followups_bench.py)
            names, values = filler_columns("followups_followuptask", {
                "rule_id": "(%(rules)s::jsonb ->> cu.store_id::text)::bigint", "code": "'delivery_thanks'",
                "store_id": "cu.store_id", "customer_id": "cu.id", "unit_id": "cu.id", "rule_date": "%(today)s",
                "queue_date": "%(today)s", "work_date": "%(today)s", "channel": "'phone'",
                "priority": "1 + cu.id %% 9", "status": "'open'", "created_at": "now()",
            })  # fmt: skip
            cursor.execute(
                f"""
                INSERT INTO followups_followuptask ({names})
                SELECT {values} FROM customers_customer cu
                WHERE cu.do_not_call = false AND cu.confidentiality = 'normal'
                  AND NOT EXISTS (SELECT 1 FROM followups_followuptask t
                                  WHERE t.customer_id = cu.id AND t.rule_date = %(today)s)
                ORDER BY cu.id LIMIT %(count)s
                ON CONFLICT DO NOTHING
                """,
                {"rules": json.dumps(rules), "today": today, "count": missing},
            )
            cursor.execute("ANALYZE followups_followuptask")
        # The follow-up reports: the last whole month with calls in the bench data.
        # (the bench's own calls left out, or a second run would measure a month of three days).
        cursor.execute(
            "SELECT max(a.at) FROM followups_callattempt a LEFT JOIN crm_user u ON u.id = a.agent_id "
            "WHERE u.username IS NULL OR u.username NOT LIKE %s",
            ["load\\_%"],
        )
        last_call = cursor.fetchone()[0]
    last = timezone.localtime(last_call).date() if last_call else today
    end = last.replace(day=1) - datetime.timedelta(days=1)
    setup["report_month"] = {"start": end.replace(day=1).isoformat(), "end": end.isoformat()}
    setup["open_tasks"] = open_tasks
    desk_data_ensure(stores=stores, today=today)
    club_and_marketing_data_ensure(stores=stores, today=today)
    connection.close()
    return setup


#: What the desks' pages show, kept on the bench database (topped up, never duplicated): prospects
#: per store, today's bookings per store (the arrivals board), open tasks owned by each sales
#: consultant (My tasks), a year of complaints (the complaint dashboard's figures) and three years
#: of satisfaction results (satisfaction over time).
PROSPECTS_PER_STORE = 300
BOOKINGS_PER_STORE_TODAY = 40
OWNED_TASKS_PER_CONSULTANT = 25
COMPLAINTS = 20_000
#: Satisfaction results of the last three years, one per owner of the first owners ("Satisfaction
#: over time"; the page reads their monthly figures, built here).
SATISFACTION_RESULTS = 400_000


def desk_data_ensure(*, stores, today: datetime.date) -> None:
    """Set-based and idempotent: each kind is written only where the bench's own rows are missing
    (they are told apart by a marker: ``load bench`` in a note or a reference)."""
    from benchdb import filler_columns
    from django.db import connection

    from crm.models import User

    staff_table = User.stores.through._meta.db_table
    with connection.cursor() as cursor:
        for store in stores:
            cursor.execute(
                f"SELECT u.id FROM crm_user u JOIN {staff_table} s ON s.user_id = u.id "
                "WHERE s.store_id = %s AND u.username LIKE %s ORDER BY u.id",
                [store.pk, "load\\_sales\\_consultant\\_%"],
            )
            consultants = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                f"SELECT u.id FROM crm_user u JOIN {staff_table} s ON s.user_id = u.id "
                "WHERE s.store_id = %s AND u.username LIKE %s ORDER BY u.id",
                [store.pk, "load\\_service\\_advisor\\_%"],
            )
            advisors = [row[0] for row in cursor.fetchall()]
            params = {"store": store.pk, "today": today, "consultants": consultants or [None],
                      "advisors": advisors or [None]}  # fmt: skip
            cursor.execute(
                "SELECT count(*) FROM customers_prospect WHERE store_id = %s AND notes = 'load bench'", [store.pk]
            )
            missing = PROSPECTS_PER_STORE - cursor.fetchone()[0]
            if missing > 0:
                names, values = filler_columns("customers_prospect", {
                    "store_id": "%(store)s", "name": "'意向客户' || g",
                    "mobile": "'139' || lpad((%(store)s * 100000 + g)::text, 8, '0')",
                    "intended_model": "'朗逸'", "source": "(ARRAY['showroom','online','phone'])[1 + g %% 3]",
                    "consultant_id": "(%(consultants)s::bigint[])[1 + g %% cardinality(%(consultants)s::bigint[])]",
                    "status": "'new'", "recorded_on": "%(today)s - (g %% 90)", "notes": "'load bench'",
                    "created_at": "now()", "updated_at": "now()",
                })  # fmt: skip
                cursor.execute(
                    f"INSERT INTO customers_prospect ({names}) SELECT {values} FROM generate_series(1, %(missing)s) g",
                    {**params, "missing": missing},
                )
            cursor.execute(
                "SELECT count(*) FROM customers_appointment WHERE store_id = %s AND date = %s "
                "AND source_reference = 'load bench'",
                [store.pk, today],
            )
            missing = BOOKINGS_PER_STORE_TODAY - cursor.fetchone()[0]
            if missing > 0:
                names, values = filler_columns("customers_appointment", {
                    "store_id": "%(store)s", "customer_id": "v.customer_id", "vehicle_id": "v.id", "date": "%(today)s",
                    "slot": "time '08:30' + (v.n %% 16) * interval '30 minutes'", "purpose": "'maintenance'",
                    "advisor_id": "(%(advisors)s::bigint[])[1 + v.n %% cardinality(%(advisors)s::bigint[])]",
                    "source": "'desk'", "source_reference": "'load bench'", "status": "'booked'",
                    "is_vip": "v.n %% 10 = 0", "created_at": "now()",
                })  # fmt: skip
                cursor.execute(
                    f"""
                    INSERT INTO customers_appointment ({names})
                    SELECT {values} FROM (
                        SELECT ve.id, ve.customer_id, row_number() OVER (ORDER BY ve.id) AS n
                        FROM customers_vehicle ve WHERE ve.store_id = %(store)s
                          AND NOT EXISTS (SELECT 1 FROM customers_appointment ap
                                          WHERE ap.vehicle_id = ve.id AND ap.date = %(today)s)
                        ORDER BY ve.id DESC LIMIT %(missing)s
                    ) v
                    """,
                    {**params, "missing": missing},
                )
            for consultant in consultants:
                cursor.execute(
                    "SELECT count(*) FROM followups_followuptask WHERE assignee_id = %s AND status = 'open'",
                    [consultant],
                )
                missing = OWNED_TASKS_PER_CONSULTANT - cursor.fetchone()[0]
                if missing <= 0:
                    continue
                names, values = filler_columns("followups_followuptask", {
                    "rule_id": "r.id", "code": "r.code", "store_id": "%(store)s", "customer_id": "cu.id",
                    "unit_id": "cu.id", "rule_date": "%(today)s", "queue_date": "%(today)s", "work_date": "%(today)s",
                    "channel": "'phone'", "priority": "3", "status": "'open'", "assignee_id": "%(consultant)s",
                    "created_at": "now()",
                })  # fmt: skip
                cursor.execute(
                    f"""
                    INSERT INTO followups_followuptask ({names})
                    SELECT {values} FROM customers_customer cu
                    JOIN followups_followuprule r ON r.store_id = %(store)s AND r.code = 'delivery_thanks'
                    WHERE cu.store_id = %(store)s AND cu.confidentiality = 'normal'
                      AND NOT EXISTS (SELECT 1 FROM followups_followuptask t
                                      WHERE t.customer_id = cu.id AND t.rule_date = %(today)s)
                    ORDER BY cu.id DESC LIMIT %(missing)s
                    ON CONFLICT DO NOTHING
                    """,
                    {**params, "consultant": consultant, "missing": missing},
                )
        cursor.execute("SELECT count(*) FROM complaints_complaint WHERE origin_reference = 'load bench'")
        missing = COMPLAINTS - cursor.fetchone()[0]
        if missing > 0:  # spread over the stores and the last 13 months; two in three closed
            names, values = filler_columns("complaints_complaint", {
                "store_id": "cu.store_id", "customer_id": "cu.id", "channel": "'phone'",
                "department": "(ARRAY['sales','service'])[1 + cu.n %% 2]",
                "complaint_type_id": "(SELECT min(id) FROM complaints_complainttype)",
                "severity": "'medium'", "description": "'load bench'",
                "status": "CASE WHEN cu.n %% 3 = 0 THEN 'open' ELSE 'closed' END",
                "received_at": "now() - (cu.n %% 395) * interval '1 day' - (cu.n %% 600) * interval '1 minute'",
                "response_due_at": "now() - (cu.n %% 395) * interval '1 day' + interval '2 hours'",
                "close_due_at": "now() - (cu.n %% 395) * interval '1 day' + interval '48 hours'",
                "first_response_at": "now() - (cu.n %% 395) * interval '1 day' + interval '30 minutes'",
                "closed_at": "CASE WHEN cu.n %% 3 = 0 THEN NULL "
                             "ELSE now() - (cu.n %% 395) * interval '1 day' + interval '20 hours' END",
                "customer_confirmation": "CASE WHEN cu.n %% 3 = 0 THEN '' ELSE 'satisfied' END",
                "origin": "'desk'", "origin_reference": "'load bench'", "created_at": "now()", "updated_at": "now()",
            })  # fmt: skip
            cursor.execute(
                f"""
                INSERT INTO complaints_complaint ({names})
                SELECT {values} FROM (
                    SELECT c.id, c.store_id, row_number() OVER (ORDER BY c.id) AS n FROM customers_customer c
                    WHERE c.confidentiality = 'normal' ORDER BY c.id DESC LIMIT %(missing)s
                ) cu
                """,
                {"missing": missing},
            )
        # Written as a script would (no store of record): the rebuild credits them set-based, as the
        # nightly run does, and counts their months. One result per owner: written once.
        names, values = filler_columns("customers_satisfactionresult", {
            "customer_id": "c.id",
            "at": "now() - (c.id %% 1095) * interval '1 day' - (c.id %% 600) * interval '1 minute'",
            "score": "CASE WHEN c.id %% 9 = 0 THEN NULL ELSE 1 + (c.id * 7) %% 5 END",
            "verdict": "CASE WHEN c.id %% 9 = 0 THEN 'neutral' WHEN (c.id * 7) %% 5 <= 1 THEN 'dissatisfied' "
                       "WHEN (c.id * 7) %% 5 >= 3 THEN 'satisfied' ELSE 'neutral' END",
            "department": "'service'",
            "source": "(ARRAY['call','call','sms_reply','delivery_interview','complaint_close'])[1 + c.id %% 5]",
            "rule_code": "(ARRAY['post_repair_callback','maintenance_due','','delivery_thanks',''])[1 + c.id %% 5]",
            "statement": "'load bench'", "reference": "'load bench:' || c.id",
        })  # fmt: skip
        cursor.execute(
            f"""
            INSERT INTO customers_satisfactionresult ({names})
            SELECT {values} FROM (SELECT id FROM customers_customer ORDER BY id LIMIT %(results)s) c
            ON CONFLICT (reference) DO NOTHING
            """,
            {"results": SATISFACTION_RESULTS},
        )
        written = cursor.rowcount
        cursor.execute("ANALYZE customers_prospect; ANALYZE customers_appointment; ANALYZE complaints_complaint")
    if written:
        from customers.satisfaction_figures import satisfaction_figures_rebuild

        satisfaction_figures_rebuild(today=today)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_satisfactionresult; ANALYZE customers_satisfactionmonth")


#: The group's club, segments, campaigns and events, as a group working with the CRM for a while
#: has them: the club started a year ago in every store (every owner a member, a year of points
#: earned by the nightly run), a few segments per store, two campaigns a month for two years, an
#: event every two weeks for two years and the next few, each with its list of owners.
CLUB_STARTED_MONTHS_AGO = 12
SEGMENTS = [
    ("全部车主", {}),
    ("六至十二个月未回厂", {"activity": ["dormant"]}),
    ("流失客户", {"activity": ["lost"]}),
    ("换购窗口期", {"lifecycle": ["replacement"]}),
    ("高价值客户", {"value": ["top"]}),
    ("保内活跃客户", {"lifecycle": ["in_warranty"], "activity": ["active"]}),
]
CAMPAIGNS_PER_STORE = 48
EVENTS_PER_STORE = 56  # 52 over two years, 4 to come
REGISTRATIONS_PER_EVENT = 40


def club_and_marketing_data_ensure(*, stores, today: datetime.date) -> None:
    """Idempotent like ``desk_data_ensure``: the segment facts when never built, each store's club
    started (``club_start``) and run through yesterday (``club_run``, the nightly run's own code) when
    it has none, and the bench's segments, campaigns and events (marked ``load bench``) where missing."""
    from benchdb import filler_columns
    from django.db import connection, transaction

    from clubs.models import StoreClub
    from clubs.run import club_run, club_start
    from crm.calendar import add_months
    from customers.facts import customer_stats_refresh
    from customers.models import CustomerStats, Segment

    if not CustomerStats.objects.exists():
        customer_stats_refresh(today=today)
    fresh = [store for store in stores if not StoreClub.objects.filter(store=store).exists()]
    if fresh:
        with transaction.atomic():
            for store in fresh:
                club_start(store=store, started_on=add_months(today, -CLUB_STARTED_MONTHS_AGO))
        with transaction.atomic():
            club_run(through=today - datetime.timedelta(days=1), store_ids=[store.pk for store in fresh])
    with connection.cursor() as cursor:
        for store in stores:
            if Segment.objects.filter(store=store, description="load bench").exists():
                continue
            Segment.objects.bulk_create(
                Segment(name=f"{name}（{store.code}）", store=store, definition=definition, description="load bench")
                for name, definition in SEGMENTS
            )
        for store in stores:
            cursor.execute(
                "SELECT count(*) FROM followups_campaign WHERE store_id = %s AND template LIKE %s",
                [store.pk, "%load bench%"],
            )
            missing = CAMPAIGNS_PER_STORE - cursor.fetchone()[0]
            if missing <= 0:
                continue
            segment = Segment.objects.filter(store=store, description="load bench").order_by("pk").first()
            names, values = filler_columns("followups_campaign", {
                "store_id": "%(store)s", "name": "'保养促销 ' || g", "kind": "'promotion'", "segment_id": "%(segment)s",
                "districts": "'[]'::jsonb", "template": "'{name}您好，冬季保养八折。load bench'",
                "send_at": "now() - (g * 15) * interval '1 day' + interval '30 days'", "holdout_percent": "10",
                "status": "CASE WHEN g <= 2 THEN 'draft' ELSE 'sent' END", "created_at": "now()",
                "updated_at": "now()",
            })  # fmt: skip
            cursor.execute(
                f"INSERT INTO followups_campaign ({names}) SELECT {values} FROM generate_series(1, %(missing)s) g",
                {"store": store.pk, "segment": segment.pk, "missing": missing},
            )
        for store in stores:
            cursor.execute(
                "SELECT count(*) FROM clubs_clubevent WHERE store_id = %s AND place = 'load bench'", [store.pk]
            )
            missing = EVENTS_PER_STORE - cursor.fetchone()[0]
            if missing <= 0:
                continue
            names, values = filler_columns("clubs_clubevent", {
                "store_id": "%(store)s", "title": "'车主课堂 ' || g",
                "kind": "(ARRAY['new_owner_class','self_drive_tour','maintenance_lecture'])[1 + g %% 3]",
                "starts_at": "now() + (4 - g) * interval '14 days' + interval '1 day'",
                "ends_at": "now() + (4 - g) * interval '14 days' + interval '1 day 3 hours'",
                "place": "'load bench'", "capacity": "50", "points_for_attending": "200", "invitation_template": "''",
                "created_at": "now()", "updated_at": "now()",
            })  # fmt: skip
            cursor.execute(
                f"INSERT INTO clubs_clubevent ({names}) SELECT {values} FROM generate_series(1, %(missing)s) g",
                {"store": store.pk, "missing": missing},
            )
            # Each new event's list: owners of the store (different ones per event); those of a past
            # event came, one in ten of a coming one waits for a place.
            names, values = filler_columns("clubs_eventregistration", {
                "event_id": "e.id", "customer_id": "c.id",
                "status": "CASE WHEN e.ends_at < now() THEN 'attended' WHEN c.n %% 10 = 0 THEN 'waiting' "
                          "ELSE 'registered' END",
                "source": "'phone'", "registered_at": "e.starts_at - interval '7 days'",
                "checked_in_at": "CASE WHEN e.ends_at < now() THEN e.starts_at END",
                "created_at": "now()", "updated_at": "now()",
            })  # fmt: skip
            cursor.execute(
                f"""
                WITH e AS (
                    SELECT ev.id, ev.starts_at, ev.ends_at, row_number() OVER (ORDER BY ev.id) - 1 AS k
                    FROM clubs_clubevent ev
                    WHERE ev.store_id = %(store)s AND ev.place = 'load bench'
                      AND NOT EXISTS (SELECT 1 FROM clubs_eventregistration r WHERE r.event_id = ev.id)
                ), c AS (
                    SELECT cu.id, row_number() OVER (ORDER BY cu.id) - 1 AS n FROM (
                        SELECT id FROM customers_customer
                        WHERE store_id = %(store)s AND confidentiality = 'normal' ORDER BY id LIMIT %(needed)s
                    ) cu
                )
                INSERT INTO clubs_eventregistration ({names})
                SELECT {values} FROM e JOIN c ON c.n / %(per_event)s = e.k
                """,
                {"store": store.pk, "per_event": REGISTRATIONS_PER_EVENT, "needed": missing * REGISTRATIONS_PER_EVENT},
            )
        cursor.execute(
            "ANALYZE customers_segment; ANALYZE followups_campaign; ANALYZE clubs_clubevent; "
            "ANALYZE clubs_eventregistration; ANALYZE customers_customerstats"  # the club run rewrote tiers
        )


def start_gunicorn(env: dict, port: int, workers: int) -> subprocess.Popen:
    command = dockerfile_command()
    options = command[2:]
    options[options.index("--bind") + 1] = f"127.0.0.1:{port}"
    options[options.index("--workers") + 1] = str(workers)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", command[1], *options],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise SystemExit(f"gunicorn stopped: {process.stderr.read()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
                if response.status == 200:
                    return process
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop(process)
            raise SystemExit("gunicorn did not answer /healthz within 60 s.")
        time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_locust(
    *, env: dict, port: int, users: int, run_time: int, spawn_rate: float, prefix: Path, classes: tuple[str, ...] = ()
) -> list[dict]:
    command = [
        str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "--host", f"http://127.0.0.1:{port}", "--users", str(users), "--spawn-rate", str(spawn_rate),
        "--run-time", f"{run_time + 600}s", "--stop-timeout", "30", "--csv", str(prefix),
        "--exit-code-on-error", "0", "--loglevel", "INFO", *classes,
    ]  # fmt: skip
    env = {**env, "LOAD_MEASURE_SECONDS": str(run_time)}  # counted once everyone has logged in
    result = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=run_time + 900)
    if result.returncode != 0:
        raise SystemExit(f"locust failed ({result.returncode}): {result.stderr[-3000:]}")
    busy = None
    for line in result.stderr.splitlines():
        for said in ("All users spawned", "Failures before everyone", "Everyone logged in", "Machine CPU"):
            if said in line:
                say("  " + line[line.index(said) :].strip())
        if "busy_seconds=" in line:
            busy = float(line.split("busy_seconds=")[1].split(")")[0])
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    served = sum(int(row["Request Count"]) for row in rows if row["Name"] == "Aggregated")
    if busy is not None and served:  # what one request costs the machine, all its parts together
        say(f"  machine CPU per request in the window: {1000 * busy / served:.0f} ms ({os.cpu_count()} cores)")
    failures = Path(f"{prefix}_failures.csv")
    if failures.exists():
        for row in csv.DictReader(failures.open(encoding="utf-8")):
            say(f"  failure: {row['Method']} {row['Name']}: {row['Error'][:160]} × {row['Occurrences']}")
    return rows


def print_table(rows: list[dict], *, users: int, run_time: int) -> None:
    say(f"\n{users} users, {run_time} s (measured once everyone had logged in):")
    say("| page or action | requests | req/s | p50 ms | p95 ms | failures |")
    say("|---|---|---|---|---|---|")
    for row in sorted(rows, key=lambda row: (row["Name"] == "Aggregated", row["Name"])):
        if row["Request Count"] == "0":  # the log-ins, all before the figures were reset
            continue
        name = "all requests" if row["Name"] == "Aggregated" else row["Name"]
        say(
            f"| {name} | {row['Request Count']} | {float(row['Requests/s']):.1f} | {row['50%']} | {row['95%']} "
            f"| {row['Failure Count']} |"
        )


def _stop_on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")  # through the finally clauses: nothing left running


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_signal)
    signal.signal(signal.SIGINT, _stop_on_signal)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default="crm_bench_retention", help="an existing bench database")
    parser.add_argument("--users", default="10,50", help="simulated people per run, comma-separated")
    parser.add_argument("--run-time", type=int, default=60, help="seconds each run lasts")
    parser.add_argument(
        "--spawn-rate", type=float, default=2,
        help="people started per second. Each log-in hashes its password, slowly on purpose (about half a second "
        "of CPU here): at 10 a second, 50 log-ins kept both cores busy for seconds, and the first requests of "
        "the last people in (the agents' first claim) measured that log-in storm, 540-950 ms, not the page "
        "(120-190 ms at 2 a second)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (the Dockerfile's 3)")
    parser.add_argument("--open-tasks", type=int, default=50_000, help="open phone tasks kept for the queue")
    parser.add_argument(
        "--agent-think", default="3,8",
        help="seconds an agent spends on a call between two outcomes in the mixed runs, MIN,MAX (0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--agents-only", type=int, default=20,
        help="then a run of only this many agents working the queue without any pause (0: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--ceiling", type=int, default=0,
        help="then a run of this many signed-in agents asking, without pauses, for the cheapest signed-in "
        "request (the log-in page's redirect home): the claim-cycle run's ceiling (0: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--prepare-only", action="store_true", help="set up the staff and data on the database, then stop (no runs)"
    )
    args = parser.parse_args()
    user_counts = [int(part) for part in args.users.split(",") if part.strip()]
    accounts = max([*user_counts, args.agents_only, args.ceiling])
    if not args.prepare_only and shutil.which("locust", path=str(Path(sys.executable).parent)) is None:
        raise SystemExit("locust is not installed: .venv/bin/pip install -r bench/requirements.txt")

    root = Path(tempfile.mkdtemp(prefix="crm-load-"))
    env = production_env(args.database, root)
    env["LOAD_AGENT_THINK"] = args.agent_think
    os.environ.update(env)
    sys.path[:0] = [str(BASE_DIR), str(BASE_DIR / "bench")]
    process = worker = None
    try:
        setup = prepare(accounts=accounts, open_tasks=args.open_tasks)
        if args.prepare_only:
            say(f"database {args.database} prepared: {accounts} accounts per role, {args.open_tasks:,} open tasks")
            return
        collected = subprocess.run(
            [sys.executable, *dockerfile_collectstatic()], cwd=BASE_DIR, env=env, capture_output=True, text=True
        )
        if collected.returncode != 0:
            raise SystemExit(f"collectstatic failed: {collected.stderr[-3000:]}")
        users_file = root / "users.json"
        users_file.write_text(json.dumps(setup))
        env["LOAD_USERS_FILE"] = str(users_file)
        port = free_port()
        process = start_gunicorn(env, port, args.workers)
        worker = start_celery_worker(env)
        say(
            f"database {args.database}, gunicorn {args.workers} workers on 127.0.0.1:{port}, "
            f"follow-up reports {setup['report_month']['start']} .. {setup['report_month']['end']}, "
            f"load average before: {os.getloadavg()[0]:.1f}"
        )
        for users in user_counts:
            prepare(accounts=accounts, open_tasks=args.open_tasks)  # the queue full again
            forget_preview_counts(env["REDIS_URL"])
            started_load = os.getloadavg()[0]
            rows = run_locust(
                env=env, port=port, users=users, run_time=args.run_time, spawn_rate=args.spawn_rate,
                prefix=root / f"run{users}",
            )  # fmt: skip
            print_table(rows, users=users, run_time=args.run_time)
            say(f"load average at start / end: {started_load:.1f} / {os.getloadavg()[0]:.1f}")
        if args.agents_only:  # the claim cycle: agents only, no pause at all (and the ceiling)
            prepare(accounts=accounts, open_tasks=args.open_tasks)
            started_load = os.getloadavg()[0]
            rows = run_locust(
                env={**env, "LOAD_AGENT_THINK": "0"}, port=port, users=args.agents_only + 1, run_time=args.run_time,
                spawn_rate=args.spawn_rate, prefix=root / "agents", classes=("AgentUser", "CeilingUser"),
            )  # fmt: skip
            say(f"\n{args.agents_only} agents only, without pauses:")
            print_table(rows, users=args.agents_only + 1, run_time=args.run_time)
            say(f"load average at start / end: {started_load:.1f} / {os.getloadavg()[0]:.1f}")
        if args.ceiling:  # what the claim-cycle run could get at most: signed-in requests that do nothing
            started_load = os.getloadavg()[0]
            rows = run_locust(
                env={**env, "LOAD_SIGNED_IN_CEILING": "1"}, port=port, users=args.ceiling + 1,
                run_time=args.run_time, spawn_rate=args.spawn_rate, prefix=root / "ceiling",
                classes=("SignedInCeilingUser", "CeilingUser"),
            )  # fmt: skip
            say(f"\n{args.ceiling} signed-in agents asking for nothing, without pauses:")
            print_table(rows, users=args.ceiling + 1, run_time=args.run_time)
            say(f"load average at start / end: {started_load:.1f} / {os.getloadavg()[0]:.1f}")
    finally:
        if worker is not None:
            stop(worker)
        if process is not None:
            stop(process)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
