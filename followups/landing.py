"""Follow-ups' figure on the landing pages (registered as ``landing_figures`` in followups/apps.py;
see crm/landing.py): the calls assigned to the user that are due today."""

import datetime

from django.utils.translation import gettext_lazy as _

from crm.landing import LandingFigure
from followups.selectors import my_tasks_count

# The desks, whose own calls are part of their day; managers read them per person in the reports.
DESK_ROLES = ("service_advisor", "sales_consultant")


def landing_figures(*, user, store_ids, today: datetime.date) -> list[LandingFigure]:
    """The number of the user's own calls due today, on the advisors' and sales consultants' page."""
    if user.role not in DESK_ROLES:
        return []
    return [LandingFigure("my_tasks", _("My calls today"), my_tasks_count(user=user, today=today), "my-tasks")]
