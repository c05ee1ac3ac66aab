import csv

from django.core.management.base import BaseCommand, CommandError

from crm.management.arguments import parse_date
from followups.selectors import export_rows

HEADER = ["rule", "customer_no", "vin", "channel", "due_date"]


class Command(BaseCommand):
    help = "Print the tasks whose queue date is D: rule,customer_no,vin,channel,due_date (docs/followups.md)."

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="Queue date D, YYYY-MM-DD.")
        parser.add_argument("--format", default="csv", choices=["csv"], help="Output format (csv).")

    def handle(self, *args, date, format, **options):
        day = parse_date(date)
        if format != "csv":
            raise CommandError("Only csv is supported.")
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(HEADER)
        for code, customer_no, vin, channel, due_date in export_rows(day=day):
            writer.writerow([code, customer_no, vin, channel, due_date.isoformat()])
