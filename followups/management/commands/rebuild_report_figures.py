from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.management.arguments import parse_date
from followups.report_figures import report_figures_earliest_day, report_figures_rebuild


class Command(BaseCommand):
    help = (
        "Recount the follow-up reports' per-day figures of a date range from scratch (the nightly job's "
        "code path); --all rebuilds every day since the first task or call (the first deploy's backfill)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--date", help="First day, YYYY-MM-DD.")
        parser.add_argument("--until", help="Last day, YYYY-MM-DD (default: today).")
        parser.add_argument("--all", action="store_true", dest="from_first", help="From the first task or call on.")

    def handle(self, *args, date, until, from_first, **options):
        if bool(date) == from_first:
            raise CommandError(_("Give either --date or --all."))
        end = parse_date(until) if until else timezone.localdate()
        start = parse_date(date) if date else report_figures_earliest_day()
        if start is None:
            self.stdout.write(_("No tasks or calls: nothing to rebuild."))
            return
        if end < start:
            raise CommandError(_("--until must not be before --date."))
        days = report_figures_rebuild(start=start, end=end)
        self.stdout.write(
            _("Report figures rebuilt for %(days)s days, %(first)s to %(last)s.")
            % {"days": days, "first": start.isoformat(), "last": end.isoformat()}
        )
