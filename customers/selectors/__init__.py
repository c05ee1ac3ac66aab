"""Reads of customers, vehicles and repair orders, always scoped to what the user may see."""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from crm.calendar import add_months
from crm.choices import Role
from crm.compiled_reads import compiled_read
from crm.models import User
from crm.prepared import InText
from crm.scoping import in_stores, scope_to_user_stores, sees_all_stores, store_scope, visible_store_ids
from customers.choices import Confidentiality, ConsentPurpose, VehicleStatus
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

# --- who sees which card: the one visibility rule -------------------------------------------------
#
# 绝密 (top secret): the named staff only. 机密 (confidential): the named staff and the managers of
# the card's store. 秘密 (secret) and 普通 (normal): everyone of the store (a 秘密 card never leaves
# in an export without a manager's approval: customers.exports). Superusers see every card. The rule
# is written here once, as a queryset condition and as an SQL fragment for set-based code.

RESTRICTED_LEVELS = (Confidentiality.TOP_SECRET, Confidentiality.CONFIDENTIAL)
# The same levels written into the statements' text (crm.prepared.InText): the condition of the
# partial index of restricted cards (customer_restricted_idx), which the plan PostgreSQL keeps for
# a prepared statement (one for any values) can then read, as a plan for each run's values can.
_RESTRICTED_IN_TEXT = [InText(level) for level in RESTRICTED_LEVELS]
_CONFIDENTIAL_IN_TEXT = InText(Confidentiality.CONFIDENTIAL)
# Levels whose cards leave in an export only with a manager's approval (key customers too).
APPROVAL_LEVELS = (Confidentiality.TOP_SECRET, Confidentiality.CONFIDENTIAL, Confidentiality.SECRET)


def _managed_store_ids(user_id: int) -> QuerySet:
    """The stores where the user is a manager (the role, in that store), as a subquery: their
    managers see the store's 机密 cards. No query of its own: it runs inside the caller's."""
    through = User.stores.through
    return through.objects.filter(user_id=user_id, user__groups__name=Role.MANAGER).values("store_id")


_MANAGED_STORES_SQL = f"""
    SELECT managed.store_id FROM {User.stores.through._meta.db_table} managed
    JOIN {User.groups.through._meta.db_table} manager_role ON manager_role.user_id = managed.user_id
    JOIN auth_group role_group ON role_group.id = manager_role.group_id
    WHERE managed.user_id = %(visible_user)s AND role_group.name = '{Role.MANAGER}'"""


def sees_every_level(user) -> bool:
    return bool(user and user.is_authenticated and user.is_superuser)


def restricted_customers_visible_to(user) -> QuerySet[Customer]:
    """The 绝密 and 机密 cards the user may see (usually few): named on them, or a manager of the
    store of a 机密 card. Read through the partial index of restricted cards."""
    return _restricted_visible_to(user.pk)


def _restricted_visible_to(user_id: int) -> QuerySet[Customer]:
    restricted = Customer.objects.filter(confidentiality__in=_RESTRICTED_IN_TEXT)
    named = Q(pk__in=Customer.authorized_staff.through.objects.filter(user_id=user_id).values("customer_id"))
    managed = Q(confidentiality=_CONFIDENTIAL_IN_TEXT, store_id__in=_managed_store_ids(user_id))
    return restricted.filter(named | managed)


def customer_visibility_condition(user, *, prefix: str = "") -> Q:
    """The condition "this card's level lets the user see it", on Customer or, with ``prefix``
    (``"customer__"``), on a model pointing at it. Store scoping is applied apart (crm.scoping)."""
    if sees_every_level(user):
        return Q()
    if not (user and user.is_authenticated):
        return Q(pk__in=[])
    return _visibility_condition(user.pk, prefix=prefix)


def _visibility_condition(user_id: int, *, prefix: str = "") -> Q:
    """The rule for a signed-in user who does not see every level: the user's ID is its only input
    (who is named on a card, who manages which store are read inside the statement)."""
    visible_restricted = _restricted_visible_to(user_id).values("pk")
    return ~Q(**{f"{prefix}confidentiality__in": _RESTRICTED_IN_TEXT}) | Q(**{f"{prefix}pk__in": visible_restricted})


def customers_hidden_from(user) -> QuerySet:
    """The same rule turned round: the IDs of the 绝密 and 机密 cards the user may NOT see, as a
    subquery (no query of its own), read through the partial index of restricted cards
    (customer_restricted_idx). For reads that start from another table's index (the call queue):
    ``customer_visible_to`` turns it into an anti-join against that small set, instead of a test
    on the customer row of every task (a join that reads every card). Superusers see every level:
    the set is then empty."""
    restricted = Customer.objects.filter(confidentiality__in=_RESTRICTED_IN_TEXT)
    if sees_every_level(user):
        return restricted.none().values("pk")
    if not (user and user.is_authenticated):
        return restricted.values("pk")
    return _hidden_from(user.pk)


def _hidden_from(user_id: int) -> QuerySet:
    restricted = Customer.objects.filter(confidentiality__in=_RESTRICTED_IN_TEXT)
    named = Q(pk__in=Customer.authorized_staff.through.objects.filter(user_id=user_id).values("customer_id"))
    managed = Q(confidentiality=_CONFIDENTIAL_IN_TEXT, store_id__in=_managed_store_ids(user_id))
    return restricted.exclude(named | managed).values("pk")


def customer_visible_to(user, *, field: str = "customer_id") -> Q | Exists:
    """The rule as a condition on a model whose ``field`` holds the card's ID (a task, a member, a
    complaint): "not one of the few restricted cards hidden from the user", as ``NOT EXISTS``, an
    anti-join probing the partial index of restricted cards. Not as ``field NOT IN (the hidden
    cards)``: PostgreSQL cannot estimate a ``NOT IN`` a subquery and takes it as halving the rows,
    so a list of 100,000 members had its size estimated at 50,000 (the lists past their exact
    count show the planner's estimate) and plans were chosen for half the rows. The anti-join is
    estimated from the hidden cards themselves (a handful). A row without a card stays visible."""
    if sees_every_level(user):
        return Q()
    return ~Exists(customers_hidden_from(user).filter(pk=OuterRef(field)))


def customer_visible_to_user_id(user_id: int, *, field: str = "customer_id") -> Exists:
    """``customer_visible_to`` for a signed-in user who does not see every level, from the user's
    ID alone: for a statement compiled once and run with each user's ID (crm.compiled_reads)."""
    return ~Exists(_hidden_from(user_id).filter(pk=OuterRef(field)))


def customer_visibility_sql(user, *, alias: str) -> tuple[str, dict]:
    """The same rule as an SQL fragment on the customers_customer row ``alias``, with its named
    parameters (``%(visible_...)s``), for set-based code such as the call queue's claim."""
    levels = ", ".join(f"'{level}'" for level in RESTRICTED_LEVELS)
    sql = f"""({alias}.confidentiality NOT IN ({levels}) OR %(visible_all)s
        OR EXISTS (SELECT 1 FROM customers_customer_authorized_staff visible_named
                   WHERE visible_named.customer_id = {alias}.id AND visible_named.user_id = %(visible_user)s)
        OR ({alias}.confidentiality = '{Confidentiality.CONFIDENTIAL}'
            AND {alias}.store_id IN ({_MANAGED_STORES_SQL})))"""
    params = {"visible_all": sees_every_level(user), "visible_user": user.pk}
    return sql, params


def customer_queryset_for_user(user) -> QuerySet[Customer]:
    """The cards the user may see: the user's stores, and the levels the user may see there."""
    if not (user and user.is_authenticated):
        return Customer.objects.none()
    return _customers_visible(scope=store_scope(user), every_level=sees_every_level(user), user_id=user.pk)


def _customers_visible(*, scope: tuple[int, ...] | None, every_level: bool, user_id: int) -> QuerySet[Customer]:
    """The rule from its inputs: the stores (None: all), whether every level is seen, the user's ID."""
    customers = in_stores(Customer.objects.all(), scope)
    return customers if every_level else customers.filter(_visibility_condition(user_id))


SEARCH_BRANCH_LIMIT = 500
CJK_PATTERN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
PHONE_QUERY_PATTERN = re.compile(r"[\d\s\-+()]+", re.ASCII)
LETTERS_PATTERN = re.compile(r"[a-z]+", re.ASCII)
ALNUM_PATTERN = re.compile(r"[A-Z0-9]+", re.ASCII)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# --- search by phone digits -------------------------------------------------------------------
#
# A search by digits reveals numbers: from the masked 138****1234 and a match on guessed middle
# digits a whole number is rebuilt. So (customers/phone_search.py audits and counts each one):
# - a whole number (mobile, or landline with its area code) always works, as at an incoming call;
# - a name (or its pinyin / initials) with the last four digits ("张伟 1234"), the way a customer
#   at the desk gives it: the last four are shown in the mask anyway;
# - any part of a number, from MIN_PARTIAL_PHONE_DIGITS digits, only for staff who see whole
#   numbers (for them a match reveals nothing new).

MIN_PARTIAL_PHONE_DIGITS = 7
NAME_WITH_LAST_FOUR_PATTERN = re.compile(
    r"(?P<name>[^\d\s]+)\s*(?P<digits>\d{4})|(?P<first>\d{4})\s*(?P<last>[^\d\s]+)"
)


@dataclass(frozen=True)
class PhoneQuery:
    """A search by phone digits: ``kind`` is mobile or landline (a whole number), partial (any part
    of a mobile) or name_last_four (a name part and the mobile's last four digits)."""

    kind: str
    digits: str
    name: str = ""

    @property
    def is_whole_number(self) -> bool:
        return self.kind in ("mobile", "landline")


def phone_query_parse(search: str) -> PhoneQuery | None:
    """The phone part of a search text, or None when the text is not a search by phone digits."""
    from customers.dms.parsing import FieldError, normalize_phone

    text = unicodedata.normalize("NFKC", search).strip()
    if PHONE_QUERY_PATTERN.fullmatch(text):
        digits = re.sub(r"\D", "", text)
        if len(digits) > 11 and digits.startswith(("0086", "86")):
            digits = digits[-11:]
        if len(digits) < 4:
            return None
        try:
            mobile, landline = normalize_phone(text)
        except FieldError:
            mobile = landline = None
        if mobile:
            return PhoneQuery("mobile", mobile)
        if landline:
            return PhoneQuery("landline", landline)
        return PhoneQuery("partial", digits)
    match = NAME_WITH_LAST_FOUR_PATTERN.fullmatch(text)
    if match:
        name = (match["name"] or match["last"]).lower()
        if CJK_PATTERN.search(name) or LETTERS_PATTERN.fullmatch(name):
            return PhoneQuery("name_last_four", match["digits"] or match["first"], name)
    return None


def phone_query_refusal(*, user, query: PhoneQuery) -> str:
    """Why this user may not search by these digits ('' when the search is allowed)."""
    from django.utils.translation import gettext as _

    from crm.masking import can_see_full_phone

    if query.kind != "partial":
        return ""
    if not can_see_full_phone(user):
        return _("To search by phone, enter the whole number, or a name with the last four digits (张伟 1234).")
    if len(query.digits) < MIN_PARTIAL_PHONE_DIGITS:
        return _("To search by part of a number, enter at least %(count)d digits.") % {
            "count": MIN_PARTIAL_PHONE_DIGITS
        }
    return ""


def customer_search_sql(search: str, *, phone: PhoneQuery | None = None) -> tuple[str, list] | None:
    """The SQL of the IDs of customers matching ``search`` (a UNION of indexed look-ups, each capped):
    customer_no, name (prefix; contains from 3 characters), pinyin (full or initials, prefix), plate
    (exact; contains from 3 characters), VIN (whole or its last 6) and ``phone``, a search by phone
    digits already allowed (phone_query_parse, phone_query_refusal) and audited."""
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
    if phone is not None:
        card = "SELECT id FROM customers_customer WHERE "
        if phone.kind == "mobile":
            branch(card + "mobile = %s", phone.digits)
        elif phone.kind == "landline":
            branch(card + "landline = %s", phone.digits)
        elif phone.kind == "partial":
            branch(card + "mobile LIKE %s", "%" + phone.digits + "%")
        elif CJK_PATTERN.search(phone.name):
            branch(card + "name LIKE %s AND right(mobile, 4) = %s", _like_escape(phone.name) + "%", phone.digits)
        else:
            branch(card + "name_initials LIKE %s AND right(mobile, 4) = %s", phone.name + "%", phone.digits)
            branch(card + "name_pinyin LIKE %s AND right(mobile, 4) = %s", phone.name + "%", phone.digits)
    return " UNION ".join(branches), params


def customer_list_for_user(*, user, search: str = "", phone: PhoneQuery | None = None) -> QuerySet[Customer]:
    """The user's cards, narrowed by ``search``; ``phone`` is the search's phone part when it was
    allowed and audited (customers.phone_search.customer_search), else digits match no mobile."""
    queryset = customer_queryset_for_user(user).select_related("store")
    found = customer_search_sql(search, phone=phone)
    if found is not None:
        sql, params = found
        # The matching IDs first (each branch an index look-up, capped), then the scoped cards by
        # primary key: a semi-join against the whole table would scan a million rows.
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            ids = [row[0] for row in cursor.fetchall()]
        queryset = queryset.filter(pk__in=ids)
    return queryset.order_by("customer_no")


CUSTOMER_LIST_ORDERS = {
    "customer_no": ("customer_no",),
    "name": ("name_pinyin", "customer_no"),
    "-last_visit": (F("stats__last_visit").desc(nulls_last=True), "customer_no"),
}


def customer_list_refine(
    queryset: QuerySet[Customer],
    *,
    store=None,
    visit: str = "",
    order: str = "customer_no",
    conditions: Iterable[Q] = (),
) -> QuerySet[Customer]:
    """The customer list narrowed to one of the user's stores and to when they last visited (the
    segments' active / dormant / lost: within 6 months, 6 to 12 months ago, longer; or never), and
    put in the chosen order (customer number, name by pinyin, or last visit, newest first and
    never-seen last). ``conditions`` are the ticked filters other apps add (customers/list_filters.py)."""
    if store is not None:
        queryset = queryset.filter(store=store)
    for condition in conditions:
        queryset = queryset.filter(condition)
    if visit:
        today = timezone.localdate()
        six, twelve = add_months(today, -6), add_months(today, -12)
        queryset = queryset.filter(
            {
                "active": Q(stats__last_visit__gte=six),
                "dormant": Q(stats__last_visit__lt=six, stats__last_visit__gte=twelve),
                "lost": Q(stats__last_visit__lt=twelve),
                "never": Q(stats__last_visit__isnull=True),
            }[visit]
        )
    return queryset.order_by(*CUSTOMER_LIST_ORDERS.get(order, CUSTOMER_LIST_ORDERS["customer_no"]))


def customer_with_matched_vehicle(queryset: QuerySet[Customer], *, search: str) -> QuerySet[Customer]:
    """The customers annotated with the plate and VIN of the vehicle that ``search`` matched (the
    plate and VIN rules of customer_search_sql), ``matched_vin`` and ``matched_plate``, None when it
    matched none; computed in the page's own query, for its rows only."""
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", search).strip().upper())
    if not compact:
        return queryset
    condition = Q(plate_no=compact)
    if len(compact) >= 3:
        condition |= Q(plate_no__contains=compact)
    if ALNUM_PATTERN.fullmatch(compact) and len(compact) == 17:
        condition |= Q(vin=compact)
    if ALNUM_PATTERN.fullmatch(compact) and len(compact) == 6:
        condition |= Q(vin__endswith=compact)
    matched = Vehicle.objects.filter(condition, customer_id=OuterRef("pk")).order_by("vin")
    return queryset.annotate(
        matched_vin=Subquery(matched.values("vin")[:1]), matched_plate=Subquery(matched.values("plate_no")[:1])
    )


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
    """The customer, or 404 when it does not exist or is outside what the user may see.

    Asked by every card and every call, so compiled once per scope (crm.compiled_reads): the
    statement's text depends only on the stores the user sees (in the key, read on every request)
    and on whether the user sees every level; the user's ID is a value, and whether the user is
    named on a restricted card or manages its store is read inside the statement, as in
    ``customer_queryset_for_user``."""
    try:
        pk = int(pk)
    except (ValueError, TypeError):
        raise Http404 from None
    if not (user and user.is_authenticated):
        raise Http404
    scope, every_level = store_scope(user), sees_every_level(user)

    def build(*, pk: int, user_id: int) -> QuerySet[Customer]:
        customers = _customers_visible(scope=scope, every_level=every_level, user_id=user_id)
        return customers.select_related("store").filter(pk=pk)

    found = compiled_read(("customer for user", scope, every_level), build, pk=pk, user_id=user.pk)
    if not found:
        raise Http404
    return found[0]


# --- what a user may change on a card ----------------------------------------------------------

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


#: A customer's vehicles as the card, the booking forms and the call panel list them.
CUSTOMER_VEHICLE_ORDER = ("-delivery_date", "vin")


def customer_vehicles(*, customer: Customer) -> QuerySet[Vehicle]:
    return customer.vehicles.order_by(*CUSTOMER_VEHICLE_ORDER)


# --- what a card shows, read once per card object --------------------------------------------------
#
# The card (and the call panel, which shows the same customer) asks for some of these from several
# places (the vehicle list, the deliveries on the timeline, the interviews panel): each is read once
# per customer object, i.e. once per request, and compiled to SQL once per process
# (crm.compiled_reads), as none depends on the user: the card itself was read through the user's scope.


def once_per_card(customer: Customer, name: str, read):
    """``read()``, kept on the customer object under ``name`` for the rest of the request."""
    kept = customer.__dict__.setdefault("_card_reads", {})
    if name not in kept:
        kept[name] = read()
    return kept[name]


def card_vehicles(*, customer: Customer) -> list[Vehicle]:
    """The customer's vehicles, newest delivery first (as ``customer_vehicles``)."""

    def read():
        vehicles = compiled_read(("card vehicles",), _vehicles_of, customer_id=customer.pk)
        for vehicle in vehicles:
            Vehicle.customer.field.set_cached_value(vehicle, customer)
        return vehicles

    return once_per_card(customer, "vehicles", read)


def _vehicles_of(*, customer_id: int) -> QuerySet[Vehicle]:
    return Vehicle.objects.filter(customer_id=customer_id).order_by(*CUSTOMER_VEHICLE_ORDER)


def card_repair_orders(*, customer: Customer, limit: int = 50) -> list[RepairOrder]:
    """The customer's latest ``limit`` repair orders with their vehicle: open ones (no settle day) first,
    then the latest settled."""

    def build(*, customer_id: int) -> QuerySet[RepairOrder]:
        return (
            RepairOrder.objects.filter(vehicle__customer_id=customer_id)
            .select_related("vehicle")
            .order_by("-settle_date", "-ro_no")[:limit]
        )

    return compiled_read(("card repair orders", limit), build, customer_id=customer.pk)


def customer_note_queryset_for_user(user) -> QuerySet[CustomerNote]:
    """Notes on the cards the user may see (never a 绝密 or 机密 card the user may not see)."""
    return CustomerNote.objects.filter(customer__in=customer_queryset_for_user(user))


def segment_queryset_for_user(user) -> QuerySet[Segment]:
    """Segments of the stores the user may see. A segment without a store is the group's: only staff
    who see every store may read or edit it."""
    queryset = Segment.objects.select_related("store").order_by("name")
    if not user.is_authenticated:
        return queryset.none()
    store_ids = visible_store_ids(user)
    if store_ids is None:
        return queryset
    return queryset.filter(store_id__in=store_ids)


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


def customer_sms_allowed_sql(*, purpose: str, alias: str = "cu", require_grant: bool = False) -> str:
    """The SQL condition that the customer row ``alias`` (a customers_customer row in the caller's
    FROM) may get an SMS of ``purpose``: not opted out of SMS altogether, and that purpose's consent
    not withdrawn. Owners the DMS brought in carry no consent record: the follow-up rules (reminders
    and the greetings of a dealership's care for its owners) reach them until they withdraw; a
    promotion sent to a segment (``require_grant``) needs marketing consent recorded as granted.
    Each test is one look-up of the consent's unique (customer, purpose) index; no parameters."""
    if purpose not in ConsentPurpose.values:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    if not alias.isidentifier():
        raise ValueError(f"not an SQL alias: {alias!r}")
    consent = (
        f"SELECT 1 FROM {CustomerConsent._meta.db_table} consent"
        f" WHERE consent.customer_id = {alias}.id AND consent.purpose = '{purpose}'"
    )
    if require_grant:
        return f"({alias}.sms_opt_out = false AND EXISTS ({consent} AND consent.is_granted))"
    return f"({alias}.sms_opt_out = false AND NOT EXISTS ({consent} AND NOT consent.is_granted))"


def customer_consents(*, customer: Customer) -> list[dict]:
    """The customer's consent per purpose as it stands: ``is_granted`` True or False from the record,
    None when none was ever recorded (reminders and greetings then go out, promotions do not)."""
    consents = compiled_read(("card consents",), _consents_of, customer_id=customer.pk)
    records = {consent.purpose: consent for consent in consents}
    return [
        {"purpose": purpose, "label": label, "record": records.get(purpose),
         "is_granted": records[purpose].is_granted if purpose in records else None}
        for purpose, label in ConsentPurpose.choices
    ]  # fmt: skip


def _consents_of(*, customer_id: int) -> QuerySet[CustomerConsent]:
    return CustomerConsent.objects.filter(customer_id=customer_id).select_related("recorded_by")


def customer_consent_history(*, customer: Customer, limit: int = 50) -> list:
    """Every recorded consent change of the customer, newest first."""

    def build(*, customer_id: int) -> QuerySet:
        return (
            CustomerConsent.history.filter(customer_id=customer_id)
            .select_related("recorded_by")
            .order_by("-history_date", "-history_id")[:limit]
        )

    return compiled_read(("consent history", limit), build, customer_id=customer.pk)


def customer_is_erased(*, customer: Customer) -> bool:
    """Whether the card was erased at the customer's request (it has a tombstone)."""
    return ErasedCustomer.objects.filter(customer=customer).exists()


# --- seams for other apps ----------------------------------------------------------------------


def customers_with_mobile(*, mobile: str) -> QuerySet[Customer]:
    """Every card with this mobile, in any store (an inbound SMS reply is matched by mobile), newest
    first. Not scoped to a user: for the system's own work (the SMS gateway's callbacks)."""
    return Customer.objects.filter(mobile=mobile).order_by("-id")


# --- SQL seams for set-based code in other apps -------------------------------------------------
#
# Follow-ups and complaints read cards, vehicles and repair orders in set-based SQL. They name the
# tables and the conditions below, written here once, never ``customers_*`` by hand.

CUSTOMER_TABLE = Customer._meta.db_table
VEHICLE_TABLE = Vehicle._meta.db_table
REPAIR_ORDER_TABLE = RepairOrder._meta.db_table
# A card erased at the customer's request keeps its row (statistics) and has a tombstone here: set-based
# code that would start something new for a card (a club membership…) leaves those out.
ERASED_CUSTOMER_TABLE = ErasedCustomer._meta.db_table


def not_erased_sql(customer_id: str) -> str:
    """An SQL condition: the card ``customer_id`` (a column expression) was not erased."""
    return f"NOT EXISTS (SELECT 1 FROM {ERASED_CUSTOMER_TABLE} erased WHERE erased.customer_id = {customer_id})"


def _require_alias(alias: str) -> str:
    if not alias.isidentifier():
        raise ValueError(f"not an SQL alias: {alias!r}")
    return alias


def vehicle_is_active_sql(*, alias: str) -> str:
    """The condition that the vehicle row ``alias`` is active (not sold on, not scrapped); no
    parameters."""
    return f"{_require_alias(alias)}.status = '{VehicleStatus.ACTIVE.value}'"


def customer_has_active_vehicle_or_none_sql(*, alias: str) -> str:
    """The condition that the customer row ``alias`` has no vehicle at all or at least one active
    vehicle: an owner whose every vehicle was sold on or scrapped is no longer the dealer's owner."""
    alias = _require_alias(alias)
    return (
        f"(NOT EXISTS (SELECT 1 FROM {VEHICLE_TABLE} ev WHERE ev.customer_id = {alias}.id)"
        f" OR EXISTS (SELECT 1 FROM {VEHICLE_TABLE} ev WHERE ev.customer_id = {alias}.id"
        f" AND {vehicle_is_active_sql(alias='ev')}))"
    )


def customer_last_visit_sql(*, alias: str) -> str:
    """The last visit of the customer row ``alias``, as an SQL date expression: the latest of its
    vehicles' delivery dates and its repair orders' settle dates (NULL when it has neither). Two
    index look-ups per customer; no parameters."""
    alias = _require_alias(alias)
    return f"""GREATEST(
    (SELECT max(lv.delivery_date) FROM {VEHICLE_TABLE} lv WHERE lv.customer_id = {alias}.id),
    (SELECT max(lro.settle_date) FROM {REPAIR_ORDER_TABLE} lro
     JOIN {VEHICLE_TABLE} lrv ON lrv.id = lro.vehicle_id WHERE lrv.customer_id = {alias}.id))"""


#: The fields of a card and its vehicle a message or a call script may name, as ``{placeholder}``.
CARD_PLACEHOLDERS = ("name", "plate", "model", "points")
#: Every ``{placeholder}`` an SMS or a call script may hold: the card's and vehicle's fields, and what
#: the follow-ups add (the date the message is about, the store, a holiday, an event). Follow-ups
#: fill them (followups/placeholders.py); every app that lets staff write a message checks against it.
MESSAGE_PLACEHOLDERS = (
    "name", "plate", "model", "date", "time", "store_phone", "store", "holiday", "event", "points",
)  # fmt: skip
_BRACED = re.compile(r"\{([^{}]*)\}")


def message_unknown_placeholders(text: str) -> list[str]:
    """The ``{…}`` of ``text`` that are not placeholders (``{unknown}``, ``{Name}``, ``{姓名}``), in order:
    a message holding one would reach customers with the braces in it."""
    return [f"{{{name}}}" for name in _BRACED.findall(text or "") if name not in MESSAGE_PLACEHOLDERS]


def message_has_unpaired_brace(text: str) -> bool:
    """Whether ``text`` has a ``{`` or ``}`` outside a ``{…}`` pair (``您好{name``): it would reach
    customers as it is."""
    rest = _BRACED.sub("", text or "")
    return "{" in rest or "}" in rest


def card_placeholder_values(*, customer: Customer, vehicle: Vehicle | None) -> dict[str, str]:
    """The text of each of ``CARD_PLACEHOLDERS`` for a card and (optionally) one of its vehicles;
    the same text as ``card_placeholder_sql`` gives in SQL."""
    return {
        "name": customer.name,
        "plate": vehicle.plate_no if vehicle else "",
        "model": vehicle.series if vehicle else "",
        "points": "" if customer.points_balance is None else str(customer.points_balance),
    }


def card_placeholder_sql(*, customer_alias: str, vehicle_alias: str) -> dict[str, str]:
    """An SQL text expression per ``CARD_PLACEHOLDERS`` over the customer row ``customer_alias`` and
    the (left-joined, possibly NULL) vehicle row ``vehicle_alias``."""
    customer, vehicle = _require_alias(customer_alias), _require_alias(vehicle_alias)
    return {
        "name": f"{customer}.name",
        "plate": f"COALESCE({vehicle}.plate_no, '')",
        "model": f"COALESCE({vehicle}.series, '')",
        "points": f"COALESCE({customer}.points_balance::text, '')",
    }


# The cards staff make by hand (customers.selectors.cards), under the package's name.
from customers.selectors.cards import (  # noqa: E402, F401
    customer_likely_duplicates,
    staff_display_name,
    store_sales_staff,
    store_staff,
    vehicle_with_vin,
)
