"""python manage.py export_states --month YYYY-MM --format csv

Writes ``customer_no,state`` for the end of that month to stdout: one row per customer of every
store with a visit on or before the month's end (transferred/scrapped-only owners apart), sorted by
customer_no in code point order, the state one of new, active, dormant, lost. Computed from the
data as it stands, not from the dashboard's snapshots (docs/retention.md)."""

import csv

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from customers.states import month_states_rows, parse_month


class Command(BaseCommand):
    help = "Write each customer's state (new, active, dormant, lost) at the end of a month as CSV."

    def add_arguments(self, parser):
        parser.add_argument("--month", required=True, help="The month, YYYY-MM.")
        parser.add_argument("--format", default="csv", help="Output format: csv (the only one).")

    def handle(self, *args, month: str, format: str, **options):
        if format != "csv":
            raise CommandError(_("--format must be csv, not “%(value)s”.") % {"value": format})
        first_day = parse_month(month)
        if first_day is None:
            raise CommandError(_("--month must be a month like 2025-08, not “%(value)s”.") % {"value": month})
        rows = month_states_rows(month=first_day)
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(["customer_no", "state"])
        writer.writerows(rows)
