"""Background jobs of complaints: the manager's notice at intake, the breach check every five
minutes (beat) and the escalation e-mails. Each takes IDs, calls one service and is safe to run twice."""

import datetime

from celery import shared_task
from django.utils import timezone

from complaints import services

# An e-mail that failed (SMTP down) is tried again a few times before the beat's sweep takes over.
RETRY = {"autoretry_for": (OSError,), "retry_backoff": 30, "max_retries": 5}


@shared_task(name="complaints.tasks.complaint_notify_manager", ignore_result=True, **RETRY)
def complaint_notify_manager(complaint_id: int) -> None:
    services.complaint_notify_manager_send(complaint_id=complaint_id)


@shared_task(name="complaints.tasks.escalation_send", ignore_result=True, **RETRY)
def escalation_send(escalation_id: int) -> None:
    services.escalation_send_email(escalation_id=escalation_id)


@shared_task(name="complaints.tasks.complaints_check_breaches", ignore_result=True)
def complaints_check_breaches() -> None:
    """Flag and escalate breached clocks; re-queue manager notices (of the last day) and escalation
    e-mails that never went out."""
    now = timezone.now()
    services.complaints_flag_breaches(now=now)
    settled = now - datetime.timedelta(minutes=15)
    for complaint_id in services.complaints_unnotified(older_than=settled, since=now - datetime.timedelta(days=1)):
        complaint_notify_manager.delay(complaint_id)
    for escalation_id in services.escalations_unsent(older_than=settled):
        escalation_send.delay(escalation_id)
