from django.core.management.base import BaseCommand, CommandError

from crm.exceptions import ApplicationError
from crm.management.arguments import parse_date
from crm.models import Store
from followups.services import followups_generate_range


class Command(BaseCommand):
    help = "Generate the follow-up tasks queued on a date (or every date of a range): the nightly job's code path."

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="Generation date D, YYYY-MM-DD.")
        parser.add_argument("--until", help="Last date of a backfill, YYYY-MM-DD (default: --date).")
        parser.add_argument("--store", action="append", help="Only this store code (repeatable).")

    def handle(self, *args, date, until, store, **options):
        start = parse_date(date)
        end = parse_date(until) if until else start
        store_ids = None
        if store:
            store_ids = list(Store.objects.filter(code__in=store).values_list("pk", flat=True))
            if len(store_ids) != len(set(store)):
                raise CommandError(f"Unknown store code among {', '.join(store)}.")
        try:
            results = followups_generate_range(start=start, end=end, store_ids=store_ids)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        for day, made in results.items():
            total = sum(made.values())
            details = " ".join(f"{code}={count}" for code, count in sorted(made.items()))
            self.stdout.write(f"{day.isoformat()}: {total} tasks {details}".rstrip())
