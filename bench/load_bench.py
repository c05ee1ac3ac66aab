"""Load harness of issue 16: gunicorn as in production, locust's role-based users, one table per run.

    .venv/bin/pip install -r bench/requirements.txt        # locust, once (bench only)
    .venv/bin/python bench/load_bench.py [--database crm_bench_retention] [--users 10,50] [--run-time 60]

Uses a bench database that already exists (built by another script of bench/, e.g.
``retention_bench.py --load``: 1,000,000 owners in 10 stores); it is migrated if behind the code.
It then, on that database and idempotently:

- gives the stores a call window around the clock (the queue must be callable whenever it runs);
- creates the bench staff ``load_<role>_<n>`` (call agents, service advisors, sales consultants:
  one store each; managers and API clients: the whole group, each with a confirmed authenticator);
- keeps ``--open-tasks`` open phone tasks due today for the queue.

It collects the static files and starts gunicorn the way the Dockerfile does (its CMD, 3 workers,
``config.settings.base`` with DEBUG=0, behind a pretend TLS proxy on loopback), runs locust headless
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
    connection.close()
    return setup


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


def run_locust(*, env: dict, port: int, users: int, run_time: int, spawn_rate: float, prefix: Path) -> list[dict]:
    command = [
        str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE), "--headless", "--only-summary",
        "--host", f"http://127.0.0.1:{port}", "--users", str(users), "--spawn-rate", str(spawn_rate),
        "--run-time", f"{run_time + 600}s", "--stop-timeout", "30", "--csv", str(prefix),
        "--exit-code-on-error", "0", "--loglevel", "INFO",
    ]  # fmt: skip
    env = {**env, "LOAD_MEASURE_SECONDS": str(run_time)}  # counted once everyone has logged in
    result = subprocess.run(command, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=run_time + 900)
    if result.returncode != 0:
        raise SystemExit(f"locust failed ({result.returncode}): {result.stderr[-3000:]}")
    for line in result.stderr.splitlines():
        for said in ("All users spawned", "Failures before everyone", "Everyone logged in"):
            if said in line:
                say("  " + line[line.index(said) :].strip())
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
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
    parser.add_argument("--spawn-rate", type=float, default=10, help="people started per second")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers (the Dockerfile's 3)")
    parser.add_argument("--open-tasks", type=int, default=50_000, help="open phone tasks kept for the queue")
    args = parser.parse_args()
    user_counts = [int(part) for part in args.users.split(",") if part.strip()]
    if shutil.which("locust", path=str(Path(sys.executable).parent)) is None:
        raise SystemExit("locust is not installed: .venv/bin/pip install -r bench/requirements.txt")

    root = Path(tempfile.mkdtemp(prefix="crm-load-"))
    env = production_env(args.database, root)
    os.environ.update(env)
    sys.path[:0] = [str(BASE_DIR), str(BASE_DIR / "bench")]
    process = None
    try:
        collected = subprocess.run(
            [sys.executable, *dockerfile_collectstatic()], cwd=BASE_DIR, env=env, capture_output=True, text=True
        )
        if collected.returncode != 0:
            raise SystemExit(f"collectstatic failed: {collected.stderr[-3000:]}")
        setup = prepare(accounts=max(user_counts), open_tasks=args.open_tasks)
        users_file = root / "users.json"
        users_file.write_text(json.dumps(setup))
        env["LOAD_USERS_FILE"] = str(users_file)
        port = free_port()
        process = start_gunicorn(env, port, args.workers)
        say(
            f"database {args.database}, gunicorn {args.workers} workers on 127.0.0.1:{port}, "
            f"follow-up reports {setup['report_month']['start']} .. {setup['report_month']['end']}, "
            f"load average before: {os.getloadavg()[0]:.1f}"
        )
        for users in user_counts:
            prepare(accounts=max(user_counts), open_tasks=args.open_tasks)  # the queue full again
            started_load = os.getloadavg()[0]
            rows = run_locust(
                env=env, port=port, users=users, run_time=args.run_time, spawn_rate=args.spawn_rate,
                prefix=root / f"run{users}",
            )  # fmt: skip
            print_table(rows, users=users, run_time=args.run_time)
            say(f"load average at start / end: {started_load:.1f} / {os.getloadavg()[0]:.1f}")
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
