from django.core.management.base import BaseCommand, CommandError

from clubs.run import club_run
from crm.management.arguments import parse_date
from crm.models import Store


class Command(BaseCommand):
    help = (
        "The nightly club run through D (or through --until): joins new members, earns every settled "
        "repair order up to that day, applies tier rises and expiries. Idempotent (docs/club.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="Day D, YYYY-MM-DD.")
        parser.add_argument("--until", help="Last day of a catch-up, YYYY-MM-DD (default: --date).")
        parser.add_argument("--store", action="append", help="Only this store code (repeatable).")

    def handle(self, *args, date, until, store, **options):
        start = parse_date(date)
        end = parse_date(until) if until else start
        if end < start:
            raise CommandError("--until is before --date.")
        store_ids = None
        if store:
            store_ids = list(Store.objects.filter(code__in=store).values_list("pk", flat=True))
            if len(store_ids) != len(set(store)):
                raise CommandError(f"Unknown store code among {', '.join(store)}.")
        # Everything up to a day is done in one pass: the days between D and --until need no run of their own.
        result = club_run(through=end, store_ids=store_ids)
        if not result.stores:
            self.stdout.write(f"{end.isoformat()}: no store's club had started.")
            return
        self.stdout.write(
            f"{end.isoformat()}: stores {','.join(result.stores)}: joined={result.joined} "
            f"orders={result.orders_earned} points={result.points_earned} rises={result.tier_rises} "
            f"referrals={result.referrals_won} referral_points={result.referral_points} "
            f"expired_lots={result.lots_expired} expired_points={result.points_expired}"
        )
