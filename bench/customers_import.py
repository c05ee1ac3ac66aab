#!/usr/bin/env python
# ruff: noqa: T201, E501 - a benchmark prints its figures; its SQL reads best unwrapped
"""DMS import benchmark (issue 3): generate ~100k customers / 120k vehicles / 540k repair orders with
--mess, time a plain PostgreSQL COPY of the same three files, then `import_dms` of each file (first
import and re-import) in a fresh database, with each command's peak memory.

    .venv/bin/python bench/customers_import.py [--customers 100000] [--keep]

Uses the database crm_bench_customers (dropped and re-created; never a test database) and
bench/data/ (git-ignored; removed at the end unless --keep).
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "dms_import"
DATABASE = "crm_bench_customers"
KINDS = ("customers", "vehicles", "repair_orders")


def psql(sql: str, database: str = "postgres") -> str:
    return subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAtc", sql],
                          check=True, capture_output=True, text=True).stdout  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=100000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    env = dict(os.environ, DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
               REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11"),
               DJANGO_SETTINGS_MODULE="config.settings.test", CELERY_TASK_ALWAYS_EAGER="0")  # fmt: skip
    if not (DATA / "repair_orders.csv").exists():
        subprocess.run([sys.executable, "/work/shared/dms/generate.py", str(DATA), "--customers", str(args.customers),
                        "--mess", "--today", "2026-11-22"], check=True)  # fmt: skip
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

    results = {}
    for run in ("first", "again"):
        total = 0.0
        for kind in KINDS:
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            started = time.monotonic()
            completed = subprocess.run(
                ["/usr/bin/env", sys.executable, "manage.py", "import_dms", kind, str(DATA / f"{kind}.csv"),
                 "--no-progress", "-v2"],
                cwd=ROOT, env=env, check=True, capture_output=True, text=True,
            )  # fmt: skip
            seconds = time.monotonic() - started
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            total += seconds
            summary = completed.stdout.strip().splitlines()[-1]
            detail = completed.stderr.strip().splitlines()[-1] if completed.stderr.strip() else ""
            print(f"{run:5} {kind:13} {seconds:6.2f}s peak≥{max(peak, before) / 1024:.0f}MB  {summary}  [{detail}]")
        results[run] = total
    counts = psql("SELECT (SELECT count(*) FROM customers_customer), (SELECT count(*) FROM customers_vehicle), "
                  "(SELECT count(*) FROM customers_repairorder)", DATABASE).strip()  # fmt: skip
    print(f"rows in the CRM (customers|vehicles|repair orders): {counts}")
    print(f"plain COPY of the three files: {copy_seconds:.2f}s")
    print(f"import_dms, first import: {results['first']:.2f}s ({results['first'] / copy_seconds:.1f}x COPY)")
    print(f"import_dms, re-import:    {results['again']:.2f}s ({results['again'] / results['first']:.2f} of the first)")
    print("peak memory: the largest ru_maxrss of the import_dms processes above (MB)")
    psql(f"DROP DATABASE IF EXISTS {DATABASE}")
    if not args.keep:
        shutil.rmtree(DATA, ignore_errors=True)


if __name__ == "__main__":
    main()
