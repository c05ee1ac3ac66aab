"""Writes to customer cards, vehicles and repair orders."""

from __future__ import annotations

import datetime
import json
import time

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.audit import audit_log_record
from crm.bulk import copy_rows
from crm.choices import AuditAction
from crm.exceptions import ApplicationError
from crm.scoping import visible_store_ids
from customers.choices import ImportStatus, MarkSource
from customers.dms.sources import RowSource, source_from_path
from customers.dms_import.importer import DmsImport, ParseAhead
from customers.dms_import.outcome import ImportOutcome, errors_csv_bytes, outcome_rejected_rows
from customers.facts import customer_stats_refresh_for_customers
from customers.import_listeners import import_listeners_notify
from customers.models import (
    Customer,
    CustomerConsent,
    CustomerNote,
    ErasedCustomer,
    ImportBatch,
    ImportIssue,
    RepairOrder,
    Vehicle,
)
from customers.pinyin import name_search_keys
from customers.privacy import (
    ERASED_KEY_PREFIX,
    ERASED_NAME,
    ERASED_TEXT,
    customer_personal_data,
    erased_vin,
    erasure_handlers,
    tombstone_hash,
)
from customers.satisfaction_figures import satisfaction_figures_pairs_of_customers, satisfaction_figures_refresh
from customers.selectors import customer_editable_fields
from customers.volumes import refresh_volumes_on_commit

# ---------------------------------------------------------------------------------------------
# DMS import
# ---------------------------------------------------------------------------------------------

# How often a running import saves how far it has read (the admin's progress bar polls it).
PROGRESS_SAVE_SECONDS = 0.5


def import_batch_create(
    *, kind: str, file_name: str, user=None, store=None, profile=None, dry_run: bool = False
) -> ImportBatch:
    batch = ImportBatch(kind=kind, file_name=file_name[:255], user=user, store=store, profile=profile,
                        is_dry_run=dry_run)  # fmt: skip
    batch.full_clean()
    batch.save()
    return batch


def dms_import_run(
    *,
    batch: ImportBatch,
    source,
    allowed_store_ids: list[int] | None = None,
    progress=None,
    parsed_ahead: ParseAhead | None = None,
    on_staged=None,
):
    """Run one DMS file into the CRM (or only preview it when ``batch.is_dry_run``).

    All-or-nothing: the apply phase is one transaction, so a failure leaves the data as it was; the
    batch is then marked failed with the error and the exception is raised again. Returns the
    ImportOutcome (counts, issues, timings). ``parsed_ahead``: the file already being parsed
    (``dms_import_parse_ahead``); ``on_staged()`` is called once the file is staged, before its
    transaction."""
    batch.status = ImportStatus.RUNNING
    batch.started_at = timezone.now()
    batch.total_rows = source.total_rows or 0
    batch.encoding = source.encoding
    batch.save(update_fields=["status", "started_at", "total_rows", "encoding", "updated_at"])

    last_saved = [0.0]  # when processed_rows was last written

    def report(rows: int) -> None:
        # The admin's progress bar reads processed_rows: written at most every PROGRESS_SAVE_SECONDS
        # (and at the end), not after each of a large file's dozens of chunks (an UPDATE each).
        now = time.monotonic()
        if now - last_saved[0] >= PROGRESS_SAVE_SECONDS or rows >= batch.total_rows:
            last_saved[0] = now
            ImportBatch.objects.filter(pk=batch.pk).update(processed_rows=rows)
        if progress:
            progress(rows, batch.total_rows)

    try:
        importer = DmsImport(
            batch=batch, source=source, progress=report, parsed_ahead=parsed_ahead, on_staged=on_staged
        )
        outcome = importer.run(allowed_store_ids=allowed_store_ids, dry_run=batch.is_dry_run)
    except Exception as error:
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportStatus.FAILED, error_message=str(error)[:2000], finished_at=timezone.now()
        )
        batch.refresh_from_db()
        raise
    batch.processed_rows = batch.total_rows = max(batch.total_rows, 0)
    import_batch_record_outcome(batch=batch, outcome=outcome, source=source, dry_run=batch.is_dry_run)
    if not batch.is_dry_run:
        audit_log_record(
            actor=batch.user,
            action=AuditAction.IMPORT,
            object_type="customers.importbatch",
            object_ids=[batch.pk],
            detail={"kind": batch.kind, "file": batch.file_name, "summary": batch.summary()},
        )
        import_listeners_notify(kind=batch.kind, batch_id=batch.pk, customer_ids=outcome.touched_customer_ids,
                                days=outcome.written_days)  # fmt: skip
    return outcome


def dms_import_parse_ahead(*, kind: str, source: RowSource, store=None, after: ParseAhead | None = None):
    """Start parsing a file whose turn comes after the file being imported (``import_dms`` with
    several files): its ParseAhead for ``dms_import_run(parsed_ahead=…)``, or None when its turn
    would not parse all of it in the parse workers (a small file, XLSX, a re-import). ``after``:
    the file parsed ahead before it, which it waits for. Call ``cancel()`` on one left unused."""
    return ParseAhead.start(kind=kind, source=source, store=store, after=after)


def import_batch_record_outcome(
    *, batch: ImportBatch, outcome: ImportOutcome, source: RowSource, dry_run: bool
) -> None:
    """Save counts, issues and the rejected-rows file of a finished run."""
    batch.created_count = outcome.created
    batch.updated_count = outcome.updated
    batch.unchanged_count = outcome.unchanged
    batch.rejected_count = outcome.rejected
    batch.warning_count = outcome.warnings
    batch.status = ImportStatus.PREVIEWED if dry_run else ImportStatus.DONE
    batch.finished_at = timezone.now()
    batch.encoding = source.encoding
    ImportIssue.objects.filter(batch=batch).delete()
    # By one COPY: a first import's thousands of issues were 0.3 s of bulk_create (what it builds
    # and sends per value); the rows and their order (hence their ids) are the same.
    fields = {field.name: field for field in ImportIssue._meta.concrete_fields}
    names = ("batch", "row_number", "column", "value", "reason", "reason_params", "severity")
    encoder = fields["reason_params"].encoder
    rows = (
        (batch.pk, issue.row_number, issue.column[:100], issue.value, issue.reason[:300],
         None if issue.params is None else json.dumps(issue.params, cls=encoder), issue.severity)
        for issue in outcome.issues
    )  # fmt: skip
    with connection.cursor() as cursor:
        copy_rows(cursor, ImportIssue._meta.db_table, [fields[name].column for name in names], rows)
    if outcome.rejected:
        content = dms_import_errors_csv(source=source, outcome=outcome)
        batch.errors_file.save(f"rejected-{batch.pk}.csv", ContentFile(content), save=False)
    batch.save()


def dms_import_errors_csv(*, source: RowSource, outcome: ImportOutcome) -> bytes:
    """The rejected rows of a finished run as they were in the file, plus "row" and "reason" columns
    (UTF-8 with BOM): the batch's errors file in the admin, ``--errors-file`` of the command."""
    return errors_csv_bytes(source=source, rejected_rows=dict(outcome_rejected_rows(outcome)),
                            raw_rows=outcome.rejected_raw_rows())  # fmt: skip


def dms_import_batch_start_from_upload(*, batch: ImportBatch):
    """Run a batch whose file was uploaded (admin, Celery): the file is read from ``source_file``."""
    source = source_from_path(batch.source_file.path)
    allowed = visible_store_ids(batch.user) if batch.user else None
    return dms_import_run(batch=batch, source=source, allowed_store_ids=allowed)


# ---------------------------------------------------------------------------------------------
# The customer card
# ---------------------------------------------------------------------------------------------


def customer_update(*, customer, user, data: dict):
    """Change the fields of a card the user may edit; the change is kept in the card's history with
    who and when. Raises PermissionDenied for a field the user may not change, ValidationError for a
    bad value (nothing saved)."""
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
    with transaction.atomic():
        customer.name_pinyin, customer.name_initials = name_search_keys(customer.name)
        customer._history_user = user
        customer.save()
        # Segments read a copy of the card's traits: keep it exact in the same transaction.
        customer_stats_refresh_for_customers(customer_ids=[customer.pk])
    return customer


def vehicle_save(*, vehicle, user, previous_owner_id: int | None = None):
    """Save a validated vehicle (the admin's form); the segment facts of its owner, and of the
    previous owner when it changed hands, follow in one transaction; the stores' volumes of its
    delivery day (and of its previous one) are recounted once it commits (customers.volumes)."""
    previous = None
    if vehicle.pk is not None:
        previous = Vehicle.objects.filter(pk=vehicle.pk).values_list("store_id", "delivery_date").first()
    with transaction.atomic():
        vehicle._history_user = user
        vehicle.save()
        customer_stats_refresh_for_customers(
            customer_ids={vehicle.customer_id, previous_owner_id or vehicle.customer_id}
        )
        if previous != (vehicle.store_id, vehicle.delivery_date):
            refresh_volumes_on_commit(days=[vehicle.delivery_date, previous[1] if previous else None])
    return vehicle


# The same note again on the same card within this many seconds is a second click, not a new note.
NOTE_REPEAT_SECONDS = 10


def customer_note_add(*, customer, user, text: str, kind: str = "note"):
    """A note on the card's timeline. The same note (author, kind, text) on the same card within
    NOTE_REPEAT_SECONDS is a double submission: the earlier note is returned and nothing is written.
    Concurrent submissions of one card are serialised on the customer's row, so two clicks that
    arrive together also leave one note."""
    text = text.strip()
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).values_list("pk", flat=True).first()
        repeated = (
            CustomerNote.objects.filter(
                customer=customer,
                author=user,
                kind=kind,
                text=text,
                created_at__gte=timezone.now() - datetime.timedelta(seconds=NOTE_REPEAT_SECONDS),
            )
            .order_by("-created_at")
            .first()
        )
        if repeated is not None:
            return repeated
        note = CustomerNote(customer=customer, author=user, text=text, kind=kind)
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
            placeholder = erased_vin(vehicle.pk)
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


def customers_delete(*, queryset) -> int:
    """Delete the customers of ``queryset`` (the admin's deletion; an erasure keeps the card) and
    everything that goes with them. Their satisfaction results go too (cascade), so the monthly
    satisfaction figures of the months and stores those results counted in are recounted in the
    same transaction (customers.satisfaction_figures). Returns the rows deleted."""
    with transaction.atomic():
        pairs = satisfaction_figures_pairs_of_customers(customer_ids=list(queryset.values_list("pk", flat=True)))
        deleted, _by_model = queryset.delete()
        satisfaction_figures_refresh(pairs=pairs)
    return deleted


# ---------------------------------------------------------------------------------------------
# Seams for other apps: writes to a card go through here, with the card's history
# ---------------------------------------------------------------------------------------------


def customer_sms_opt_out(*, customer, source: str, at: datetime.datetime | None = None, user=None) -> bool:
    """Opt the customer out of every SMS, noting when, from where (``MarkSource``: ``sms_reply`` for
    a 退订 reply, ``staff``…) and by whom (None for the customer's own reply). Saved with the card's
    change history, so the card shows the opt-out with its source, and written to the audit log as a
    consent change. Returns False (nothing written) when the card was already opted out. Raises
    ``ValueError`` for an unknown source."""
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


# The desks' cards and deliveries (customers.services.cards / .deliveries), under the package's name.
from customers.services.cards import (  # noqa: E402, F401
    LikelyDuplicate,
    VinTaken,
    customer_create,
    provisional_customer_no,
    vehicle_create,
)
from customers.services.deliveries import DeliveryConsent, delivery_record  # noqa: E402, F401
