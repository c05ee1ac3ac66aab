import csv

from django.core.management.base import BaseCommand

from clubs.selectors import EXPORT_HEADER, clubs_not_run_through, points_export_rows
from crm.management.arguments import parse_date


class Command(BaseCommand):
    help = (
        "Print one row per club member on D: customer_no,card_no,tier,balance,expiring_30d "
        "(tier in Chinese; balance at the end of D; points expiring D+1 … D+30), by customer_no."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", required=True, help="Day D, YYYY-MM-DD.")
        parser.add_argument("--format", default="csv", choices=["csv"], help="Output format (csv).")

    def handle(self, *args, date, format, **options):
        day = parse_date(date)
        for code, through in clubs_not_run_through(day=day):
            done = through.isoformat() if through else "never"
            self.stderr.write(f"warning: the club run of {code} has reached {done}, not {day.isoformat()}")
        writer = csv.writer(self.stdout, lineterminator="\n")
        writer.writerow(EXPORT_HEADER)
        writer.writerows(points_export_rows(day=day))
