"""Writes to customer cards, vehicles and repair orders."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from pypinyin import Style, lazy_pinyin

if TYPE_CHECKING:
    from customers.models import ImportBatch


def name_search_keys(name: str) -> tuple[str, str]:
    """The full pinyin ('zhangwei') and the initials ('zw') a name is searched by."""
    syllables = lazy_pinyin(name or "", style=Style.NORMAL, errors="ignore")
    full = "".join(syllables).lower()
    initials = "".join(syllable[0] for syllable in syllables if syllable).lower()
    return full[:300], initials[:50]


# ---------------------------------------------------------------------------------------------
# DMS import
# ---------------------------------------------------------------------------------------------


def import_batch_create(
    *, kind: str, file_name: str, user=None, store=None, profile=None, dry_run: bool = False
) -> ImportBatch:
    from customers.models import ImportBatch

    batch = ImportBatch(kind=kind, file_name=file_name[:255], user=user, store=store, profile=profile,
                        is_dry_run=dry_run)  # fmt: skip
    batch.full_clean()
    batch.save()
    return batch


def dms_import_run(*, batch: ImportBatch, source, allowed_store_ids: list[int] | None = None, progress=None):
    """Run one DMS file into the CRM (or only preview it when ``batch.is_dry_run``).

    All-or-nothing: the apply phase is one transaction, so a failure leaves the data as it was; the
    batch is then marked failed with the error and the exception is raised again. Returns the
    ImportOutcome (counts, issues, timings)."""
    from django.utils import timezone

    from crm.audit import audit_log_record
    from crm.choices import AuditAction
    from customers.choices import ImportStatus
    from customers.dms.importer import DmsImport, batch_record_outcome
    from customers.models import ImportBatch

    batch.status = ImportStatus.RUNNING
    batch.started_at = timezone.now()
    batch.total_rows = source.total_rows or 0
    batch.encoding = source.encoding
    batch.save(update_fields=["status", "started_at", "total_rows", "encoding", "updated_at"])

    def report(rows: int) -> None:
        ImportBatch.objects.filter(pk=batch.pk).update(processed_rows=rows)
        if progress:
            progress(rows, batch.total_rows)

    try:
        outcome = DmsImport(batch=batch, source=source, progress=report).run(
            allowed_store_ids=allowed_store_ids, dry_run=batch.is_dry_run
        )
    except Exception as error:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportStatus.FAILED, error_message=str(error)[:2000], finished_at=timezone.now()
        )
        batch.refresh_from_db()
        raise
    batch.processed_rows = batch.total_rows = max(batch.total_rows, 0)
    batch_record_outcome(batch=batch, outcome=outcome, source=source, dry_run=batch.is_dry_run)
    if not batch.is_dry_run:
        audit_log_record(
            actor=batch.user,
            action=AuditAction.IMPORT,
            object_type="customers.importbatch",
            object_ids=[batch.pk],
            detail={"kind": batch.kind, "file": batch.file_name, "summary": batch.summary()},
        )
        if outcome.created or outcome.updated:
            from django.db import transaction

            from customers.tasks import refresh_customer_stats

            transaction.on_commit(refresh_customer_stats.delay)
    return outcome


def dms_import_batch_start_from_upload(*, batch: ImportBatch):
    """Run a batch whose file was uploaded (admin, Celery): the file is read from ``source_file``."""
    from crm.scoping import visible_store_ids
    from customers.dms.sources import source_from_path

    source = source_from_path(batch.source_file.path)
    allowed = visible_store_ids(batch.user) if batch.user else None
    return dms_import_run(batch=batch, source=source, allowed_store_ids=allowed)


def customer_stats_refresh(*, today: datetime.date | None = None) -> int:
    """Recompute CustomerStats for every customer, set-based; only rows whose figures changed are
    written. Value thirds are per store (ntile over 12-month spend, then visits). Returns the number
    of rows written."""
    from django.db import connection, transaction
    from django.utils import timezone

    from crm.calendar import add_months

    today = today or timezone.localdate()
    since = add_months(today, -12)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO customers_customerstats
                (customer_id, last_visit, spend_12m, visits_12m, value_tier, latest_delivery, warranty_end, as_of)
            SELECT c.id, greatest(vi.last_settle, d.latest_delivery), coalesce(vi.spend, 0), coalesce(vi.visits, 0),
                   CASE ntile(3) OVER (PARTITION BY c.store_id
                                       ORDER BY coalesce(vi.spend, 0) DESC, coalesce(vi.visits, 0) DESC, c.id)
                        WHEN 1 THEN 'top' WHEN 2 THEN 'middle' ELSE 'low' END,
                   d.latest_delivery, d.warranty_end, %(today)s
            FROM customers_customer c
            LEFT JOIN (
                SELECT v.customer_id, max(ro.settle_date) AS last_settle,
                       sum(ro.total_amount) FILTER (WHERE ro.settle_date > %(since)s AND ro.settle_date <= %(today)s)
                           AS spend,
                       count(*) FILTER (WHERE ro.settle_date > %(since)s AND ro.settle_date <= %(today)s) AS visits
                FROM customers_repairorder ro JOIN customers_vehicle v ON v.id = ro.vehicle_id
                GROUP BY v.customer_id
            ) vi ON vi.customer_id = c.id
            LEFT JOIN (
                SELECT customer_id, max(delivery_date) AS latest_delivery,
                       (array_agg(coalesce(warranty_end, (delivery_date + interval '2 years')::date)
                                  ORDER BY delivery_date DESC NULLS LAST))[1] AS warranty_end
                FROM customers_vehicle GROUP BY customer_id
            ) d ON d.customer_id = c.id
            ON CONFLICT (customer_id) DO UPDATE SET
                last_visit = EXCLUDED.last_visit, spend_12m = EXCLUDED.spend_12m, visits_12m = EXCLUDED.visits_12m,
                value_tier = EXCLUDED.value_tier, latest_delivery = EXCLUDED.latest_delivery,
                warranty_end = EXCLUDED.warranty_end, as_of = EXCLUDED.as_of
            WHERE (customers_customerstats.last_visit, customers_customerstats.spend_12m,
                   customers_customerstats.visits_12m, customers_customerstats.value_tier,
                   customers_customerstats.latest_delivery, customers_customerstats.warranty_end,
                   customers_customerstats.as_of)
                  IS DISTINCT FROM (EXCLUDED.last_visit, EXCLUDED.spend_12m, EXCLUDED.visits_12m, EXCLUDED.value_tier,
                                    EXCLUDED.latest_delivery, EXCLUDED.warranty_end, EXCLUDED.as_of)
            """,
            {"today": today, "since": since},
        )
        written = cursor.rowcount
    return written


# ---------------------------------------------------------------------------------------------
# The customer card
# ---------------------------------------------------------------------------------------------

# What staff may change on a card (never customer_no or store: those come from the DMS).
CONTACT_FIELDS = (
    "mobile", "landline", "email", "employer", "job_title", "province", "city", "district", "address",
    "income_band", "interests", "preferred_channel", "preferred_contact_time", "lunar_birthday_month",
    "lunar_birthday_day",
)  # fmt: skip
FLAG_FIELDS = ("is_key_customer", "confidentiality")


def customer_editable_fields(*, user) -> tuple[str, ...]:
    if not user.has_perm("customers.change_customer"):
        return ()
    if user.has_perm("customers.change_customer_flags"):
        return CONTACT_FIELDS + FLAG_FIELDS
    return CONTACT_FIELDS


def customer_update(*, customer, user, data: dict):
    """Change the fields of a card the user may edit; the change is kept in the card's history with
    who and when. Raises PermissionDenied for a field the user may not change, ValidationError for a
    bad value (nothing saved)."""
    from django.core.exceptions import PermissionDenied
    from django.db import transaction

    allowed = set(customer_editable_fields(user=user))
    refused = sorted(set(data) - allowed)
    if refused:
        raise PermissionDenied(", ".join(refused))
    changed = [name for name, value in data.items() if getattr(customer, name) != value]
    if not changed:
        return customer
    with transaction.atomic():
        for name in changed:
            setattr(customer, name, data[name])
        customer.name_pinyin, customer.name_initials = name_search_keys(customer.name)
        customer.full_clean()
        customer._history_user = user
        customer.save()
    return customer


def customer_note_add(*, customer, user, text: str, kind: str = "note"):
    """A note on the card's timeline."""
    from customers.models import CustomerNote

    note = CustomerNote(customer=customer, author=user, text=text.strip(), kind=kind)
    note.full_clean()
    note.save()
    return note


def segment_save(*, segment, user):
    """Save a segment (its definition already validated by SegmentForm); history keeps every version."""
    if segment.created_by_id is None:
        segment.created_by = user
    segment._history_user = user
    segment.full_clean()
    segment.save()
    return segment
