"""Personal data as PIPL asks: consent by purpose on the card, a customer's data on request, and
the tombstones that keep an erased customer from coming back with the next DMS import.

Other apps hold personal data of a customer too (calls, SMS, replies, the club, complaints). They
take part through two registries, as the card's panels do (customers/card.py): an app lists dotted
paths to functions in its AppConfig, so that customers never imports them.

- ``customer_personal_data_providers``: ``f(*, customer) -> dict[str, list[dict]]``, sections of the
  customer's data export (section name → rows of plain values);
- ``customer_erasure_handlers``: ``f(*, customer) -> dict[str, int]``, run inside the erasure's
  transaction while the card still holds its data: clears or replaces the app's personal fields of
  that customer (its own rows and their change history) and returns how many rows it changed.
"""

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass

from django.db.models import Model
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django.utils.crypto import salted_hmac

from customers.card import CardPanel, registered_functions
from customers.choices import ImportKind

logger = logging.getLogger(__name__)

# What an erased card and its texts become (stored data, in the language of the data, like the
# default SMS templates; not an interface string).
ERASED_NAME = "已删除客户 #{id}"
ERASED_TEXT = "（已删除）"
ERASED_KEY_PREFIX = "ERASED-"  # a hyphen never occurs in a VIN or a DMS customer number we import


def erased_vin(vehicle_id: int) -> str:
    """What an erased car's VIN becomes (on the car and in its change history): 17 characters, unique."""
    return f"{ERASED_KEY_PREFIX}{vehicle_id:010d}"[:17]


# Fields of a card, a vehicle and a customer's history rows that are never part of a data export
# (internal bookkeeping, no information about the person).
_INTERNAL_FIELDS = {"dms_fingerprint", "dms_synced_at", "name_pinyin", "name_initials"}


def personal_data_providers() -> list:
    return registered_functions("customer_personal_data_providers")


def erasure_handlers() -> list:
    return registered_functions("customer_erasure_handlers")


def model_row(instance: Model, *, exclude=()) -> dict:
    """A model instance as plain values (its concrete fields by attribute name), for an export."""
    skipped = _INTERNAL_FIELDS | set(exclude)
    row = {}
    for field in instance._meta.concrete_fields:
        if field.attname in skipped:
            continue
        value = getattr(instance, field.attname)
        row[field.attname] = value.name if isinstance(value, FieldFile) else value  # a file: its stored name
    return row


def queryset_rows(queryset, *, exclude=()) -> list[dict]:
    return [model_row(instance, exclude=exclude) for instance in queryset]


# --- the customer's data on request ----------------------------------------------------------


def customer_personal_data(*, customer) -> dict:
    """Everything the CRM holds about one customer, as plain values: the card, its vehicles and
    repair orders, notes, consents and their history, the card's change history, the desks'
    records (deliveries, satisfaction results, interviews, the prospect they were, bookings, with
    their history), and the sections of every registered provider (calls, SMS, replies, the club,
    complaints…)."""
    from django.db.models import Q

    from customers.models import (
        Appointment,
        CustomerConsent,
        Delivery,
        DeliveryInterview,
        Prospect,
        RepairOrder,
        SatisfactionResult,
        Vehicle,
    )

    data = {
        "exported_at": timezone.now(),
        "customer": model_row(customer),
        "named_staff": list(customer.authorized_staff.values_list("username", flat=True)),
        "vehicles": queryset_rows(customer.vehicles.order_by("id")),
        "repair_orders": queryset_rows(RepairOrder.objects.filter(vehicle__customer=customer).order_by("id")),
        "notes": queryset_rows(customer.notes.order_by("id")),
        "consents": queryset_rows(customer.consents.order_by("purpose")),
        "consent_history": queryset_rows(
            CustomerConsent.history.filter(customer_id=customer.pk).order_by("history_id")
        ),
        "card_history": queryset_rows(customer.history.order_by("history_id")),
        "vehicle_history": queryset_rows(Vehicle.history.filter(customer_id=customer.pk).order_by("history_id")),
        # Cars handed over to them at the sales desk, and those they referred someone to.
        "deliveries": queryset_rows(
            Delivery.objects.filter(Q(customer=customer) | Q(referrer_customer=customer)).order_by("id")
        ),
        # What the desks recorded with them: satisfaction results (a call's answers, an SMS reply, an
        # interview), delivery interviews, the prospect they were before buying, their bookings.
        "satisfaction_results": queryset_rows(SatisfactionResult.objects.filter(customer=customer).order_by("id")),
        "delivery_interviews": queryset_rows(DeliveryInterview.objects.filter(customer=customer).order_by("id")),
        # History rows by the record's id: their copy of customer_id has no index.
        "delivery_interview_history": queryset_rows(
            DeliveryInterview.history.filter(
                id__in=DeliveryInterview.objects.filter(customer=customer).values("pk")
            ).order_by("history_id")
        ),
        "prospects": queryset_rows(Prospect.objects.filter(won_customer=customer).order_by("id")),
        "prospect_history": queryset_rows(
            Prospect.history.filter(id__in=Prospect.objects.filter(won_customer=customer).values("pk")).order_by(
                "history_id"
            )
        ),
        "appointments": queryset_rows(Appointment.objects.filter(customer=customer).order_by("id")),
        "appointment_history": queryset_rows(
            Appointment.history.filter(id__in=Appointment.objects.filter(customer=customer).values("pk")).order_by(
                "history_id"
            )
        ),
    }
    for provider in personal_data_providers():
        data.update(provider(customer=customer))
    return data


# --- tombstones ------------------------------------------------------------------------------


def derived_erasure_key() -> str:
    """The key derived from SECRET_KEY (the pepper of the tombstones before ERASURE_HASH_KEY): stored
    once in the database by the migration that adds ErasureHashKey, so tombstones made before keep
    matching."""
    return salted_hmac("customers.privacy.tombstone", "pepper").hexdigest()


def tombstone_pepper() -> str:
    """The secret mixed into the hashes of erased mobiles and VINs (a hash of an 11-digit mobile
    alone could be reversed by trying every number): settings.ERASURE_HASH_KEY, or else the key kept
    in the database (derived from SECRET_KEY once, never again), so rotating SECRET_KEY does not
    bring erased customers back with the next DMS import."""
    from django.conf import settings

    from customers.models import ErasureHashKey

    if settings.ERASURE_HASH_KEY:
        return settings.ERASURE_HASH_KEY
    stored = ErasureHashKey.objects.filter(pk=1).values_list("key", flat=True).first()
    if stored is None:
        # A concurrent first use inserts the same row at most once (ON CONFLICT DO NOTHING).
        ErasureHashKey.objects.bulk_create([ErasureHashKey(pk=1, key=derived_erasure_key())], ignore_conflicts=True)
        stored = ErasureHashKey.objects.values_list("key", flat=True).get(pk=1)
    return stored


def tombstone_hash(value: str) -> str:
    """The keyed hash of a mobile or a VIN kept in a tombstone; equal to ``tombstone_hash_sql``."""
    return hashlib.sha256((tombstone_pepper() + value).encode()).hexdigest()


def tombstone_hash_sql(expression: str) -> str:
    """``tombstone_hash`` in SQL, of a text ``expression``; needs the ``%(erasure_pepper)s`` parameter."""
    return f"encode(sha256(convert_to(%(erasure_pepper)s || {expression}, 'UTF8')), 'hex')"


def tombstone_sql_params() -> dict:
    return {"erasure_pepper": tombstone_pepper()}


def tombstone_reject_sql(*, kind: str, stage: str = "s", store: str = "st", vehicle: str = "v") -> str:
    """The SQL condition that a staged DMS row (alias ``stage``) belongs to an erased customer, for
    the importer's resolve step (``store``: the row's resolved crm_store; ``vehicle``: the repair
    order's CRM vehicle). A customer row matches by its customer number, or by its mobile in the same
    store; a vehicle row by its owner's customer number; a repair order by its VIN when that VIN is
    no longer in the CRM (a car sold on since, and imported for its new owner, is not erased)."""
    table = "customers_erasedcustomer"
    if kind == ImportKind.CUSTOMERS:
        return (
            f"(EXISTS (SELECT 1 FROM {table} e WHERE e.customer_no = {stage}.customer_no)"
            f" OR ({stage}.mobile IS NOT NULL AND {stage}.mobile <> '' AND EXISTS (SELECT 1 FROM {table} e"
            f" WHERE e.store_id = {store}.id AND e.mobile_hash = {tombstone_hash_sql(stage + '.mobile')})))"
        )
    if kind == ImportKind.VEHICLES:
        return f"EXISTS (SELECT 1 FROM {table} e WHERE e.customer_no = {stage}.customer_no)"
    return (
        f"({vehicle}.id IS NULL AND EXISTS (SELECT 1 FROM {table} e"
        f" WHERE e.vin_hashes @> ARRAY[{tombstone_hash_sql(stage + '.vin')}]::varchar(64)[]))"
    )


# --- import artefacts -------------------------------------------------------------------------
#
# An erased customer's rows stay in what earlier DMS imports kept: the uploaded files
# (ImportBatch.source_file), the rejected-rows files (ImportBatch.errors_file) and the values of
# the import's issues (ImportIssue.value). Erasure clears them all, whatever their age:
# - an uploaded file keeps its other rows, the person's rows become empty rows (so the row numbers
#   of the import's issues still point at the right rows), in the file's own format and encoding;
# - a rejected-rows file loses the person's rows (it is the file admins fix and import again);
#   with none left it is removed;
# - the issues of those rows, and any issue whose value is the person's customer number, mobile or
#   VIN, lose their value (row, column and reason stay: the import's statistics).
# A row is the person's when a cell is their DMS customer number, their mobile (also with +86 and
# separators) or the VIN of a car they own. Rewritten files are stored under a new name in the
# erasure's transaction; the old file is deleted once it commits (a rolled-back erasure leaves the
# old file in place). An import still running is left alone: its rows meet the tombstone.


@dataclass(frozen=True)
class PersonKeys:
    """What identifies a customer's rows in a DMS file."""

    customer_no: str
    mobile: str
    vins: frozenset[str]

    def values(self) -> list[str]:
        return [value for value in (self.customer_no, self.mobile, *sorted(self.vins)) if value]

    def found_in_bytes(self, data: bytes) -> bool:
        return any(value.encode(encoding) in data for value in self.values() for encoding in ("utf-8", "gb18030"))

    def matches(self, cells) -> bool:
        for cell in cells:
            text = "" if cell is None else str(cell).strip().lstrip("'").strip()
            if not text:
                continue
            if text == self.customer_no or text.upper() in self.vins:
                return True
            if self.mobile and any(character.isdigit() for character in text):
                digits = re.sub(r"\D", "", text)
                if digits in (self.mobile, "86" + self.mobile):
                    return True
        return False


def _blank_csv_rows(data: bytes, keys: PersonKeys) -> tuple[bytes, list[int]]:
    from customers.dms.parsing import decode_csv_bytes

    text, encoding = decode_csv_bytes(data)
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    matched = [number for number, row in enumerate(rows[1:], start=2) if keys.matches(row)]
    if not matched:
        return data, []
    for number in matched:
        rows[number - 1] = [""] * len(rows[number - 1])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode(encoding), matched


def _blank_xlsx_rows(data: bytes, keys: PersonKeys) -> tuple[bytes, list[int]]:
    import openpyxl

    workbook = openpyxl.load_workbook(io.BytesIO(data))
    sheet = workbook.worksheets[0]  # the sheet the import reads
    matched = []
    for number, row in enumerate(sheet.iter_rows(min_row=2), start=2):
        if keys.matches(cell.value for cell in row):
            matched.append(number)
            for cell in row:
                cell.value = None
    if not matched:
        return data, []
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), matched


def _drop_rejected_rows(data: bytes, keys: PersonKeys) -> tuple[bytes | None, list[int]]:
    """The rejected-rows file (UTF-8 CSV, its source row number in the last-but-one column) without
    the person's rows; None when no row is left."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    header, body = rows[:1], rows[1:]
    kept = [row for row in body if not keys.matches(row[:-2])]
    if len(kept) == len(body):
        return data, []
    matched = [int(row[-2]) for row in body if keys.matches(row[:-2]) and row[-2].isdigit()]
    if not kept:
        return None, matched
    buffer = io.StringIO()
    csv.writer(buffer).writerows(header + kept)
    return buffer.getvalue().encode("utf-8-sig"), matched


def _replace_file(batch, field_name: str, content: bytes | None) -> None:
    """Point the batch at a rewritten file (or at none) in this transaction; delete the old file
    when the transaction commits."""
    from django.core.files.base import ContentFile
    from django.db import transaction

    from customers.models import ImportBatch

    field_file = getattr(batch, field_name)
    old_name, storage = field_file.name, field_file.storage
    new_name = storage.save(old_name, ContentFile(content)) if content is not None else ""
    ImportBatch.objects.filter(pk=batch.pk).update(**{field_name: new_name})
    transaction.on_commit(lambda: storage.delete(old_name))


def _read(field_file) -> bytes | None:
    try:
        with field_file.open("rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def erase_import_artefacts(*, customer) -> dict[str, int]:
    """Erasure handler (customers' own, see the module's docstring): the customer's rows leave the
    stored DMS files of every import, and their issues lose their values; the history rows of cars
    the customer once owned lose their VIN and plate like those of the cars they own."""
    from customers.choices import ImportStatus
    from customers.models import ImportBatch, ImportIssue, Vehicle

    vehicles = list(customer.vehicles.values_list("pk", "vin"))
    keys = PersonKeys(
        customer_no=customer.customer_no,
        mobile=customer.mobile,
        vins=frozenset(vin.upper() for _pk, vin in vehicles if not vin.startswith(ERASED_KEY_PREFIX)),
    )
    files = issues = 0
    batches = (
        ImportBatch.objects.exclude(status=ImportStatus.RUNNING)
        .exclude(source_file="", errors_file="")
        .order_by("pk")
        .only("pk", "source_file", "errors_file")
    )
    for batch in batches.iterator(chunk_size=100):
        rows: set[int] = set()
        if batch.source_file and (data := _read(batch.source_file)) is not None:
            is_xlsx = batch.source_file.name.lower().endswith((".xlsx", ".xlsm"))
            try:
                content, matched = (_blank_xlsx_rows if is_xlsx else _blank_csv_rows)(data, keys)
            except Exception as error:
                # A file the import could not read either: removed when its bytes hold the person.
                content, matched = None, ([0] if keys.found_in_bytes(data) else [])
                logger.warning("Import %s: unreadable source file searched as bytes: %s", batch.pk, error)
            if matched:
                _replace_file(batch, "source_file", content)
                rows.update(number for number in matched if number)
                files += 1
        if batch.errors_file and (data := _read(batch.errors_file)) is not None:
            content, matched = _drop_rejected_rows(data, keys)
            if content is not data:
                _replace_file(batch, "errors_file", content)
                rows.update(matched)
                files += 1
        if rows:
            issues += ImportIssue.objects.filter(batch=batch, row_number__in=rows).exclude(value="").update(value="")
    issues += ImportIssue.objects.filter(value__in=keys.values()).update(value="")

    former = (
        Vehicle.history.filter(customer_id=customer.pk)
        .exclude(id__in=[pk for pk, _vin in vehicles])
        .values_list("id", flat=True)
        .distinct()
    )
    former_rows = 0
    for vehicle_id in sorted(set(former)):
        former_rows += Vehicle.history.filter(id=vehicle_id, customer_id=customer.pk).update(
            vin=erased_vin(vehicle_id), plate_no=""
        )
    return {"import_files": files, "import_issues": issues, "former_vehicles_history": former_rows}


# --- the desks' records -----------------------------------------------------------------------

# A booking's source reference written by the CRM itself names one of its rows (``followuptask:12``,
# ``delivery:3``); any other value came through the API from outside (a call centre's call id, a
# mini-program's message id, a phone number) and goes with the person.
CRM_REFERENCE_PATTERN = r"^(followuptask|delivery|campaign):[0-9]+$"
# The change reasons the CRM writes on a booking's history rows; a cancellation's reason is typed by
# staff (what the customer said) and goes.
APPOINTMENT_SYSTEM_REASONS = ("no_show", "kept_by_repair_order")


def erase_desk_records(*, customer) -> dict[str, int]:
    """Erasure handler (customers' own, see the module's docstring): the texts the desks recorded
    about the customer, and those of their change history, are cleared; scores, verdicts, statuses,
    dates and the rows themselves stay (the satisfaction, prospect and booking figures).

    - satisfaction results: the statement (a call's answers and notes, an SMS reply's text, an
      interview's comment);
    - delivery interviews: the customer's comment (the answers, labels and scores, stay);
    - prospects won into this customer (the person before they bought): name → the erased card's
      name, mobile, notes and the note on a loss cleared;
    - bookings: notes, a source reference not written by the CRM, the reasons typed on cancelling."""
    from django.db.models import Case, F, Value, When

    from customers.models import Appointment, DeliveryInterview, Prospect, SatisfactionResult

    results = SatisfactionResult.objects.filter(customer=customer).exclude(statement="").update(statement="")

    # History rows are found by the record's id (their copy of customer_id has no index).
    interview_ids = list(DeliveryInterview.objects.filter(customer=customer).values_list("pk", flat=True))
    interviews = DeliveryInterview.objects.filter(pk__in=interview_ids).exclude(comment="").update(comment="")
    DeliveryInterview.history.filter(id__in=interview_ids).exclude(comment="").update(comment="")

    prospect_ids = list(Prospect.objects.filter(won_customer=customer).values_list("pk", flat=True))
    erased_prospect = {"name": ERASED_NAME.format(id=customer.pk), "mobile": "", "notes": "", "lost_note": ""}
    prospects = Prospect.objects.filter(pk__in=prospect_ids).update(**erased_prospect)
    Prospect.history.filter(id__in=prospect_ids).update(**erased_prospect)

    def kept_reference():
        return Case(When(source_reference__regex=CRM_REFERENCE_PATTERN, then=F("source_reference")), default=Value(""))

    appointment_ids = list(Appointment.objects.filter(customer=customer).values_list("pk", flat=True))
    appointments = Appointment.objects.filter(pk__in=appointment_ids).update(
        notes="", source_reference=kept_reference()
    )
    booking_history = Appointment.history.filter(id__in=appointment_ids)
    booking_history.update(notes="", source_reference=kept_reference())
    booking_history.filter(history_change_reason__isnull=False).exclude(
        history_change_reason__in=APPOINTMENT_SYSTEM_REASONS
    ).update(history_change_reason=None)
    return {
        "satisfaction_results": results,
        "delivery_interviews": interviews,
        "prospects": prospects,
        "appointments": appointments,
    }


# --- the card --------------------------------------------------------------------------------


def consent_panel(*, user, customer) -> CardPanel | None:
    """Consent per purpose with its history, and the form to record a change for staff allowed to."""
    from customers.forms import ConsentForm
    from customers.selectors import customer_consent_history, customer_consents, customer_is_erased

    if not user.has_perm("customers.view_customerconsent"):
        return None
    context = {
        "consents": customer_consents(customer=customer),
        "consent_history": customer_consent_history(customer=customer),
        "consent_form": ConsentForm() if user.has_perm("customers.record_consent") else None,
        "can_export_personal_data": user.has_perm("customers.export_personal_data"),
        "can_erase": user.has_perm("customers.erase_customer") and not customer_is_erased(customer=customer),
    }
    return CardPanel(template="customers/partials/consent_panel.html", context=context, order=80, position="side")
