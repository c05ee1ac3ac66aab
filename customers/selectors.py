"""Reads of customers, vehicles and repair orders, always scoped to what the user may see."""

import re
import unicodedata

from django.db import connection
from django.db.models import Q, QuerySet
from django.http import Http404

from crm.scoping import scope_to_user_stores, sees_all_stores, visible_store_ids
from customers.choices import Confidentiality, ConsentPurpose
from customers.models import (
    Customer,
    CustomerConsent,
    CustomerNote,
    ErasedCustomer,
    ImportBatch,
    RepairOrder,
    Segment,
    Vehicle,
)


def customer_queryset_for_user(user) -> QuerySet[Customer]:
    queryset = scope_to_user_stores(Customer.objects.all(), user)
    if user.is_superuser or not user.is_authenticated:
        return queryset
    # A subquery keeps the authorised-staff join from duplicating rows.
    hidden = Customer.objects.filter(confidentiality=Confidentiality.TOP_SECRET).exclude(authorized_staff=user)
    return queryset.exclude(pk__in=hidden.values("pk"))


SEARCH_BRANCH_LIMIT = 500
CJK_PATTERN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
PHONE_QUERY_PATTERN = re.compile(r"[\d\s\-+()]+", re.ASCII)
LETTERS_PATTERN = re.compile(r"[a-z]+", re.ASCII)
ALNUM_PATTERN = re.compile(r"[A-Z0-9]+", re.ASCII)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def customer_search_sql(search: str, *, by_phone: bool) -> tuple[str, list] | None:
    """The SQL of the IDs of customers matching ``search`` (a UNION of indexed look-ups, each capped):
    customer_no, name (prefix; contains from 3 characters), pinyin (full or initials, prefix), plate
    (exact; contains from 3 characters), VIN (whole or its last 6) and, for staff allowed to search
    by phone, any part of the mobile (4+ digits, in any format)."""
    text = unicodedata.normalize("NFKC", search).strip()
    if not text:
        return None
    upper = text.upper()
    compact = re.sub(r"\s+", "", upper)
    branches: list[str] = []
    params: list = []

    def branch(sql: str, *values) -> None:
        branches.append(f"({sql} LIMIT {SEARCH_BRANCH_LIMIT})")
        params.extend(values)

    branch("SELECT id FROM customers_customer WHERE upper(customer_no) = %s", compact)
    if CJK_PATTERN.search(text):
        branch("SELECT id FROM customers_customer WHERE name LIKE %s", _like_escape(text) + "%")
        if len(text) >= 3:
            branch("SELECT id FROM customers_customer WHERE name LIKE %s", "%" + _like_escape(text) + "%")
    lower = compact.lower()
    if LETTERS_PATTERN.fullmatch(lower):
        branch("SELECT id FROM customers_customer WHERE name_initials LIKE %s", lower + "%")
        if len(lower) >= 2:
            branch("SELECT id FROM customers_customer WHERE name_pinyin LIKE %s", lower + "%")
    vehicle_owner = "SELECT customer_id FROM customers_vehicle WHERE "
    branch(vehicle_owner + "plate_no = %s", compact)
    if len(compact) >= 3:
        branch(vehicle_owner + "plate_no LIKE %s", "%" + _like_escape(compact) + "%")
    if ALNUM_PATTERN.fullmatch(compact):
        if len(compact) == 17:
            branch(vehicle_owner + "vin = %s", compact)
        if len(compact) == 6:
            branch(vehicle_owner + "right(vin, 6) = %s", compact)
    if by_phone and PHONE_QUERY_PATTERN.fullmatch(text):
        digits = re.sub(r"\D", "", text)
        if len(digits) > 11 and digits.startswith(("0086", "86")):
            digits = digits[-11:]
        if len(digits) >= 4:
            branch("SELECT id FROM customers_customer WHERE mobile LIKE %s", "%" + digits + "%")
    return " UNION ".join(branches), params


def customer_list_for_user(*, user, search: str = "") -> QuerySet[Customer]:
    queryset = customer_queryset_for_user(user).select_related("store")
    found = customer_search_sql(search, by_phone=user.has_perm("customers.search_by_phone"))
    if found is not None:
        sql, params = found
        # The matching IDs first (each branch an index look-up, capped), then the scoped cards by
        # primary key: a semi-join against the whole table would scan a million rows.
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        queryset = queryset.filter(pk__in=ids)
    return queryset.order_by("customer_no")


def customer_find_by_phone(*, user, phone: str) -> QuerySet[Customer]:
    """Incoming-call lookup: customers whose mobile or landline is exactly this number."""
    from customers.dms.parsing import FieldError, normalize_phone

    try:
        mobile, landline = normalize_phone(phone)
    except FieldError:
        return Customer.objects.none()
    queryset = customer_queryset_for_user(user).select_related("store")
    if mobile:
        return queryset.filter(mobile=mobile)
    if landline:
        return queryset.filter(landline=landline)
    return Customer.objects.none()


def customer_get_for_user(*, user, pk: int) -> Customer:
    """The customer, or 404 when it does not exist or is outside what the user may see."""
    try:
        return customer_queryset_for_user(user).select_related("store").get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def vehicle_queryset_for_user(user) -> QuerySet[Vehicle]:
    queryset = scope_to_user_stores(Vehicle.objects.all(), user)
    if user.is_superuser:
        return queryset
    return queryset.filter(customer__in=customer_queryset_for_user(user))


def repair_order_queryset_for_user(user) -> QuerySet[RepairOrder]:
    queryset = scope_to_user_stores(RepairOrder.objects.all(), user)
    if user.is_superuser:
        return queryset
    return queryset.filter(vehicle__customer__in=customer_queryset_for_user(user))


def customer_vehicles(*, customer: Customer) -> QuerySet[Vehicle]:
    return customer.vehicles.order_by("-delivery_date", "vin")


def customer_repair_orders(*, customer: Customer) -> QuerySet[RepairOrder]:
    return (
        RepairOrder.objects.filter(vehicle__customer=customer)
        .select_related("vehicle")
        .order_by("-settle_date", "-ro_no")
    )


def customer_note_queryset_for_user(user) -> QuerySet[CustomerNote]:
    """Notes on the cards the user may see (never a top-secret card the user is not named on)."""
    return CustomerNote.objects.filter(customer__in=customer_queryset_for_user(user))


def segment_queryset_for_user(user) -> QuerySet[Segment]:
    """Segments of every store the user may see, and those for 'all my stores' (no store)."""
    queryset = Segment.objects.select_related("store").order_by("name")
    if not user.is_authenticated:
        return queryset.none()
    store_ids = visible_store_ids(user)
    if store_ids is None:
        return queryset
    return queryset.filter(Q(store__isnull=True) | Q(store_id__in=store_ids))


def segment_get_for_user(*, user, pk: int) -> Segment:
    """The segment, or 404 when it does not exist or belongs to a store the user may not see."""
    try:
        return segment_queryset_for_user(user).get(pk=pk)
    except (Segment.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def import_batch_queryset_for_user(user) -> QuerySet[ImportBatch]:
    """DMS import batches: one's own, or every batch for staff granted the whole group."""
    if not user.is_authenticated:
        return ImportBatch.objects.none()
    if sees_all_stores(user):
        return ImportBatch.objects.all()
    return ImportBatch.objects.filter(user=user)


def import_batch_get_for_user(*, user, pk: int) -> ImportBatch:
    try:
        return import_batch_queryset_for_user(user).get(pk=pk)
    except (ImportBatch.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def import_issues_for_batch(*, batch, limit: int) -> tuple[list, int]:
    """The first ``limit`` rejections and warnings of an import in row order, and how many there are."""
    issues = batch.issues.order_by("row_number", "id")
    return list(issues[:limit]), issues.count()


# --- consent ---------------------------------------------------------------------------------


def customer_sms_allowed_sql(*, purpose: str, alias: str = "cu") -> str:
    """The SQL condition that the customer row ``alias`` (a customers_customer row in the caller's
    FROM) may get an SMS of ``purpose``: not opted out of SMS altogether, and a marketing message only
    with marketing consent granted, a service reminder unless service consent was withdrawn. Each
    test is one look-up of the consent's unique (customer, purpose) index; no parameters."""
    if purpose not in ConsentPurpose.values:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    if not alias.isidentifier():
        raise ValueError(f"not an SQL alias: {alias!r}")
    consent = (
        f"SELECT 1 FROM {CustomerConsent._meta.db_table} consent"
        f" WHERE consent.customer_id = {alias}.id AND consent.purpose = '{purpose}'"
    )
    if purpose == ConsentPurpose.MARKETING:
        return f"({alias}.sms_opt_out = false AND EXISTS ({consent} AND consent.is_granted))"
    return f"({alias}.sms_opt_out = false AND NOT EXISTS ({consent} AND NOT consent.is_granted))"


def customer_consents(*, customer: Customer) -> list[dict]:
    """The customer's consent per purpose as it stands: the record, or None when none was ever given
    (service reminders then go out, marketing does not)."""
    records = {consent.purpose: consent for consent in customer.consents.select_related("recorded_by")}
    return [
        {"purpose": purpose, "label": label, "record": records.get(purpose),
         "is_granted": records[purpose].is_granted if purpose in records else purpose == ConsentPurpose.SERVICE}
        for purpose, label in ConsentPurpose.choices
    ]  # fmt: skip


def customer_consent_history(*, customer: Customer, limit: int = 50):
    """Every recorded consent change of the customer, newest first."""
    return (
        CustomerConsent.history.filter(customer_id=customer.pk)
        .select_related("recorded_by")
        .order_by("-history_date", "-history_id")[:limit]
    )


def customer_is_erased(*, customer: Customer) -> bool:
    """Whether the card was erased at the customer's request (it has a tombstone)."""
    return ErasedCustomer.objects.filter(customer=customer).exists()
