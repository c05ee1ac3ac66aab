"""Follow-ups' figure on the landing pages (registered as ``landing_figures`` in followups/apps.py;
see crm/landing.py): the calls assigned to the user that are due today."""

import datetime

from django.utils.translation import gettext_lazy as _

from crm.landing import LandingFigure
from followups.selectors import my_tasks_count


def landing_figures(*, user, store_ids, today: datetime.date) -> list[LandingFigure]:
    """ "My calls today" for the staff who work assigned tasks (advisors, sales consultants, managers)."""
    if not user.has_perm("followups.work_own_tasks"):
        return []
    return [LandingFigure("my_tasks", _("My calls today"), my_tasks_count(user=user, today=today), "my-tasks")]
