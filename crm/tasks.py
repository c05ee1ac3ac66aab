from celery import shared_task
from django.core.management import call_command


@shared_task(name="crm.tasks.clear_expired_sessions", ignore_result=True)
def clear_expired_sessions() -> None:
    """Remove expired login sessions (safe to run twice: deleting nothing is fine)."""
    call_command("clearsessions")
