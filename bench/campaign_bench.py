"""Benchmark of an SMS campaign to 100,000 recipients (issue 11, item 5). Run by hand, not in tests.

    DJANGO_SETTINGS_MODULE=config.settings.test .venv/bin/python bench/campaign_bench.py --load

--load (re)creates the database ``crm_bench_campaign``, migrates it and fills it with set-based SQL:
one store, 110,000 customers of 江宁区 with a mobile, 100,000 of them with marketing consent granted
(the other 10,000 have none recorded: a promotion does not reach them), and the segment facts.

It then prints time and query count of:
- the count of the recipients after the exclusions (the draft's page);
- the approval: recipients and the reproducible holdout (10 %) fixed, 90,000 messages queued;
- the same preparation again (nothing new);
- handing the messages to the gateway: the body of the one Celery task of the store
  (``send_store_sms`` → ``sms_send_batch``) with an in-memory gateway (no throttle), in the window.
Celery tasks: one ``send_store_sms`` per store per dispatch (every 10 minutes), never one per message.
"""

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
os.environ["DATABASE_URL"] = os.environ.get(
    "CAMPAIGN_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm_bench_campaign"
)

from club_bench import filler_columns, peak_mb, recreate_database, say
from django.core.management import call_command
from django.db import connection

CONSENTED = 100_000
WITHOUT_CONSENT = 10_000


def load() -> None:
    recreate_database()
    connection.close()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    total = CONSENTED + WITHOUT_CONSENT
    with connection.cursor() as cursor:
        names, values = filler_columns("crm_store", {
            "code": "'K01'", "name": "'江宁店'", "is_active": "true", "phone": "'025-52101234'",
            "sms_signature": "'江宁日产'", "morning_call_start": "'08:30'", "morning_call_end": "'12:00'",
            "afternoon_call_start": "'13:00'", "afternoon_call_end": "'19:00'",
        })  # fmt: skip
        cursor.execute(f"INSERT INTO crm_store ({names}) SELECT {values}")
        names, values = filler_columns("customers_customer", {
            "customer_no": "'K' || lpad(i::text, 8, '0')", "store_id": "(SELECT id FROM crm_store)",
            "name": "'客户' || i", "mobile": "'139' || lpad(i::text, 8, '0')", "confidentiality": "'normal'",
            "district": "'江宁区'", "gender": "'M'",
        })  # fmt: skip
        cursor.execute(f"INSERT INTO customers_customer ({names}) SELECT {values} FROM generate_series(1, {total}) i")
        names, values = filler_columns("customers_customerconsent", {
            "customer_id": "c.id", "purpose": "'marketing'", "is_granted": "true", "at": "now()", "source": "'desk'",
        })  # fmt: skip
        cursor.execute(
            f"INSERT INTO customers_customerconsent ({names}) SELECT {values} FROM customers_customer c "
            f"ORDER BY c.id LIMIT {CONSENTED}"
        )
    from customers.facts import customer_stats_refresh

    customer_stats_refresh()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    say(f"loaded {total:,} customers ({CONSENTED:,} with marketing consent) in {time.perf_counter() - started:.1f} s")


def timed(label: str, work) -> object:
    count = [0]

    def counter(execute, sql, params, many, context):
        count[0] += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = work()
        elapsed = time.perf_counter() - started
    say(f"{label}: {elapsed:.2f} s, {count[0]} queries, peak memory {peak_mb():.0f} MB → {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load", action="store_true", help="(re)create and fill the database first")
    options = parser.parse_args()
    if options.load:
        load()
    import logging
    import zoneinfo

    from django.contrib.auth.models import Group
    from django.db import transaction

    from crm.models import Store, User
    from customers.models import Segment
    from followups.campaigns import campaign_approve, campaign_create, campaign_prepare, campaign_recipients_preview
    from followups.gateways import ConsoleGateway
    from followups.models import Campaign, CampaignRecipient, SmsMessage
    from followups.services import sms_send_batch

    logging.getLogger("followups.gateways").setLevel(logging.WARNING)
    with transaction.atomic():
        SmsMessage.objects.filter(campaign__isnull=False).delete()
        CampaignRecipient.objects.all().delete()
        Campaign.history.all().delete()
        Campaign.objects.all().delete()
    store = Store.objects.get()
    manager = Group.objects.get(name="manager")
    author, _created = User.objects.get_or_create(username="bench_author")
    approver, _created = User.objects.get_or_create(username="bench_approver")
    for user in (author, approver):
        user.groups.set([manager])
        user.stores.set([store])
    approver = User.objects.get(pk=approver.pk)  # permissions read afresh
    defaults = {"store": store, "definition": {"districts": ["江宁区"]}}
    segment, _created = Segment.objects.get_or_create(name="江宁车主", defaults=defaults)
    now = datetime.datetime(2026, 12, 10, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    campaign = campaign_create(user=author, store=store, name="冬季保养", kind="promotion", segment=segment,
                               template="尊敬的{name}：冬季保养八折，详询{store_phone}。", send_at=now,
                               holdout_percent=10)  # fmt: skip
    timed("recipients after exclusions (preview count)", lambda: campaign_recipients_preview(campaign=campaign))
    timed("approval (recipients + holdout + messages)", lambda: campaign_approve(user=approver, campaign=campaign,
                                                                                  now=now))  # fmt: skip
    timed("preparation again", lambda: campaign_prepare(campaign=campaign, now=now))
    gateway = ConsoleGateway()
    timed(
        "hand over to the gateway (one store's batch)",
        lambda: dict(sms_send_batch(store_id=store.pk, day=now.date(), now=now, gateway=gateway)),
    )


if __name__ == "__main__":
    main()
