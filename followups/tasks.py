"""Background jobs: the nightly generation (with catch-up), the SMS batches and the queue preview's counts."""

import datetime

from celery import shared_task
from django.utils import timezone

from crm.models import Store
from followups import queue_preview, report_figures, services

# A resumed batch the worker could not start within the minute is dropped: the next resume sweep
# queues it again, so a busy worker does not pile up copies.
RESUME_EXPIRES_SECONDS = 55


@shared_task(name="followups.tasks.generate_followups", ignore_result=True)
def generate_followups(today: str | None = None) -> int:
    """Fan out one generation job per store (per rule for big stores) covering every day since the
    last run; returns how many jobs were sent."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    plan = services.followups_catch_up_plan(today=day)
    for job in plan:
        generate_store_followups.delay(
            store_id=job["store_id"], start=job["start"].isoformat(), end=job["end"].isoformat(), codes=job["codes"]
        )
    return len(plan)


@shared_task(name="followups.tasks.generate_store_followups", ignore_result=True, acks_late=True)
def generate_store_followups(*, store_id: int, start: str, end: str, codes: list[str] | None = None) -> int:
    """Generate one store's tasks for start..end (idempotent: ON CONFLICT DO NOTHING)."""
    results = services.followups_generate_range(
        start=datetime.date.fromisoformat(start),
        end=datetime.date.fromisoformat(end),
        store_ids=[store_id],
        codes=codes,
    )
    return sum(sum(made.values()) for made in results.values())


@shared_task(name="followups.tasks.dispatch_sms", ignore_result=True)
def dispatch_sms() -> int:
    """Every 10 minutes in the sending window: one SMS batch job per active store."""
    if not services.sms_window_open(timezone.now()):
        return 0
    today = timezone.localdate().isoformat()
    store_ids = list(Store.objects.filter(is_active=True).values_list("pk", flat=True))
    for store_id in store_ids:
        send_store_sms.delay(store_id=store_id, day=today)
    return len(store_ids)


@shared_task(name="followups.tasks.resume_sms", ignore_result=True)
def resume_sms() -> int:
    """Every minute in the sending window: start again the batch of each store whose worker died
    mid-batch (a lease lapsed), long before the broker would redeliver it. Returns how many."""
    now = timezone.now()
    if not services.sms_window_open(now):
        return 0
    store_ids = services.sms_stores_to_resume(now=now)
    today = timezone.localdate(now).isoformat()
    for store_id in store_ids:
        send_store_sms.apply_async(kwargs={"store_id": store_id, "day": today}, expires=RESUME_EXPIRES_SECONDS)
    return len(store_ids)


@shared_task(name="followups.tasks.send_store_sms", ignore_result=True, acks_late=True)
def send_store_sms(*, store_id: int, day: str) -> dict:
    """Send one store's due SMS; safe to run twice and concurrently (see services.sms_send_batch)."""
    return dict(services.sms_send_batch(store_id=store_id, day=datetime.date.fromisoformat(day)))


@shared_task(name="followups.tasks.rebuild_report_figures", ignore_result=True, acks_late=True)
def rebuild_report_figures(today: str | None = None, days: int | None = None) -> int:
    """Every night: recount the follow-up reports' per-day figures of the last ``days`` days
    (REPORT_FIGURES_REBUILD_DAYS) up to ``today``, from scratch; safe to run twice and alongside
    calls (report_figures.report_figures_rebuild). Returns how many days it rebuilt."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    return report_figures.report_figures_nightly(today=day, days=days)


@shared_task(name="followups.tasks.count_queue_preview", ignore_result=True)
def count_queue_preview(*, store_ids: list[int], day: str, key: str) -> str:
    """Count the queue preview of ``day`` for the rules of ``store_ids`` and keep the counts in the
    cache for the page (followups/queue_preview.py); ``key`` is the cache key the page waits on.
    Safe to run twice and concurrently: each run keeps the same counts under the same key. No
    retry: a count that fails is shown as failed, and the manager counts again."""
    return queue_preview.queue_preview_count(store_ids=store_ids, day=datetime.date.fromisoformat(day), key=key)
