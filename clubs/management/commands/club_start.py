from django.core.management.base import BaseCommand, CommandError

from clubs.run import club_start
from crm.exceptions import ApplicationError
from crm.management.arguments import parse_date
from crm.selectors import store_for_code


class Command(BaseCommand):
    help = (
        "Start a store's owners' club on S: every member joins with the DMS's tier and points balance "
        "(one lot earned on S). Refused if the club has started already (docs/club.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--store", required=True, help="Store code.")
        parser.add_argument("--date", required=True, help="Club start date S, YYYY-MM-DD.")

    def handle(self, *args, store, date, **options):
        day = parse_date(date)
        try:
            found = store_for_code(store)
            if found is None:
                raise CommandError(f"Unknown store code {store!r}.")
            result = club_start(store=found, started_on=day)
        except ApplicationError as error:
            raise CommandError(error.message) from None
        tiers = " ".join(f"{name}={count}" for name, count in result.tiers.items())
        self.stdout.write(
            f"{result.store_code}: club started on {day.isoformat()}: {result.members} members, "
            f"{result.opening_points} opening points {tiers}".rstrip()
        )
        for spelling, count in result.unknown_tiers.items():
            self.stderr.write(f"warning: {count} customers have the unknown DMS tier {spelling!r}: read as 普通")
