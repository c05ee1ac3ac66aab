"""The club's nightly job: the same path as ``manage.py club_run``, through today."""

import datetime

from celery import shared_task
from django.utils import timezone

from clubs.run import club_run


@shared_task(name="clubs.tasks.run_clubs", ignore_result=True, acks_late=True)
def run_clubs(today: str | None = None) -> int:
    """Run every started club through today (Asia/Shanghai): a run does everything up to its day,
    so the days a stopped beat missed are caught up at once, and running twice changes nothing.
    Returns the number of orders earned."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    return club_run(through=day).orders_earned
