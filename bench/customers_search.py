#!/usr/bin/env python
# ruff: noqa: T201, E501 - a benchmark prints its figures; its SQL reads best unwrapped
"""Search and segment-count benchmark on 1,000,000 customers (issue 3): p50 / p95 over repeated
queries as a store manager of a 3-store group would run them (search page: count + first page).

    .venv/bin/python bench/customers_search.py [--customers 1000000] [--repeat 30]

Data is made with SQL generate_series directly in a separate database (``--database``, default
crm_bench_search; dropped and re-created, never a test database): customers with real pinyin keys
(one in 10,000 a top-secret card), 1.2 vehicles each, one settled repair order per vehicle spread
over 3 years; then the real ``customer_stats_refresh`` builds the segment facts, as after an import
(its time is printed). Segment cases time the live count the segment form shows, and the first
page of the segment's list (count + 25 rows).
"""

import argparse
import datetime
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TODAY = datetime.date(2026, 11, 22)
sys.path.insert(0, str(ROOT))


def psql(sql: str, database: str = "postgres") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", database, "-qAtc", sql], check=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database", default="crm_bench_search")
    parser.add_argument("--reuse", action="store_true", help="keep an existing database (no reload)")
    parser.add_argument("--load-only", action="store_true", help="load the data and stop")
    parser.add_argument("--skip-refresh", action="store_true", help="with --reuse: keep the segment facts")
    args = parser.parse_args()
    DATABASE = args.database
    os.environ.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
                      REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/11"),
                      DJANGO_SETTINGS_MODULE="config.settings.test")  # fmt: skip
    if not args.reuse:
        psql(f"DROP DATABASE IF EXISTS {DATABASE}")
        psql(f"CREATE DATABASE {DATABASE}")
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)

    import django

    django.setup()
    from django.contrib.auth.models import Group
    from django.db import connection

    from crm.models import Store, User
    from customers.pinyin import name_search_keys

    stores = [Store.objects.get_or_create(code=code, defaults={"name": code})[0] for code in ("NJ01", "NJ02", "NJ03")]
    if not args.reuse:
        surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
        given = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国文辉玲红志鹏飞宇浩然欣怡子轩梓涵一诺雨泽俊杰思远晨曦佳琪"
        names = [s + g for s in surnames for g in given] + [
            s + g + h for s in surnames[:40] for g in given[:25] for h in given[25:50]
        ]
        started = time.monotonic()
        with connection.cursor() as cursor:
            cursor.execute("CREATE TEMP TABLE bench_names (idx int, name text, pinyin text, initials text)")
            cursor.executemany("INSERT INTO bench_names VALUES (%s, %s, %s, %s)",
                               [(i, n, *name_search_keys(n)) for i, n in enumerate(names)])  # fmt: skip
            ids = [store.pk for store in stores]
            cursor.execute(f"""
                INSERT INTO customers_customer (customer_no, store_id, name, name_pinyin, name_initials, gender, birthday,
                    mobile, landline, email, employer, job_title, province, city, district, address, source, income_band,
                    interests, preferred_channel, preferred_contact_time, member_card_no, member_tier, confidentiality,
                    is_key_customer, do_not_call, do_not_call_source, sms_opt_out, sms_opt_out_source, is_provisional, created_at,
                    updated_at)
                SELECT 'C' || lpad(g::text, 8, '0'), (ARRAY{ids})[1 + g % 3], n.name, n.pinyin, n.initials,
                       CASE WHEN g % 2 = 0 THEN 'M' ELSE 'F' END, date '1955-01-01' + (g * 37 % 17000),
                       '1' || (3 + g % 7) || lpad(((g::bigint * 7919) % 1000000000)::text, 9, '0'), '', '', '', '',
                       '江苏省', '南京市', (ARRAY['江宁区','玄武区','秦淮区','建邺区','鼓楼区','浦口区','栖霞区','雨花台区'])[1 + g % 8],
                       '', (ARRAY['展厅','电话','网络','转介绍','车展','老客户'])[1 + g % 6], '', '', '', '', '',
                       (ARRAY['','','普通','银卡','金卡','钻石'])[1 + g % 6],
                       CASE WHEN g % 10000 = 0 THEN 'top_secret' ELSE 'normal' END, false, false, '', false, '', false, now(),
                       now()
                FROM generate_series(1, {args.customers}) g JOIN bench_names n ON n.idx = g % {len(names)}
            """)  # fmt: skip
            cursor.execute(f"""
                INSERT INTO customers_vehicle (vin, customer_id, store_id, plate_no, brand, series, model, color,
                    delivery_date, sales_consultant, insurer, status, status_source, created_at, updated_at)
                SELECT 'LGBH52E0' || lpad(g::text, 9, '0'), c.id, c.store_id, '苏A' || upper(lpad(to_hex(g), 5, '0')),
                       (ARRAY['东风日产','北京现代'])[1 + g % 2], (ARRAY['轩逸','骐达','逍客','奇骏','天籁'])[1 + g % 5],
                       '1.6L', '白', date '2020-01-01' + (g % 2500), '', '', 'active', '', now(), now()
                FROM generate_series(1, {int(args.customers * 1.2)}) g
                JOIN customers_customer c ON c.customer_no = 'C' || lpad((1 + (g - 1) % {args.customers})::text, 8, '0')
            """)  # fmt: skip
            cursor.execute(f"""
                INSERT INTO customers_repairorder (ro_no, vehicle_id, store_id, open_date, settle_date, repair_type,
                    service_advisor, total_amount, created_at, updated_at)
                SELECT 'RO' || lpad(g::text, 9, '0'), v.id, v.store_id, d, d, '', '', (g * 31 % 9000), now(), now()
                FROM generate_series(1, {int(args.customers * 1.2)}) g
                JOIN customers_vehicle v ON v.vin = 'LGBH52E0' || lpad(g::text, 9, '0')
                CROSS JOIN LATERAL (SELECT date '2026-11-22' - (g * 13 % 1100)::int AS d) settled
            """)  # fmt: skip
            cursor.execute("VACUUM ANALYZE customers_customer")
            cursor.execute("VACUUM ANALYZE customers_vehicle")
            cursor.execute("VACUUM ANALYZE customers_repairorder")
        print(f"loaded {args.customers} customers in {time.monotonic() - started:.0f}s")
    if args.load_only:
        return
    if not (args.reuse and args.skip_refresh):
        from customers.facts import customer_stats_refresh

        started = time.monotonic()
        written = customer_stats_refresh(today=TODAY)
        print(f"customer_stats_refresh: {written} rows written in {time.monotonic() - started:.1f}s")
        started = time.monotonic()
        written = customer_stats_refresh(today=TODAY)
        print(f"customer_stats_refresh again (nothing changed): {written} rows in {time.monotonic() - started:.1f}s")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE customers_customerstats")

    manager, _created = User.objects.get_or_create(username="bench_manager")
    manager.groups.set([Group.objects.get(name="manager")])
    manager.stores.set(stores)
    manager = User.objects.get(pk=manager.pk)

    from django.core.paginator import Paginator

    from customers.models import Segment
    from customers.segments import segment_count_for_user, segment_customers_for_user
    from customers.selectors import customer_list_for_user, phone_query_parse

    def search(query):
        page = Paginator(
            customer_list_for_user(user=manager, search=query, phone=phone_query_parse(query)), 25
        ).get_page(1)
        return page.paginator.count, len(list(page.object_list))

    def segment_count(definition):
        return segment_count_for_user(user=manager, segment=Segment(definition=definition), today=TODAY)

    def segment_page(definition):
        """The segment's list page: its count and the first 25 cards by customer number."""
        segment = Segment(definition=definition)
        customers = segment_customers_for_user(user=manager, segment=segment, today=TODAY).select_related("store")
        paginator = Paginator(customers.order_by("customer_no"), 25)
        paginator.count = segment_count_for_user(user=manager, segment=segment, today=TODAY)
        page = paginator.get_page(1)
        return paginator.count, len(list(page.object_list))

    cases = [
        ("search initials 'zw'", lambda: search("zw")),
        ("search pinyin 'zhangwei'", lambda: search("zhangwei")),
        ("search name '张伟'", lambda: search("张伟")),
        ("search name part '王子轩'", lambda: search("王子轩")),
        ("search mobile part '8791'", lambda: search("8791")),
        ("search full mobile", lambda: search("139 0000 7919")),
        ("search plate", lambda: search("苏A0F423")),
        ("search VIN last 6", lambda: search("123456")),
        ("search customer_no", lambda: search("C00123456")),
        ("segment dormant men", lambda: segment_count({"genders": ["M"], "activity": ["dormant"]})),
        ("segment top value 金卡", lambda: segment_count({"value": ["top"], "member_tiers": ["金卡"]})),
        ("segment lost, 江宁区", lambda: segment_count({"activity": ["lost"], "districts": ["江宁区"]})),
        ("segment replacement window", lambda: segment_count({"lifecycle": ["replacement"]})),
        ("segment brand 北京现代 + active", lambda: segment_count({"brands": ["北京现代"], "activity": ["active"]})),
        (
            "segment new, women, 玄武区",
            lambda: segment_count({"lifecycle": ["new"], "genders": ["F"], "districts": ["玄武区"]}),
        ),
        ("segment 30–39 in warranty", lambda: segment_count({"age_bands": ["30_39"], "lifecycle": ["in_warranty"]})),
        ("segment everyone (no filter)", lambda: segment_count({})),
        ("segment women (half the base)", lambda: segment_count({"genders": ["F"]})),
        ("segment page: dormant men", lambda: segment_page({"genders": ["M"], "activity": ["dormant"]})),
        ("segment page: replacement window", lambda: segment_page({"lifecycle": ["replacement"]})),
    ]
    print(f"{'case':34} {'result':>16} {'p50 ms':>8} {'p95 ms':>8}")
    for name, run in cases:
        run()
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            result = run()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        print(f"{name:34} {result!s:>16} {statistics.median(times):8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
