"""What one request of the call-centre claim cycle costs (issue 16), request kind by request kind.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm_bench_claim \
        .venv/bin/python bench/claim_cycle.py --cycles 200 [--profile] [--code /path/to/other/checkout]

One agent, in this process, works the queue exactly as ``AgentUser`` of ``bench/load/locustfile.py``
does: it logs in on the log-in page, then "next call" (POST /followups/queue/next/), then "save and
next call" (POST …/outcome/, reached) again and again, each sent from the queue page
(``HX-Current-URL``); after every response whose ``HX-Trigger`` holds ``queue-changed`` (the code
before the figures and list came with the panel) it asks for what the queue page then asks for
(GET /followups/queue/ with ``HX-Target: queue-figures``). Every request goes through the whole
middleware stack (Django's test client, CSRF checks on, ``X-Forwarded-Proto: https``), with
``config.settings.test`` (DEBUG off, cached templates; only the password hasher is faster). Per
request kind it prints:

- wall ms p50 / p95 of the request in this process;
- CPU ms of this process (``time.process_time``): Django's own work, the "gunicorn" share;
- SQL ms: the sum of the statements' durations as Python sees them (``connection.execute_wrapper``:
  PostgreSQL's work plus the round trips), and the number of statements;
- PostgreSQL CPU ms: the CPU the agent's database backend process used (``/proc/<pid>/stat``; the
  kernel counts it in ticks of 10 ms, so this is a mean over many requests, not a per-request figure).

``--plans`` prints how PostgreSQL planned each of the agent's prepared statements (for its values
every time, or once for any values). ``--profile`` adds a cProfile list of the functions where the
process's time went (a second set of cycles, so the profiler's overhead is not in the figures
above). ``--code DIR`` runs the code of another checkout (e.g. a worktree at main) with this
script: the same data and harness, before and after. The database needs open phone tasks due
today (``bench/followups_bench.py --load …``); the script makes its agent (``claim_bench_agent``,
call agent of the first store) if it is missing, and ``--top-up`` adds open tasks for that store
when fewer than needed are left.
"""

import argparse
import cProfile
import io
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

OUTCOME_ACTION = re.compile(r'action="/followups/queue/call/(\d+)/outcome/"')
USERNAME = "claim_bench_agent"
PASSWORD = "claim-bench-pw-123"
PROJECT_CODE = r"^(?!.*site-packages)(?!.*python3\.\d+/)(?!.*claim_cycle).*\.py"
KINDS = ("claim", "outcome + next", "refresh")


def pg_backend_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) PostgreSQL's backend ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Timings:
    """Per request kind: wall, process CPU, SQL time and statements, PostgreSQL backend CPU."""

    def __init__(self):
        self.rows = {kind: {"wall": [], "cpu": [], "sql": [], "queries": [], "pg_cpu": 0.0} for kind in KINDS}
        self.sql_seconds = 0.0
        self.queries = 0
        self.kind = ""
        self.statements: dict[tuple[str, str], list[float]] = {}

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - started
            self.sql_seconds += elapsed
            self.queries += 1
            self.statements.setdefault((self.kind, " ".join(sql.split())[:150]), []).append(elapsed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=200, help="'save and next call' cycles measured")
    parser.add_argument("--warm-up", type=int, default=10, help="cycles run first and not counted")
    parser.add_argument("--profile", action="store_true", help="then profile as many cycles again")
    parser.add_argument("--code", default="", help="the checkout whose code runs (default: this script's own)")
    parser.add_argument("--top-up", action="store_true", help="add open tasks to the agent's store if too few")
    parser.add_argument("--statements", action="store_true", help="print each statement's mean time")
    parser.add_argument("--plans", action="store_true", help="print how PostgreSQL planned each prepared statement")
    parser.add_argument("--label", default="", help="a name for this run in the printed table")
    args = parser.parse_args()
    code = Path(args.code or Path(__file__).resolve().parent.parent).resolve()
    sys.path.insert(0, str(code))
    os.chdir(code)
    os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_claim")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/3")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["SECURE_PROXY_SSL_HEADER"] = "1"
    # As gunicorn's workers plan the cycle's statements: no parallel workers (config/settings/base.py).
    os.environ.setdefault("DB_PARALLEL_WORKERS_PER_QUERY", "0")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test import Client

    if "bench" not in connection.settings_dict["NAME"]:
        sys.exit("Refusing to run: DATABASE_URL must name a benchmark database (…bench…).")
    store_id = agent_ensure()
    open_left = open_tasks(store_id)
    needed = (args.warm_up + args.cycles) * (2 if args.profile else 1) + 5
    if open_left < needed:
        if not args.top_up:
            sys.exit(f"Only {open_left} open tasks left in the agent's store ({needed} needed): use --top-up.")
        tasks_top_up(store_id, needed - open_left)
    connection.close()

    client = Client(enforce_csrf_checks=True, HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="10.16.0.1")
    client.get("/accounts/login/", secure=True)
    response = client.post(
        "/accounts/login/", {"username": USERNAME, "password": PASSWORD}, secure=True, **csrf(client)
    )
    if response.status_code != 302:
        sys.exit(f"The log-in was refused (HTTP {response.status_code}).")

    timings = Timings()
    state = {"customer_id": None}
    for _index in range(args.warm_up):
        cycle(client, state, None)
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid  # the test client keeps its connection open
    with connection.execute_wrapper(timings):
        for _index in range(args.cycles):
            cycle(client, state, timings, backend)
    print(  # noqa: T201
        f"\n{args.label or code} — {args.cycles} cycles after {args.warm_up} to warm up, {open_left:,} open tasks "
        f"in the agent's store; templates {'cached' if not settings.DEBUG else 'not cached'}; "
        f"load average {os.getloadavg()[0]:.1f}\n"
    )
    report(timings)
    if args.statements:
        print("\n| request | statement | per request | mean ms |")  # noqa: T201
        print("|---|---|---|---|")  # noqa: T201
        for (kind, sql), times in timings.statements.items():
            count = len(timings.rows[kind]["wall"])
            print(f"| {kind} | `{sql}` | {len(times) / count:.2f} | {statistics.mean(times) * 1000:.2f} |")  # noqa: T201
    if args.plans:
        print_plans(connection)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _index in range(args.cycles):
            cycle(client, state, None)
        profiler.disable()
        for order, restriction in (("tottime", ()), ("cumulative", ()), ("cumulative", (PROJECT_CODE,))):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats(order).print_stats(
                *restriction, int(os.environ.get("PROFILE_LINES", "40"))
            )
            title = f"by {order}" + (", the project's functions" if restriction else "")
            print(f"\ncProfile of {args.cycles} cycles, {title}:\n{trim(text.getvalue(), code)}")  # noqa: T201


def print_plans(connection) -> None:
    """The agent's connection's prepared statements: how often PostgreSQL planned each for its values
    (custom) and ran its plan for any values (generic). A statement planned afresh on every run pays
    its planning each time: with the default ``plan_cache_mode`` PostgreSQL keeps a generic plan
    only when it costs no more than the custom ones, and a partial index whose condition is a
    parameter, not text, is out of a generic plan's reach."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, generic_plans, custom_plans, statement FROM pg_prepared_statements ORDER BY name")
        rows = cursor.fetchall()
    print("\n| statement | generic plans | custom plans | text |")  # noqa: T201
    print("|---|---|---|---|")  # noqa: T201
    for name, generic, custom, text in rows:
        text = " ".join(text.split(" AS ", 1)[-1].split())[:110]
        print(f"| {name} | {generic} | {custom} | `{text}` |")  # noqa: T201


def csrf(client) -> dict:
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value, "HTTP_ORIGIN": "https://testserver"}


def measured(timings, kind: str, backend: int, request):
    """Run ``request()`` and add its figures to ``kind``."""
    if timings is None:
        return request()
    sql_before, queries_before = timings.sql_seconds, timings.queries
    timings.kind = kind
    pg_before = pg_backend_cpu_seconds(backend)
    wall, cpu = time.perf_counter(), time.process_time()
    response = request()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    row = timings.rows[kind]
    row["wall"].append(wall)
    row["cpu"].append(cpu)
    row["sql"].append(timings.sql_seconds - sql_before)
    row["queries"].append(timings.queries - queries_before)
    row["pg_cpu"] += pg_backend_cpu_seconds(backend) - pg_before
    return response


def cycle(client, state: dict, timings, backend: int = 0) -> None:
    """One turn of AgentUser.work_the_queue: claim (or save and next), then the refresh it triggers."""
    htmx = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "https://testserver/followups/queue/", **csrf(client)}
    if state["customer_id"] is None:
        response = measured(timings, "claim", backend,
                            lambda: client.post("/followups/queue/next/", secure=True, **htmx))  # fmt: skip
    else:
        path = f"/followups/queue/call/{state['customer_id']}/outcome/"
        data = {"outcome": "reached", "notes": ""}
        response = measured(timings, "outcome + next", backend,
                            lambda: client.post(path, data, secure=True, **htmx))  # fmt: skip
    if response.status_code != 200:
        sys.exit(f"HTTP {response.status_code} {response.get('Location', '')}")
    found = OUTCOME_ACTION.search(response.content.decode())
    state["customer_id"] = int(found.group(1)) if found else None
    if found is None:
        sys.exit("The queue is empty: --top-up, or a bigger data set.")
    if "queue-changed" in response.get("HX-Trigger", ""):
        refreshed = measured(timings, "refresh", backend, lambda: client.get(
            "/followups/queue/", secure=True, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="queue-figures"))  # fmt: skip
        if refreshed.status_code != 200:
            sys.exit(f"refresh: HTTP {refreshed.status_code}")


def report(timings: Timings) -> None:
    def ms(values, share=0.5) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, max(0, round(len(values) * share) - 1))] * 1000

    print("| request | n | wall p50 ms | wall p95 ms | Django CPU ms (mean) | SQL ms (mean) | queries "  # noqa: T201
          "| PostgreSQL CPU ms (mean) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")  # noqa: T201
    cycle_cpu = cycle_pg = 0.0
    cycles = len(timings.rows["outcome + next"]["wall"]) or 1
    for kind, row in timings.rows.items():
        if not row["wall"]:
            continue
        count = len(row["wall"])
        cpu, pg = statistics.mean(row["cpu"]) * 1000, row["pg_cpu"] * 1000 / count
        queries = sorted(set(row["queries"]))
        queries = "–".join(map(str, queries[:: max(1, len(queries) - 1)]))  # the fewest and the most
        print(f"| {kind} | {count} | {ms(row['wall']):.1f} | {ms(row['wall'], 0.95):.1f} | {cpu:.1f} "  # noqa: T201
              f"| {statistics.mean(row['sql']) * 1000:.1f} | {queries} | {pg:.1f} |")  # fmt: skip
        if kind != "claim":
            cycle_cpu += sum(row["cpu"]) * 1000 / cycles
            cycle_pg += row["pg_cpu"] * 1000 / cycles
    print(  # noqa: T201
        f"\nOne cycle (save and next + its refresh): {cycle_cpu:.1f} ms of Django CPU + {cycle_pg:.1f} ms of "
        f"PostgreSQL CPU = {cycle_cpu + cycle_pg:.1f} ms (the load client's own share not included)."
    )


def trim(text: str, code: Path) -> str:
    """The profile's lines with shorter paths."""
    return text.replace(str(code) + "/", "").replace(sys.prefix + "/lib/", "")


def agent_ensure() -> int:
    """The bench agent (call agent of the first active store, password PASSWORD); returns its store."""
    from django.contrib.auth.models import Group

    from crm.models import Store, User

    store = Store.objects.filter(is_active=True).order_by("pk").first()
    if store is None:
        sys.exit("The database has no store: build it first (bench/followups_bench.py --load …).")
    user, _created = User.objects.update_or_create(username=USERNAME, defaults={"is_active": True})
    user.set_password(PASSWORD)
    user.save()
    user.groups.set([Group.objects.get(name="call_agent")])
    user.stores.set([store])
    return store.pk


def open_tasks(store_id: int) -> int:
    from django.db import connection
    from django.utils import timezone

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM followups_followuptask WHERE store_id = %s AND status = 'open' "
            "AND channel = 'phone' AND work_date <= %s AND assignee_id IS NULL",
            [store_id, timezone.localdate()],
        )
        return cursor.fetchone()[0]


def tasks_top_up(store_id: int, count: int) -> None:
    """Open phone tasks due today for customers of the store without one (as bench/load_bench.py)."""
    from benchdb import filler_columns
    from django.db import connection
    from django.utils import timezone

    from followups.models import FollowupRule
    from followups.services import followup_rules_ensure_defaults

    followup_rules_ensure_defaults()
    rule = FollowupRule.objects.get(store_id=store_id, code="delivery_thanks")
    names, values = filler_columns("followups_followuptask", {
        "rule_id": str(rule.pk), "code": "'delivery_thanks'", "store_id": "cu.store_id", "customer_id": "cu.id",
        "unit_id": "cu.id", "rule_date": "%(today)s", "queue_date": "%(today)s", "work_date": "%(today)s",
        "channel": "'phone'", "priority": "1 + cu.id %% 9", "status": "'open'", "created_at": "now()",
    })  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO followups_followuptask ({names})
            SELECT {values} FROM customers_customer cu
            WHERE cu.store_id = %(store)s AND cu.do_not_call = false AND cu.confidentiality = 'normal'
              AND NOT EXISTS (SELECT 1 FROM followups_followuptask t
                              WHERE t.customer_id = cu.id AND t.rule_date = %(today)s)
            ORDER BY cu.id LIMIT %(count)s
            ON CONFLICT DO NOTHING
            """,
            {"store": store_id, "today": timezone.localdate(), "count": count},
        )
        cursor.execute("ANALYZE followups_followuptask")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchdb
    main()
