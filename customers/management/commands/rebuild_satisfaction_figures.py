"""python manage.py rebuild_satisfaction_figures (--all | --month YYYY-MM)

Recounts the monthly satisfaction figures (customers.satisfaction_figures) of every store from the
results, after crediting the results written by other means than the CRM's desks: --all every month
from the first result (the first build after an upgrade, a repair), --month one month. Safe to run
twice."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.satisfaction_figures import satisfaction_figures_rebuild
from customers.states import parse_month


class Command(BaseCommand):
    help = "Recount the monthly satisfaction figures of every store from the results, for one month or all."

    def add_arguments(self, parser):
        parser.add_argument("--month", help="The month, YYYY-MM.")
        parser.add_argument("--all", action="store_true", dest="every_month", help="Every month with results.")

    def handle(self, *args, month=None, every_month=False, **options):
        if bool(month) == every_month:
            raise CommandError(_("Give either --month or --all."))
        months = None
        if month:
            first_day = parse_month(month)
            if first_day is None:
                raise CommandError(_("--month must be a month like 2025-08, not “%(value)s”.") % {"value": month})
            months = [first_day]
        counted = satisfaction_figures_rebuild(months=months, today=timezone.localdate())
        if not counted:
            self.stdout.write(_("No satisfaction results: nothing to count."))
            return
        self.stdout.write(_("Months of satisfaction figures recounted: %(months)s.") % {"months": counted})
