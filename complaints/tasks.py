"""Background jobs of complaints: the manager's notice at intake, the breach check every five
minutes (beat), the escalation e-mails and the minutely sweep that sends the e-mails nobody sent.
Each takes IDs, calls one service and is safe to run twice."""

import datetime

from celery import shared_task
from django.utils import timezone

from complaints import services
from crm.tasks import enqueue

# An e-mail that failed (SMTP down) is tried again a few times before the sweep takes over.
RETRY = {"autoretry_for": (OSError,), "retry_backoff": 30, "max_retries": 5}
# The sweep leaves a just-logged notice to the task queued at intake for this long (a second copy
# would only find the notice leased or sent, but need not be queued at all).
SWEEP_SETTLE = datetime.timedelta(seconds=5)
# A re-queued e-mail the worker could not start within the minute is dropped: the next sweep queues
# it again, so a busy worker does not pile up copies.
SWEEP_EXPIRES_SECONDS = 55


@shared_task(name="complaints.tasks.complaint_notify_manager", ignore_result=True, **RETRY)
def complaint_notify_manager(complaint_id: int) -> None:
    services.complaint_notify_manager_send(complaint_id=complaint_id)


@shared_task(name="complaints.tasks.escalation_send", ignore_result=True, **RETRY)
def escalation_send(escalation_id: int) -> None:
    services.escalation_send_email(escalation_id=escalation_id)


@shared_task(name="complaints.tasks.complaints_check_breaches", ignore_result=True)
def complaints_check_breaches() -> None:
    """Flag and escalate breached clocks (each escalation e-mail is queued as it is recorded)."""
    services.complaints_flag_breaches(now=timezone.now())


@shared_task(name="complaints.tasks.complaints_send_pending_emails", ignore_result=True)
def complaints_send_pending_emails() -> int:
    """Queue again the manager notices (of the last day) and escalation e-mails that have not gone
    out and that nobody is sending: never queued (broker down), failed past the retries, or whose
    worker died mid-send (its lease lapsed). Returns how many were queued."""
    now = timezone.now()
    settled = now - SWEEP_SETTLE
    since = now - datetime.timedelta(days=1)
    queued = 0
    for complaint_id in services.complaints_unnotified(now=now, older_than=settled, since=since):
        queued += enqueue(complaint_notify_manager, (complaint_id,), expires=SWEEP_EXPIRES_SECONDS)
    for escalation_id in services.escalations_unsent(now=now, older_than=settled):
        queued += enqueue(escalation_send, (escalation_id,), expires=SWEEP_EXPIRES_SECONDS)
    return queued
