"""python manage.py build_volumes [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--missing-only]

Recounts the stores' volumes per day (deliveries, settled repair orders: customers.volumes) from
the vehicles and repair orders, for a range of days: a backfill after loading data by other means
than the DMS import, or a repair. Without --from, from the first day with data; without --to,
through today. Safe to run twice."""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.volumes import earliest_volume_day, store_day_volumes_build


def _day(value: str | None, option: str) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            _("%(option)s must be a day like 2026-03-01, not “%(value)s”.") % {"option": option, "value": value}
        ) from None


class Command(BaseCommand):
    help = "Recount the stores' deliveries and settled repair orders per day for a range of days."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", help="The first day, YYYY-MM-DD (default: the first with data).")
        parser.add_argument("--to", dest="last", help="The last day, YYYY-MM-DD (default: today).")
        parser.add_argument("--missing-only", action="store_true", help="Only the days never counted.")

    def handle(self, *args, first=None, last=None, missing_only=False, **options):
        first_day = _day(first, "--from") or earliest_volume_day()
        last_day = _day(last, "--to") or timezone.localdate()
        if first_day is None:
            self.stdout.write(_("No deliveries or repair orders: nothing to count."))
            return
        if last_day < first_day:
            raise CommandError(_("--to must not be before --from."))
        changed = store_day_volumes_build(first=first_day, last=last_day, only_missing=missing_only)
        self.stdout.write(
            _("Volumes counted from %(first)s to %(last)s: %(changed)s rows written or removed.")
            % {"first": first_day, "last": last_day, "changed": changed}
        )
