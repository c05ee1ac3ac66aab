"""Writes to customer cards, vehicles and repair orders."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customers.models import ImportBatch


def name_search_keys(name: str) -> tuple[str, str]:
    """The full pinyin ('zhangwei') and the initials ('zw') a name is searched by."""
    # Imported here: loading pypinyin's dictionaries takes 0.3 s, which every process (each web
    # worker, each `manage.py` command) would pay at start-up for a few writes.
    from pypinyin import Style, lazy_pinyin

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
        from customers.import_listeners import import_listeners_notify

        import_listeners_notify(kind=batch.kind, batch_id=batch.pk, customer_ids=outcome.touched_customer_ids)
    return outcome


def dms_import_batch_start_from_upload(*, batch: ImportBatch):
    """Run a batch whose file was uploaded (admin, Celery): the file is read from ``source_file``."""
    from crm.scoping import visible_store_ids
    from customers.dms.sources import source_from_path

    source = source_from_path(batch.source_file.path)
    allowed = visible_store_ids(batch.user) if batch.user else None
    return dms_import_run(batch=batch, source=source, allowed_store_ids=allowed)


_STATS_TRAITS = (
    "store_id", "gender", "birthday", "source", "district", "income_band", "member_tier", "is_restricted",
    "vehicle_brands", "vehicle_series", "vehicle_models",
)  # fmt: skip
_STATS_FIGURES = ("last_visit", "spend_12m", "visits_12m", "latest_delivery", "warranty_end")


def _stats_write_sql(*, some_customers: bool, upsert: bool = True) -> str:
    """INSERT … SELECT … ON CONFLICT of the segment facts, one statement: the card's traits, the
    vehicles' brands / series / models and dates, the repair orders' last settle date and 12-month
    figures. Only rows whose values changed are written (so a nightly run rewrites little and the
    table stays compact). With ``some_customers`` the statement is limited to ``%(ids)s`` and keeps
    the stored value third (it ranks a customer against the whole store: the next full run sets it).
    Without ``upsert`` it is a plain INSERT, for a table emptied first."""
    only = "AND {column} = ANY(%(ids)s)" if some_customers else ""
    if some_customers:
        value_tier = "''"
    else:
        value_tier = """CASE ntile(3) OVER (PARTITION BY c.store_id
                                ORDER BY coalesce(vi.spend, 0) DESC, coalesce(vi.visits, 0) DESC, c.id)
                 WHEN 1 THEN 'top' WHEN 2 THEN 'middle' ELSE 'low' END"""
    updated = [*_STATS_TRAITS, *_STATS_FIGURES] + ([] if some_customers else ["value_tier"])
    target = "customers_customerstats"
    conflict = (
        f"""
        ON CONFLICT (customer_id) DO UPDATE SET
            {", ".join(f"{name} = EXCLUDED.{name}" for name in updated)}, as_of = EXCLUDED.as_of
        WHERE ({", ".join(f"{target}.{name}" for name in updated)})
              IS DISTINCT FROM ({", ".join(f"EXCLUDED.{name}" for name in updated)})
    """
        if upsert
        else ""
    )
    return f"""
        INSERT INTO {target} (customer_id, {", ".join(_STATS_TRAITS)}, {", ".join(_STATS_FIGURES)},
                              value_tier, as_of)
        SELECT c.id, c.store_id, c.gender, c.birthday, c.source, c.district, c.income_band, c.member_tier,
               c.confidentiality IN ('top_secret', 'confidential'),
               coalesce(d.brands, '{{}}'), coalesce(d.series, '{{}}'), coalesce(d.models, '{{}}'),
               greatest(vi.last_settle, d.latest_delivery), coalesce(vi.spend, 0), coalesce(vi.visits, 0),
               d.latest_delivery, d.warranty_end, {value_tier}, %(today)s
        FROM customers_customer c
        LEFT JOIN (
            SELECT v.customer_id, max(ro.settle_date) AS last_settle,
                   sum(ro.total_amount) FILTER (WHERE ro.settle_date > %(since)s AND ro.settle_date <= %(today)s)
                       AS spend,
                   count(*) FILTER (WHERE ro.settle_date > %(since)s AND ro.settle_date <= %(today)s) AS visits
            FROM customers_repairorder ro JOIN customers_vehicle v ON v.id = ro.vehicle_id
            WHERE true {only.format(column="v.customer_id")}
            GROUP BY v.customer_id
        ) vi ON vi.customer_id = c.id
        LEFT JOIN (
            SELECT customer_id, max(delivery_date) AS latest_delivery,
                   (array_agg(coalesce(warranty_end, (delivery_date + interval '2 years')::date)
                              ORDER BY delivery_date DESC NULLS LAST, id DESC))[1] AS warranty_end,
                   array_agg(DISTINCT brand ORDER BY brand) FILTER (WHERE brand <> '') AS brands,
                   array_agg(DISTINCT series ORDER BY series) FILTER (WHERE series <> '') AS series,
                   array_agg(DISTINCT model ORDER BY model) FILTER (WHERE model <> '') AS models
            FROM customers_vehicle
            WHERE true {only.format(column="customer_id")}
            GROUP BY customer_id
        ) d ON d.customer_id = c.id
        WHERE true {only.format(column="c.id")}
        {conflict}
    """


def customer_stats_refresh(*, today: datetime.date | None = None, expected_changes: int = 0) -> int:
    """Recompute the segment facts (CustomerStats) of every customer, set-based, in one statement;
    only rows whose values changed are written. Value thirds are per store (ntile over 12-month
    spend, then visits). Returns the number of rows written. Called after large imports and nightly.

    ``expected_changes``: how many rows the caller expects to change (an import's touched customers);
    when that is most of the table, its indexes are built once after the write (crm.bulk)."""
    from django.db import connection, transaction
    from django.utils import timezone

    from crm.bulk import bulk_load
    from crm.calendar import add_months

    today = today or timezone.localdate()
    params = {"today": today, "since": add_months(today, -12)}
    with (
        transaction.atomic(),
        connection.cursor() as cursor,
        bulk_load(cursor, "customers_customerstats", new_rows=expected_changes) as taken,
    ):
        if taken:
            # The table is ours until the commit: written afresh, without comparing row by row.
            cursor.execute("TRUNCATE customers_customerstats")
            cursor.execute(_stats_write_sql(some_customers=False, upsert=False), params)
        else:
            cursor.execute(_stats_write_sql(some_customers=False), params)
        return cursor.rowcount


def customer_stats_refresh_for_customers(*, customer_ids, today: datetime.date | None = None) -> int:
    """Recompute the segment facts of a few customers right away (after a card edit): traits,
    vehicles, last visit, 12-month figures. Their value third stays as the last full refresh ranked
    it (a new customer has none until then). Returns the number of rows written."""
    from django.db import connection, transaction
    from django.utils import timezone

    from crm.calendar import add_months

    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return 0
    today = today or timezone.localdate()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _stats_write_sql(some_customers=True), {"today": today, "since": add_months(today, -12), "ids": ids}
        )
        return cursor.rowcount


def customer_stats_refresh_after_import(*, customer_ids, today: datetime.date | None = None) -> int:
    """Recompute the segment facts of the customers an import touched, then re-rank the value
    thirds of their stores (old and new) from the facts table, as the full refresh ranks them
    (12-month spend, then visits, then id). When the import touched more than a third of all
    customers the full refresh is run instead: it costs about the same and ranks from the source.
    Returns the number of fact rows written."""
    from django.db import connection, transaction

    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM customers_customer")
        total = cursor.fetchone()[0]
    if len(ids) * 3 > total:
        return customer_stats_refresh(today=today, expected_changes=len(ids))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT store_id FROM customers_customerstats WHERE customer_id = ANY(%s)", [ids])
        stores = {row[0] for row in cursor.fetchall()}
        written = customer_stats_refresh_for_customers(customer_ids=ids, today=today)
        cursor.execute("SELECT DISTINCT store_id FROM customers_customerstats WHERE customer_id = ANY(%s)", [ids])
        stores |= {row[0] for row in cursor.fetchall()}
        cursor.execute(
            """
            UPDATE customers_customerstats s SET value_tier = r.tier
            FROM (SELECT customer_id,
                         CASE ntile(3) OVER (PARTITION BY store_id ORDER BY spend_12m DESC, visits_12m DESC,
                                                                            customer_id)
                         WHEN 1 THEN 'top' WHEN 2 THEN 'middle' ELSE 'low' END AS tier
                  FROM customers_customerstats WHERE store_id = ANY(%s)) r
            WHERE s.customer_id = r.customer_id AND s.value_tier IS DISTINCT FROM r.tier
            """,
            [sorted(stores)],
        )
        return written + cursor.rowcount


def customer_stats_vacuum() -> None:
    """VACUUM ANALYZE the segment facts after a large refresh, so counts stay index-only scans and
    the planner knows the new distribution. Skipped inside a transaction (where VACUUM cannot run)."""
    from django.db import connection

    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) customers_customerstats")


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

    allowed = set(customer_editable_fields(user=user))
    refused = sorted(set(data) - allowed)
    if refused:
        raise PermissionDenied(", ".join(refused))
    changed = [name for name, value in data.items() if getattr(customer, name) != value]
    if not changed:
        return customer
    for name in changed:
        setattr(customer, name, data[name])
    customer.full_clean()
    return customer_save(customer=customer, user=user)


def customer_save(*, customer, user):
    """Save a validated card (from ``customer_update`` or the admin's form): the name's search keys,
    the history user and the segment facts follow it in one transaction."""
    from django.db import transaction

    with transaction.atomic():
        customer.name_pinyin, customer.name_initials = name_search_keys(customer.name)
        customer._history_user = user
        customer.save()
        # Segments read a copy of the card's traits: keep it exact in the same transaction.
        customer_stats_refresh_for_customers(customer_ids=[customer.pk])
    return customer


def vehicle_save(*, vehicle, user, previous_owner_id: int | None = None):
    """Save a validated vehicle (the admin's form); the segment facts of its owner, and of the
    previous owner when it changed hands, follow in one transaction."""
    from django.db import transaction

    with transaction.atomic():
        vehicle._history_user = user
        vehicle.save()
        customer_stats_refresh_for_customers(
            customer_ids={vehicle.customer_id, previous_owner_id or vehicle.customer_id}
        )
    return vehicle


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


# ---------------------------------------------------------------------------------------------
# Consent by purpose (PIPL)
# ---------------------------------------------------------------------------------------------


def customer_consent_record(
    *,
    customer,
    user,
    purpose: str,
    is_granted: bool,
    source: str,
    note: str = "",
    at: datetime.datetime | None = None,
):
    """Record that the customer granted or withdrew consent for ``purpose`` (service reminders or
    marketing), when, how (``source``) and who recorded it. The current state is one row per
    purpose; its change history (with the recording user) keeps every earlier state and shows on the
    card; each change is also in the audit log. Recording the state the customer is already in is a
    no-op (nothing written, returns the record). Raises ValidationError for an unknown purpose or
    source (nothing saved)."""
    from django.db import transaction
    from django.utils import timezone

    from crm.audit import audit_log_record
    from crm.choices import AuditAction
    from customers.models import CustomerConsent

    at = at or timezone.now()
    note = (note or "").strip()
    with transaction.atomic():
        consent = CustomerConsent.objects.select_for_update().filter(customer=customer, purpose=purpose).first()
        if consent is not None and consent.is_granted == is_granted and consent.source == source and not note:
            return consent
        if consent is None:
            consent = CustomerConsent(customer=customer, purpose=purpose)
        consent.is_granted = is_granted
        consent.at = at
        consent.source = source
        consent.recorded_by = user if user is not None and user.is_authenticated else None
        consent.note = note
        consent.full_clean()
        consent._history_user = consent.recorded_by
        consent.save()
        audit_log_record(
            actor=user,
            action=AuditAction.CHANGE_CONSENT,
            object_type="customers.customer",
            object_ids=[customer.pk],
            detail={"purpose": purpose, "granted": is_granted, "source": source},
        )
    return consent


# ---------------------------------------------------------------------------------------------
# A customer's data on request, and erasure (PIPL)
# ---------------------------------------------------------------------------------------------

# The card's personal fields and what erasure leaves in them. Kept: gender, province / city /
# district, source, income band, membership tier and points, the dates from the DMS, the vehicles'
# models and dates and every repair order's amounts and dates (the statistics: segments, states,
# complaint rates). The VIN and the plate identify the owner, so they go too.
ERASED_CARD_FIELDS = {
    "mobile": "", "landline": "", "email": "", "birthday": None, "lunar_birthday_month": None,
    "lunar_birthday_day": None, "employer": "", "job_title": "", "address": "", "interests": "",
    "preferred_contact_time": "", "member_card_no": "",
}  # fmt: skip


def customer_personal_data_export(*, customer, user) -> bytes:
    """Everything the CRM holds about the customer (customers.privacy.customer_personal_data) as
    one UTF-8 JSON document; the download is audited (who, when, which customer)."""
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    from crm.audit import audit_log_record
    from crm.choices import AuditAction
    from customers.privacy import customer_personal_data

    content = json.dumps(customer_personal_data(customer=customer), cls=DjangoJSONEncoder, ensure_ascii=False,
                         indent=2)  # fmt: skip
    audit_log_record(
        actor=user,
        action=AuditAction.EXPORT,
        object_type="customers.customer",
        object_ids=[customer.pk],
        detail={"kind": "personal_data", "format": "json", "bytes": len(content.encode())},
    )
    return content.encode()


def customer_erase(*, customer, user, reason: str):
    """Erase a customer at their request, irreversibly, in one transaction: every registered app
    clears its own personal fields of the customer (customers.privacy.erasure_handlers); the notes'
    texts and the consents' notes are replaced; the vehicles lose VIN and plate; the card is
    anonymised (name → 已删除客户 #id, customer number → ERASED-id, ERASED_CARD_FIELDS cleared, no SMS,
    no calls); the change history of the card, its vehicles and consents is purged of the same
    fields; a tombstone (ErasedCustomer) keeps the DMS customer number and keyed hashes of the mobile
    and the VINs so that the next DMS import does not bring the person back; the erasure is audited.

    Statistics stay: repair orders (amounts, dates), vehicles' models and dates, the card's traits.
    Raises ApplicationError when the customer was already erased (nothing changed) and
    ValidationError without a reason. Returns the tombstone."""
    from django.core.exceptions import ValidationError
    from django.db import transaction
    from django.utils import timezone
    from django.utils.translation import gettext as _

    from crm.audit import audit_log_record
    from crm.choices import AuditAction
    from crm.exceptions import ApplicationError
    from customers.choices import MarkSource
    from customers.models import Customer, CustomerConsent, ErasedCustomer, RepairOrder, Vehicle
    from customers.privacy import (
        ERASED_KEY_PREFIX,
        ERASED_NAME,
        ERASED_TEXT,
        erasure_handlers,
        tombstone_hash,
    )

    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Give the reason for the erasure.")})
    with transaction.atomic():
        customer = Customer.objects.select_for_update().get(pk=customer.pk)
        existing = ErasedCustomer.objects.filter(customer=customer).first()
        if existing is not None:
            raise ApplicationError(
                _("This customer was already erased on %(date)s: nothing was changed.")
                % {"date": timezone.localtime(existing.erased_at).strftime("%Y-%m-%d %H:%M")}
            )
        vehicles = list(customer.vehicles.order_by("id"))
        tombstone = ErasedCustomer(
            customer=customer,
            store_id=customer.store_id,
            customer_no=customer.customer_no,
            mobile_hash=tombstone_hash(customer.mobile) if customer.mobile else "",
            vin_hashes=[tombstone_hash(vehicle.vin) for vehicle in vehicles
                        if not vehicle.vin.startswith(ERASED_KEY_PREFIX)],
            reason=reason[:300],
            erased_by=user,
        )  # fmt: skip
        tombstone.full_clean(exclude=["customer", "erased_by"])
        changed: dict[str, int] = {}
        for handler in erasure_handlers():
            changed.update(handler(customer=customer))

        changed["notes"] = customer.notes.update(text=ERASED_TEXT)
        customer.consents.update(note="")
        CustomerConsent.history.filter(customer_id=customer.pk).update(note="")
        for vehicle in vehicles:
            placeholder = f"{ERASED_KEY_PREFIX}{vehicle.pk:010d}"[:17]
            Vehicle.objects.filter(pk=vehicle.pk).update(
                vin=placeholder, plate_no="", dms_fingerprint=None, dms_synced_at=None
            )
            Vehicle.history.filter(id=vehicle.pk).update(vin=placeholder, plate_no="")
        changed["vehicles"] = len(vehicles)
        # The next import of these repair orders is then checked against the tombstone (and reported)
        # instead of being skipped as unchanged; their amounts and dates stay.
        RepairOrder.objects.filter(vehicle__in=vehicles).update(dms_fingerprint=None, dms_synced_at=None)

        now = timezone.now()
        card = {
            **ERASED_CARD_FIELDS,
            "name": ERASED_NAME.format(id=customer.pk),
            "customer_no": f"{ERASED_KEY_PREFIX}{customer.pk}",
        }
        for name, value in card.items():
            setattr(customer, name, value)
        if not customer.sms_opt_out:
            customer.sms_opt_out, customer.sms_opt_out_at = True, now
            customer.sms_opt_out_source, customer.sms_opt_out_by = MarkSource.STAFF, user
        if not customer.do_not_call:
            customer.do_not_call, customer.do_not_call_at = True, now
            customer.do_not_call_source, customer.do_not_call_by = MarkSource.STAFF, user
        customer.dms_fingerprint = customer.dms_synced_at = None
        customer._change_reason = "Erased at the customer's request"
        customer_save(customer=customer, user=user)
        changed["card_history"] = Customer.history.filter(id=customer.pk).update(**card)

        tombstone.save()
        audit_log_record(
            actor=user,
            action=AuditAction.ERASE,
            object_type="customers.customer",
            object_ids=[customer.pk],
            detail={"reason": reason[:300], "changed": changed},
        )
    return tombstone


# ---------------------------------------------------------------------------------------------
# Seams for other apps: writes to a card go through here, with the card's history
# ---------------------------------------------------------------------------------------------


def customer_sms_opt_out(*, customer, source: str, at: datetime.datetime | None = None, user=None) -> bool:
    """Opt the customer out of every SMS, noting when, from where (``MarkSource``: ``sms_reply`` for
    a 退订 reply, ``staff``…) and by whom (None for the customer's own reply). Saved with the card's
    change history, so the card shows the opt-out with its source, and written to the audit log as a
    consent change. Returns False (nothing written) when the card was already opted out. Raises
    ``ValueError`` for an unknown source."""
    from django.db import transaction
    from django.utils import timezone

    from crm.audit import audit_log_record
    from crm.choices import AuditAction
    from customers.choices import MarkSource
    from customers.models import Customer

    if source not in MarkSource.values:
        raise ValueError(f"unknown opt-out source {source!r}")
    with transaction.atomic():
        card = Customer.objects.select_for_update().get(pk=customer.pk)
        if card.sms_opt_out:
            return False
        card.sms_opt_out, card.sms_opt_out_at = True, at or timezone.now()
        card.sms_opt_out_source, card.sms_opt_out_by = source, user
        card._history_user = user
        card.save(update_fields=["sms_opt_out", "sms_opt_out_at", "sms_opt_out_source", "sms_opt_out_by",
                                 "updated_at"])  # fmt: skip
        audit_log_record(
            actor=user,
            action=AuditAction.CHANGE_CONSENT,
            object_type="customers.customer",
            object_ids=[card.pk],
            detail={"sms_opt_out": True, "source": source},
        )
    customer.sms_opt_out, customer.sms_opt_out_at = card.sms_opt_out, card.sms_opt_out_at
    customer.sms_opt_out_source, customer.sms_opt_out_by = card.sms_opt_out_source, card.sms_opt_out_by
    return True
