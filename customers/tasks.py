"""Background work of the customers app: large DMS imports and the per-customer figures."""

import datetime

from celery import shared_task
from django.utils import timezone

from customers.choices import ImportStatus
from customers.facts import customer_stats_refresh, customer_stats_refresh_after_import, customer_stats_vacuum
from customers.models import ImportBatch
from customers.satisfaction_figures import satisfaction_figures_nightly
from customers.services import dms_import_batch_start_from_upload
from customers.services.appointments import appointments_mark_no_shows
from customers.states import customer_states_refresh
from customers.volumes import store_day_volumes_nightly


@shared_task(acks_late=True)
def run_dms_import(batch_id: int) -> str:
    """Run an uploaded DMS file recorded as an ImportBatch. Safe twice: a batch that is no longer
    waiting is left alone."""
    claimed = ImportBatch.objects.filter(pk=batch_id, status=ImportStatus.PENDING).update(status=ImportStatus.RUNNING)
    if not claimed:
        return "skipped"
    batch = ImportBatch.objects.get(pk=batch_id)
    return dms_import_batch_start_from_upload(batch=batch).summary()


@shared_task
def refresh_customer_stats() -> int:
    """Recompute the segment facts (traits, vehicles, last visit, 12-month spend and visits, value
    third), then VACUUM ANALYZE them so counts stay index-only. Safe twice: the second run writes
    nothing."""
    written = customer_stats_refresh()
    if written:
        customer_stats_vacuum()
    return written


@shared_task
def refresh_customer_stats_after_import(customer_ids: list[int]) -> int:
    """Recompute the segment facts of the customers a DMS import touched (and re-rank the value
    thirds of their stores). Safe twice: the second run writes nothing."""
    return customer_stats_refresh_after_import(customer_ids=customer_ids)


@shared_task
def refresh_customer_states(today: str | None = None) -> int:
    """Rebuild the month-end state snapshots of the current and the previous month and build every
    earlier month not built yet (customers.states). ``today`` (YYYY-MM-DD) defaults to today in the
    CRM's time zone. Safe twice: a month rebuilt replaces its rows."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    return customer_states_refresh(today=day)


@shared_task
def mark_appointment_no_shows(day: str | None = None) -> int:
    """End of the day: bookings of ``day`` (YYYY-MM-DD, default today in the CRM's time zone) or before
    that nobody checked in become no-shows. Safe twice: the second run marks none."""
    return appointments_mark_no_shows(day=datetime.date.fromisoformat(day) if day else timezone.localdate())


@shared_task
def refresh_store_day_volumes(today: str | None = None) -> int:
    """Recount the stores' volumes (deliveries, settled repair orders) of the last 40 days through
    ``today`` (YYYY-MM-DD, default today in the CRM's time zone) and build every earlier day not built
    yet (customers.volumes). Safe twice: a day recounted again writes nothing."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    return store_day_volumes_nightly(today=day)


@shared_task
def refresh_satisfaction_figures(today: str | None = None) -> int:
    """Credit the satisfaction results written by other means, recount the monthly satisfaction
    figures of the current and the previous month of every store and build every (month, store) with
    results but no figures (customers.satisfaction_figures). ``today`` (YYYY-MM-DD) defaults to today
    in the CRM's time zone. Safe twice: a month recounted again is the same."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    return satisfaction_figures_nightly(today=day)
