#!/usr/bin/env python
# ruff: noqa: T201, E501 - a benchmark prints its figures; its SQL reads best unwrapped
"""DMS import benchmark (issue 3): generate ~100k customers / 120k vehicles / 540k repair orders with
`manage.py dms_sample --mess` (whose few planted bad rows the import rejects), time a plain PostgreSQL COPY of the same three files, then `import_dms` of the three files
(first import and re-import) in a fresh database, with the command's own peak memory. The three
files go to ONE `import_dms` process (``import_dms customers C vehicles V repair_orders R``; with
``--process-per-file`` one process each, as before issue 16). The segment-facts refresh each file
queues (a Celery task in production) is queued here too (bench/import_settings.py) and then run by
this script, as a worker would, and timed apart: the import's figure is what the admin waits for,
the refresh's what the worker does after it. Right after the first import, the floor:
the same rows, already clean, written into the CRM's tables the fastest way PostgreSQL allows (a
plain INSERT into the tables without their secondary indexes and foreign keys, which are then built
and checked once), so that the import's own cost can be told from the cost of the schema.

    .venv/bin/python bench/customers_import.py [--customers 100000] [--runs 1] [--keep] [--database NAME]

Uses the database crm_bench_customers or ``--database`` (dropped and re-created; never a test
database; a second checkout measured at the same time needs its own) and bench/data/ (git-ignored;
removed at the end unless --keep).
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "dms_import"
DATABASE = "crm_bench_customers"  # --database replaces it
KINDS = ("customers", "vehicles", "repair_orders")

FLOOR = """
import time
from django.db import connection, transaction
from crm.bulk import bulk_load
tables = ["customers_customer", "customers_historicalcustomer", "customers_vehicle", "customers_historicalvehicle",
          "customers_repairorder"]
with transaction.atomic(), connection.cursor() as cursor:
    for table in tables:
        cursor.execute(f"CREATE TEMP TABLE copy_{table} AS SELECT * FROM {table}")
    cursor.execute("TRUNCATE " + ", ".join(tables) + " CASCADE")
    started = time.monotonic()
    for table in tables:
        with bulk_load(cursor, table, new_rows=10**9):
            cursor.execute(f"INSERT INTO {table} SELECT * FROM copy_{table}")
    print(f"{time.monotonic() - started:.2f}")
    transaction.set_rollback(True)
"""


PROCESS_PER_FILE = False  # --process-per-file


def set_database(name: str, *, process_per_file: bool = False) -> None:
    global DATABASE, PROCESS_PER_FILE  # settings of a one-shot script, read by every step
    DATABASE = name
    PROCESS_PER_FILE = process_per_file


def psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAtc", sql],
                          check=True, capture_output=True, text=True).stdout  # fmt: skip


def run_measured(command: list[str], env: dict) -> tuple[float, int, str, str, float]:
    """Run a command; its wall time, its own peak memory (MB), its output and its own CPU time (user
    + system: on a shared machine less disturbed by the other work than the wall time)."""
    out_path, err_path = DATA.parent / "stdout.txt", DATA.parent / "stderr.txt"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out_path.read_text(), err_path.read_text()
    if process.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{stderr}")
    return seconds, usage.ru_maxrss // 1024, stdout, stderr, usage.ru_utime + usage.ru_stime


# The tasks the import queued, run as a Celery worker runs them (one after another), each timed.
RUN_QUEUED = """
import time
from config.celery import app
app.loader.import_default_modules()
ran = []
with app.connection_for_read() as connection:
    queue = connection.SimpleQueue(app.conf.task_default_queue)
    while True:
        try:
            message = queue.get(block=False)
        except queue.Empty:
            break
        name = message.headers["task"]
        args, kwargs, _embed = message.decode()
        started = time.monotonic()
        if PURGE:
            ran.append((name, 0.0))
        else:
            app.tasks[name].apply(args=args, kwargs=kwargs, throw=True)
            ran.append((name, time.monotonic() - started))
        message.ack()
    queue.close()
print(sum(seconds for _name, seconds in ran), len(ran), " ".join(f"{name.rsplit('.', 1)[-1]}={seconds:.2f}s" for name, seconds in ran))
"""


def run_queued(env: dict, *, purge: bool = False) -> tuple[float, int, str]:
    """Run (or with ``purge`` drop) the tasks waiting in the broker: (seconds, count, detail)."""
    script = f"PURGE = {purge}\n{RUN_QUEUED}"
    out = subprocess.run([sys.executable, "manage.py", "shell", "-c", script], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()[-1]  # fmt: skip
    seconds, count, *detail = out.split(" ")
    return float(seconds), int(count), " ".join(detail)


def import_files(env: dict, run: str, result: dict) -> None:
    """``import_dms`` of the three files, one process (or one each with --process-per-file)."""
    files = [[kind, str(DATA / f"{kind}.csv")] for kind in KINDS]
    commands = [[arg for pair in files for arg in pair]] if not PROCESS_PER_FILE else files
    total = cpu_total = work_total = 0.0
    for arguments in commands:
        seconds, peak, stdout, stderr, cpu = run_measured(
            [sys.executable, "manage.py", "import_dms", *arguments, "--no-progress", "-v2"], env
        )
        total += seconds
        cpu_total += cpu
        result["peak"] = max(result["peak"], peak)
        summaries = [line for line in stdout.strip().splitlines() if line.startswith("created=")]
        details = [line for line in stderr.splitlines() if line.startswith("batch #")]
        work = [
            float(line.split("=")[1].rstrip("s")) for line in stderr.splitlines() if line.startswith("import_dms work=")
        ]
        work_total += work[-1]
        print(f"{run:5} {' '.join(arguments[::2]):36} {seconds:6.2f}s cpu {cpu:5.2f}s peak {peak:3d} MB "
              f"(its work {work[-1]:.2f}s, the rest the process's start-up)")  # fmt: skip
        for kind, summary, detail in zip(arguments[::2], summaries, details, strict=True):
            print(f"      {kind:13} {summary}  [{detail}]")
    result[run] = total
    result[f"{run} cpu"] = cpu_total
    result[f"{run} work"] = work_total
    refresh, count, detail = run_queued(env)
    result[f"{run} refresh"] = refresh
    print(f"      queued tasks run after the import ({count}): {refresh:.2f}s  {detail}")


def one_run(env: dict) -> dict:
    psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    psql(f"CREATE DATABASE {DATABASE}")
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "-c", "import django; django.setup(); from crm.models import Store; "
                    "[Store.objects.get_or_create(code=code, defaults={'name': code}) for code in ('NJ01','NJ02','NJ03')]"],
                   cwd=ROOT, env=env, check=True)  # fmt: skip

    # Plain COPY of the three files into text tables (the reference the import is held to).
    copy_seconds = 0.0
    for kind in KINDS:
        path = DATA / f"{kind}.csv"
        with open(path, encoding="utf-8-sig") as handle:
            columns = handle.readline().strip().split(",")
        column_sql = ", ".join(f'"{column}" text' for column in columns)
        psql(f"DROP TABLE IF EXISTS copy_{kind}; CREATE TABLE copy_{kind} ({column_sql})", DATABASE)
        started = time.monotonic()
        psql(f"\\copy copy_{kind} FROM '{path}' WITH (FORMAT csv, HEADER true, ENCODING 'UTF8')", DATABASE)
        copy_seconds += time.monotonic() - started
    psql("DROP TABLE copy_customers, copy_vehicles, copy_repair_orders", DATABASE)

    result = {"copy": copy_seconds, "peak": 0}
    run_queued(env, purge=True)  # nothing left over from an earlier run
    print(f"      (load average {os.getloadavg()[0]:.2f}; sum(range(10**8)) {calibrate():.2f}s)")
    import_files(env, "first", result)
    counts = psql("SELECT (SELECT count(*) FROM customers_customer), (SELECT count(*) FROM customers_vehicle), "
                  "(SELECT count(*) FROM customers_repairorder)", DATABASE).strip()  # fmt: skip
    print(f"rows in the CRM (customers|vehicles|repair orders): {counts}")
    # The floor right after the first import (it rolls back what it writes), so that on a shared
    # machine both see about the same moment; the calibration before it tells how far they did not.
    print(f"      (load average {os.getloadavg()[0]:.2f}; sum(range(10**8)) {calibrate():.2f}s)")
    floor = subprocess.run([sys.executable, "manage.py", "shell", "-c", FLOOR], cwd=ROOT, env=env, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]  # fmt: skip
    result["floor"] = float(floor)
    print(f"floor   {result['floor']:6.2f}s")
    import_files(env, "again", result)
    return result


def calibrate() -> float:
    """The same pure-Python work each time: how fast this (shared, virtual) machine is right now."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "sum(range(10**8))"], check=True)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--database", default=DATABASE)
    parser.add_argument("--process-per-file", action="store_true", help="one import_dms process per file")
    args = parser.parse_args()
    if "bench" not in args.database:
        sys.exit("Refusing to run: --database must name a benchmark database (…bench…).")
    set_database(args.database, process_per_file=args.process_per_file)

    env = dict(os.environ, DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
               REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11"),
               DJANGO_SETTINGS_MODULE="bench.import_settings")  # fmt: skip
    if not (DATA / "repair_orders.csv").exists():
        # The project's own sample export (docs/dms-import.md), UTF-8 for the plain COPY it is held to.
        subprocess.run([sys.executable, "manage.py", "dms_sample", str(DATA.relative_to(ROOT)), "--customers",
                        str(args.customers), "--mess", "--encoding", "utf-8-sig", "--stores", "NJ01,NJ02,NJ03",
                        "--today", "2026-11-22"], cwd=ROOT, env=env, check=True)  # fmt: skip
    for number in range(1, args.runs + 1):
        calibration = calibrate()
        print(f"--- run {number} (load average {os.getloadavg()[0]:.2f}; sum(range(10**8)) took {calibration:.2f}s)")
        result = one_run(env)
        copy = result["copy"]
        print(f"plain COPY of the three files: {copy:.2f}s")
        print(f"import_dms, first import: {result['first']:.2f}s ({result['first'] / copy:.1f}x COPY), "
              f"CPU of the import processes {result['first cpu']:.2f}s")  # fmt: skip
        print(f"  then the segment-facts refresh it queued: {result['first refresh']:.2f}s (run apart, as a worker)")
        print(f"import_dms, re-import:    {result['again']:.2f}s ({result['again'] / result['first']:.2f} of the first), "
              f"CPU of the import processes {result['again cpu']:.2f}s")  # fmt: skip
        print(f"  then the tasks it queued: {result['again refresh']:.2f}s")
        print(f"peak memory of one import_dms process: {result['peak']} MB")
        print(f"floor (the clean rows written into the CRM's tables, indexes built after): {result['floor']:.2f}s "
              f"({result['floor'] / copy:.1f}x COPY)")  # fmt: skip
        print(
            f"first import / floor: {result['first'] / result['floor']:.2f}; "
            f"(first import + refresh) / floor: {(result['first'] + result['first refresh']) / result['floor']:.2f}"
        )
        # Like for like: the floor is timed inside its process (from its first INSERT), so the
        # import's own time, inside its process, without the start-up a running worker never pays.
        print(f"first import's work (without the process's start-up) / floor: "
              f"{result['first work'] / result['floor']:.2f} ({result['first work']:.2f}s)")  # fmt: skip
    psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    if not args.keep:
        for path in DATA.parent.glob("std*.txt"):
            path.unlink()
        for path in DATA.glob("*"):
            path.unlink()
        DATA.rmdir()


if __name__ == "__main__":
    main()
