"""The data spine: customers (owners), their vehicles and the vehicles' repair orders."""

import datetime

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Right, Upper
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.models import Store, TimeStampedModel
from customers.choices import (
    AppointmentPurpose,
    AppointmentSource,
    AppointmentStatus,
    Confidentiality,
    ConsentPurpose,
    ConsentSource,
    ContactChannel,
    CustomerState,
    DeliverySource,
    Department,
    Gender,
    ImportKind,
    ImportStatus,
    IncomeBand,
    IssueSeverity,
    MarkSource,
    NoteKind,
    ProspectLostReason,
    ProspectSource,
    ProspectStatus,
    RepairType,
    SatisfactionSource,
    SatisfactionVerdict,
    VehicleStatus,
)
from customers.dms.reference import IMPORT_FIELDS


class DmsSynced(models.Model):
    """What the DMS import last saw of a row it wrote or confirmed (客户编号 / VIN / 工单号): a 64-bit
    hash of the raw source row (its mapped cells, the default store, the parsing rules' version) and
    the row's ``updated_at`` right after that import.

    A re-import skips parsing a row whose hash is unchanged while ``updated_at`` is still
    ``dms_synced_at`` (nothing has changed the row since: a card edit moves ``updated_at`` and so
    forces the row through the full parse and comparison again). Written only by
    ``customers.dms_import.importer``, in the import's own transaction; a row imported with a warning gets no
    hash (it is parsed every time). Never part of the change history."""

    dms_fingerprint = models.BigIntegerField(_("DMS row fingerprint"), null=True, blank=True, editable=False)
    dms_synced_at = models.DateTimeField(_("last confirmed by a DMS import"), null=True, blank=True, editable=False)

    class Meta:
        abstract = True


DMS_SYNC_FIELDS = ["dms_fingerprint", "dms_synced_at"]


class Customer(DmsSynced, TimeStampedModel):
    """An owner's customer card (客户卡): static data, membership, confidentiality and opt-outs."""

    customer_no = models.CharField(_("customer number"), max_length=40, unique=True)
    # Indexed by customer_store_no_idx (store, customer_no): a store_id index of its own is only written.
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="customers", db_index=False
    )
    name = models.CharField(pgettext_lazy("a person's", "name"), max_length=100)
    name_pinyin = models.CharField(_("name in pinyin"), max_length=300, blank=True, editable=False)
    name_initials = models.CharField(_("pinyin initials"), max_length=50, blank=True, editable=False)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    lunar_birthday_month = models.PositiveSmallIntegerField(_("lunar birthday month"), null=True, blank=True)
    lunar_birthday_day = models.PositiveSmallIntegerField(_("lunar birthday day"), null=True, blank=True)
    mobile = models.CharField(_("mobile"), max_length=11, blank=True)
    landline = models.CharField(_("landline"), max_length=30, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    employer = models.CharField(_("employer"), max_length=200, blank=True)
    job_title = models.CharField(_("job title"), max_length=100, blank=True)
    province = models.CharField(_("province"), max_length=30, blank=True)
    city = models.CharField(_("city"), max_length=30, blank=True)
    district = models.CharField(_("district"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    source = models.CharField(_("source"), max_length=50, blank=True)
    income_band = models.CharField(_("income band"), max_length=20, choices=IncomeBand.choices, blank=True)
    interests = models.CharField(_("interests"), max_length=300, blank=True)
    preferred_channel = models.CharField(
        _("preferred contact channel"), max_length=10, choices=ContactChannel.choices, blank=True
    )
    preferred_contact_time = models.CharField(_("preferred contact time"), max_length=100, blank=True)
    member_card_no = models.CharField(_("membership card number"), max_length=40, blank=True)
    member_tier = models.CharField(_("membership tier"), max_length=20, blank=True)
    points_balance = models.IntegerField(_("points balance"), null=True, blank=True)
    dms_created_date = models.DateField(_("created in DMS"), null=True, blank=True)
    # A card made in the CRM before the DMS knows the customer: its number is provisional
    # (CRM-<store>-<sequence>) until a DMS import adopts the card (docs/desk.md).
    is_provisional = models.BooleanField(_("provisional card"), default=False)
    confidentiality = models.CharField(
        _("confidentiality"), max_length=20, choices=Confidentiality.choices, default=Confidentiality.NORMAL
    )
    authorized_staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("named staff"),
        blank=True,
        related_name="authorized_customers",
        help_text=_("The staff who see a 绝密 or 机密 card (a 机密 card also by its store's managers)."),
    )
    is_key_customer = models.BooleanField(_("key customer"), default=False)
    do_not_call = models.BooleanField(_("do not call"), default=False)
    do_not_call_at = models.DateTimeField(_("do-not-call set at"), null=True, blank=True)
    do_not_call_source = models.CharField(
        _("do-not-call source"), max_length=20, choices=MarkSource.choices, blank=True
    )
    do_not_call_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("do-not-call set by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    sms_opt_out = models.BooleanField(_("opted out of SMS"), default=False)
    sms_opt_out_at = models.DateTimeField(_("SMS opt-out at"), null=True, blank=True)
    sms_opt_out_source = models.CharField(
        _("SMS opt-out source"), max_length=20, choices=MarkSource.choices, blank=True
    )
    sms_opt_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("SMS opt-out set by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The change history is read per card (by id); its copies of the key and foreign keys need no index.
    history = HistoricalRecords(
        excluded_fields=["name_pinyin", "name_initials", "updated_at", *DMS_SYNC_FIELDS],
        no_db_index=["customer_no", "store", "do_not_call_by", "sms_opt_out_by"],
    )

    class Meta:
        ordering = ["customer_no"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [
            ("view_unmasked_phone", _("Can see full phone numbers")),
            ("search_by_phone", _("Can search customers by phone number")),
            ("export_customers", _("Can export customer data")),
            ("import_dms", _("Can import DMS exports")),
            ("change_customer_flags", _("Can set key-customer and confidentiality flags")),
            ("export_personal_data", _("Can download everything held about a customer")),
            ("erase_customer", _("Can erase a customer's personal data")),
        ]
        indexes = [
            models.Index(fields=["store", "customer_no"], name="customer_store_no_idx"),
            models.Index(fields=["mobile"], name="customer_mobile_idx"),
            models.Index(fields=["birthday"], name="customer_birthday_idx"),
            GinIndex(fields=["name"], opclasses=["gin_trgm_ops"], name="customer_name_trgm"),
            models.Index(fields=["name"], opclasses=["varchar_pattern_ops"], name="customer_name_prefix"),
            # The API's orders by name and by last change (a sync client's "changed since"), each with
            # its tie-break (crm.api.filters.StableOrderingFilter): 650-950 ms → a few ms a page.
            models.Index(fields=["name", "customer_no"], name="customer_name_order_idx"),
            models.Index(fields=["updated_at", "customer_no"], name="customer_updated_idx"),
            GinIndex(fields=["mobile"], opclasses=["gin_trgm_ops"], name="customer_mobile_trgm"),
            # "张伟 1234": a name with the mobile's last four digits (a common surname's prefix alone
            # matches tens of thousands of cards; without it the search read the whole table).
            models.Index(Right("mobile", 4), name="customer_mobile_last4_idx"),
            models.Index(fields=["name_pinyin"], opclasses=["varchar_pattern_ops"], name="customer_pinyin_prefix"),
            models.Index(fields=["name_initials"], opclasses=["varchar_pattern_ops"], name="customer_initials_prefix"),
            models.Index(Upper("customer_no"), name="customer_no_upper_idx"),
            # The DMS import looks for provisional cards to adopt: the few there are, by store.
            models.Index(fields=["store", "mobile"], condition=Q(is_provisional=True), name="customer_provisional_idx"),
            # Every scoped read sets apart the few 绝密 and 机密 cards: find them without a table scan.
            models.Index(
                fields=["confidentiality"],
                condition=Q(confidentiality__in=["top_secret", "confidential"]),
                name="customer_restricted_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(lunar_birthday_month__isnull=True) | Q(lunar_birthday_month__range=(1, 12)),
                name="customer_lunar_month_range",
                violation_error_message=_("A lunar month is between 1 and 12."),
            ),
            models.CheckConstraint(
                condition=Q(lunar_birthday_day__isnull=True) | Q(lunar_birthday_day__range=(1, 30)),
                name="customer_lunar_day_range",
                violation_error_message=_("A lunar day is between 1 and 30."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_no})"

    @property
    def is_vip(self) -> bool:
        return self.member_tier in {"金卡", "钻石", "终身VIP"}


class Vehicle(DmsSynced, TimeStampedModel):
    """A car (车辆档案) and its owner; vehicle-level follow-ups read its dates."""

    vin = models.CharField(_("VIN"), max_length=17, unique=True)
    customer = models.ForeignKey(Customer, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="vehicles")
    # Indexed by vehicle_store_status_idx (store, status).
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="vehicles", db_index=False
    )
    plate_no = models.CharField(_("plate number"), max_length=20, blank=True)
    brand = models.CharField(_("brand"), max_length=50, blank=True)
    series = models.CharField(_("series"), max_length=50, blank=True)
    model = models.CharField(_("model"), max_length=100, blank=True)
    color = models.CharField(_("colour"), max_length=30, blank=True)
    delivery_date = models.DateField(_("delivery date"), null=True, blank=True)
    sales_consultant = models.CharField(_("sales consultant"), max_length=50, blank=True)
    invoice_price = models.DecimalField(_("invoice price"), max_digits=12, decimal_places=2, null=True, blank=True)
    warranty_end = models.DateField(_("warranty end"), null=True, blank=True)
    insurer = models.CharField(_("insurer"), max_length=50, blank=True)
    insurance_expiry = models.DateField(_("insurance expiry"), null=True, blank=True)
    inspection_due = models.DateField(_("inspection due"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=VehicleStatus.choices, default=VehicleStatus.ACTIVE)
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    status_source = models.CharField(_("status source"), max_length=20, choices=MarkSource.choices, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("status changed by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    history = HistoricalRecords(
        excluded_fields=["updated_at", *DMS_SYNC_FIELDS], no_db_index=["vin", "customer", "store", "status_changed_by"]
    )

    class Meta:
        ordering = ["vin"]
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        indexes = [
            # Each with the API's tie-break (crm.api.filters.StableOrderingFilter): the vehicles of a
            # day, or the many with no insurance date on record, in VIN order from the index.
            models.Index(fields=["delivery_date", "vin"], name="vehicle_delivery_vin_idx"),
            models.Index(fields=["insurance_expiry", "vin"], name="vehicle_insurance_vin_idx"),
            models.Index(fields=["warranty_end"], name="vehicle_warranty_idx"),
            models.Index(fields=["plate_no"], name="vehicle_plate_idx"),
            GinIndex(fields=["plate_no"], opclasses=["gin_trgm_ops"], name="vehicle_plate_trgm"),
            models.Index(Right("vin", 6), name="vehicle_vin_last6_idx"),
            models.Index(fields=["store", "status"], name="vehicle_store_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plate_no or '—'} {self.vin}"


class RepairOrder(DmsSynced, TimeStampedModel):
    """A repair order (维修工单) as settled in the DMS."""

    ro_no = models.CharField(_("repair order number"), max_length=40, unique=True)
    # Both indexed by the composite indexes below that lead with them (ro_vehicle_settle_idx,
    # ro_store_settle_idx); an index of the key alone would only cost every import its upkeep.
    vehicle = models.ForeignKey(
        Vehicle, verbose_name=_("vehicle"), on_delete=models.PROTECT, related_name="repair_orders", db_index=False
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="repair_orders", db_index=False
    )
    open_date = models.DateField(_("opened"), null=True, blank=True)
    settle_date = models.DateField(_("settled"), null=True, blank=True)
    repair_type = models.CharField(_("repair type"), max_length=30, choices=RepairType.choices, blank=True)
    mileage = models.PositiveIntegerField(_("mileage (km)"), null=True, blank=True)
    service_advisor = models.CharField(_("service advisor"), max_length=50, blank=True)
    labor_amount = models.DecimalField(_("labour"), max_digits=12, decimal_places=2, null=True, blank=True)
    parts_amount = models.DecimalField(_("parts"), max_digits=12, decimal_places=2, null=True, blank=True)
    total_amount = models.DecimalField(_("total"), max_digits=12, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["-settle_date", "ro_no"]
        verbose_name = _("repair order")
        verbose_name_plural = _("repair orders")
        indexes = [
            models.Index(fields=["settle_date"], name="ro_settle_idx"),
            models.Index(fields=["vehicle", "settle_date"], name="ro_vehicle_settle_idx"),
            models.Index(fields=["store", "settle_date"], name="ro_store_settle_idx"),
        ]

    def __str__(self) -> str:
        return self.ro_no


class CustomerNote(TimeStampedModel):
    """A note an advisor adds to a card (a visit, a conversation); it shows on the card's timeline."""

    customer = models.ForeignKey(Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=10, choices=NoteKind.choices, default=NoteKind.NOTE)
    text = models.TextField(_("text"), max_length=2000)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("customer note")
        verbose_name_plural = _("customer notes")
        indexes = [models.Index(fields=["customer", "-created_at"], name="customer_note_card_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.text[:40]}"


class HeaderMappingProfile(TimeStampedModel):
    """How one DMS vendor names the columns of one report: aliases (header → field), admin-editable.

    Headers not listed fall back to the reference format (docs/dms-import.md), so a profile only names
    what differs ("手机" or "联系电话" → mobile)."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("report"), max_length=20, choices=ImportKind.choices)
    aliases = models.JSONField(_("aliases (header → field)"), default=dict, blank=True)
    is_default = models.BooleanField(_("default for this report"), default=False)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("header mapping profile")
        verbose_name_plural = _("header mapping profiles")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "name"],
                name="mapping_profile_kind_name_unique",
                violation_error_message=_("A profile of this name already exists for this report."),
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(is_default=True),
                name="mapping_profile_one_default_per_kind",
                violation_error_message=_("Only one profile per report can be the default."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.name}"

    def clean(self) -> None:
        if not isinstance(self.aliases, dict):
            raise ValidationError({"aliases": _('Write the aliases as a JSON object: {"header": "field"}.')})
        known = set(IMPORT_FIELDS.get(self.kind, ()))
        unknown = sorted(str(field) for field in self.aliases.values() if field not in known)
        if unknown:
            raise ValidationError(
                {"aliases": _("Unknown fields: %(fields)s. Known: %(known)s.")
                 % {"fields": ", ".join(unknown), "known": ", ".join(sorted(known))}}
            )  # fmt: skip


class ImportBatch(TimeStampedModel):
    """One DMS file brought in (or previewed): who, what, the counts and the progress."""

    kind = models.CharField(_("report"), max_length=20, choices=ImportKind.choices)
    file_name = models.CharField(_("file name"), max_length=255)
    store = models.ForeignKey(
        Store, verbose_name=_("default store"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    profile = models.ForeignKey(
        HeaderMappingProfile, verbose_name=_("header mapping"), null=True, blank=True, on_delete=models.SET_NULL
    )
    is_dry_run = models.BooleanField(_("preview only"), default=False)
    status = models.CharField(_("status"), max_length=20, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows read"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    unchanged_count = models.PositiveIntegerField(_("unchanged"), default=0)
    rejected_count = models.PositiveIntegerField(_("rejected"), default=0)
    warning_count = models.PositiveIntegerField(_("warnings"), default=0)
    error_message = models.TextField(_("error"), blank=True)
    source_file = models.FileField(_("uploaded file"), upload_to="dms_imports/", blank=True)
    errors_file = models.FileField(_("rejected rows file"), upload_to="dms_imports/errors/", blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("DMS import")
        verbose_name_plural = _("DMS imports")

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.file_name}"

    @property
    def progress_percent(self) -> int:
        if self.status in (ImportStatus.DONE, ImportStatus.PREVIEWED):
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(self.processed_rows * 100 / self.total_rows))

    def summary(self) -> str:
        return (
            f"created={self.created_count} updated={self.updated_count} unchanged={self.unchanged_count} "
            f"rejected={self.rejected_count} warnings={self.warning_count}"
        )


class ImportIssue(models.Model):
    """A rejected row or a warning of an import: row number, column, value and the reason (an English
    msgid, shown in the reader's language)."""

    batch = models.ForeignKey(ImportBatch, verbose_name=_("import"), on_delete=models.CASCADE, related_name="issues")
    row_number = models.PositiveIntegerField(_("row"))
    column = models.CharField(_("column"), max_length=100, blank=True)
    value = models.CharField(_("value"), max_length=300, blank=True)
    reason = models.CharField(_("reason"), max_length=300)
    reason_params = models.JSONField(_("reason parameters"), null=True, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=IssueSeverity.choices)

    class Meta:
        ordering = ["batch", "row_number", "id"]
        verbose_name = _("import issue")
        verbose_name_plural = _("import issues")
        indexes = [models.Index(fields=["batch", "severity", "row_number"], name="import_issue_batch_idx")]

    def __str__(self) -> str:
        # The admin shows it on the batch page: in the reader's language, as the reason column.
        return f"{self.row_number}: {self.reason_display}"

    @property
    def reason_display(self) -> str:
        return self.render_reason(self.reason, self.reason_params)

    @staticmethod
    def render_reason(reason: str, params: dict | None) -> str:
        """A stored reason (English msgid and its parameters) in the reader's language."""
        text = gettext(reason)
        return text % params if params else text


class Segment(TimeStampedModel):
    """A saved, named filter over customers (traits, vehicles, lifecycle, activity, value, tier); the
    audience of SMS campaigns and club events. ``definition`` is validated by SegmentDefinitionForm."""

    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    definition = models.JSONField(_("filters"), default=dict, blank=True)
    store = models.ForeignKey(
        Store, verbose_name=_("store"), null=True, blank=True, on_delete=models.CASCADE, related_name="segments",
        help_text=_("Empty: every store the viewer may see."),
    )  # fmt: skip
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        constraints = [
            models.UniqueConstraint(
                fields=["name"], name="segment_name_unique", violation_error_message=_("A segment of this name exists.")
            )
        ]

    def __str__(self) -> str:
        return self.name


_VISIBLE = Q(is_restricted=False)
_TRAITS = ["gender", "district", "source", "member_tier", "value_tier"]


class CustomerStats(models.Model):
    """The segment facts of one customer (客户细分事实): one narrow row that every segment filter reads,
    so a segment count is a single-table query.

    Copies of the card's traits (store, gender, birthday, source, district, income, tier, whether
    the card is 绝密 or 机密), the brands / series / models of the customer's vehicles, and the
    figures: last visit L (docs/followups.md), 12-month spend and visits, value third per store, the
    newest delivery and its warranty end (DMS value, else delivery + 2 years). Dates are stored and
    compared with today when a segment is counted; 12-month figures are as of the last refresh.

    Kept set-based by ``customers.facts.customer_stats_refresh`` (nightly, and after an import that
    touched more than a third of all customers), ``customer_stats_refresh_after_import`` (the customers
    an import touched, then their stores' value thirds) and ``customer_stats_refresh_for_customers``
    (after a card edit through the service or the admin)."""

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), primary_key=True, on_delete=models.CASCADE, related_name="stats"
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    gender = models.CharField(_("gender"), max_length=1, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=50, blank=True)
    district = models.CharField(_("district"), max_length=30, blank=True)
    income_band = models.CharField(_("income band"), max_length=20, blank=True)
    member_tier = models.CharField(_("membership tier"), max_length=20, blank=True)
    # 绝密 or 机密: seen by named staff (and, 机密, the store's managers) only (customers.selectors).
    is_restricted = models.BooleanField(_("restricted (top secret or confidential)"), default=False)
    vehicle_brands = ArrayField(
        models.CharField(max_length=50), verbose_name=_("vehicle brands"), default=list, blank=True
    )
    vehicle_series = ArrayField(
        models.CharField(max_length=50), verbose_name=_("vehicle series"), default=list, blank=True
    )
    vehicle_models = ArrayField(
        models.CharField(max_length=100), verbose_name=_("vehicle models"), default=list, blank=True
    )
    last_visit = models.DateField(_("last visit"), null=True, blank=True)
    spend_12m = models.DecimalField(_("spend in 12 months"), max_digits=14, decimal_places=2, default=0)
    visits_12m = models.PositiveIntegerField(_("visits in 12 months"), default=0)
    value_tier = models.CharField(_("value third"), max_length=10, blank=True)
    latest_delivery = models.DateField(_("newest delivery"), null=True, blank=True)
    warranty_end = models.DateField(_("warranty end of the newest vehicle"), null=True, blank=True)
    as_of = models.DateField(_("figures written on"))

    class Meta:
        verbose_name = _("customer figures")
        verbose_name_plural = _("customer figures")
        # A segment count is an index-only scan of one of these (the rows of the viewer's stores
        # whose leading column is in range, every other common filter read from the index itself);
        # the few 绝密 and 机密 cards are counted apart through the last one.
        indexes = [
            models.Index(
                fields=["store", "last_visit"], include=[*_TRAITS, "vehicle_brands"], condition=_VISIBLE,
                name="stats_activity_idx",
            ),
            models.Index(
                fields=["store", "latest_delivery"], include=[*_TRAITS, "last_visit", "vehicle_brands"],
                condition=_VISIBLE, name="stats_lifecycle_idx",
            ),
            # Key columns only, so that B-tree deduplication keeps it a few MB: counts by traits alone
            # (or no filter at all) read it whole.
            models.Index(
                fields=["store", "gender", "value_tier", "member_tier", "district", "source", "income_band"],
                condition=_VISIBLE, name="stats_traits_idx",
            ),
            models.Index(
                fields=["store", "district", "gender"],
                include=["source", "member_tier", "value_tier", "last_visit", "latest_delivery"],
                condition=_VISIBLE, name="stats_district_idx",
            ),
            models.Index(
                fields=["store", "birthday"],
                include=["gender", "district", "member_tier", "value_tier", "last_visit", "latest_delivery",
                         "warranty_end"],
                condition=_VISIBLE, name="stats_age_idx",
            ),
            models.Index(fields=["customer"], condition=Q(is_restricted=True), name="stats_restricted_idx"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.last_visit}"


class CustomerConsent(models.Model):
    """A customer's consent for one purpose (PIPL): granted or withdrawn, when, how and who recorded
    it, with a note. One row per customer and purpose holds the current state; the change history
    keeps every earlier one. No row: service reminders are sent, marketing messages are not.

    Written only by ``customers.services.customer_consent_record``. The SMS conditions are
    ``customers.selectors.customer_sms_allowed_sql``."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="consents", db_index=False
    )
    purpose = models.CharField(_("purpose"), max_length=20, choices=ConsentPurpose.choices)
    is_granted = models.BooleanField(_("granted"))
    at = models.DateTimeField(_("given or withdrawn at"))
    source = models.CharField(pgettext_lazy("how it came", "source"), max_length=20, choices=ConsentSource.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    note = models.CharField(_("note"), max_length=300, blank=True)
    history = HistoricalRecords(no_db_index=["customer", "recorded_by"])

    class Meta:
        ordering = ["customer", "purpose"]
        verbose_name = _("customer consent")
        verbose_name_plural = _("customer consents")
        permissions = [("record_consent", _("Can record a customer's consent"))]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "purpose"],
                name="customer_consent_one_per_purpose",
                violation_error_message=_("The customer already has a consent for this purpose."),
            ),
        ]

    def __str__(self) -> str:
        state = gettext("granted") if self.is_granted else gettext("withdrawn")
        return f"{self.customer_id} {self.get_purpose_display()}: {state}"


class ErasedCustomer(models.Model):
    """The tombstone of a customer erased at their request: the DMS keys that would bring the person
    back (customer number; keyed hashes of the mobile and the VINs, never the values themselves), who
    erased the card, when and why. The DMS import rejects a row that matches one."""

    customer = models.OneToOneField(
        Customer, verbose_name=_("anonymised card"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="erasure",
    )  # fmt: skip
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    customer_no = models.CharField(_("DMS customer number"), max_length=40, unique=True)
    mobile_hash = models.CharField(_("mobile (keyed hash)"), max_length=64, blank=True)
    vin_hashes = ArrayField(
        models.CharField(max_length=64), verbose_name=_("VINs (keyed hashes)"), default=list, blank=True
    )
    reason = models.CharField(_("reason"), max_length=300)
    erased_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("erased by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    erased_at = models.DateTimeField(_("erased at"), auto_now_add=True)

    class Meta:
        ordering = ["-erased_at"]
        verbose_name = _("erased customer")
        verbose_name_plural = _("erased customers")
        indexes = [
            models.Index(fields=["store", "mobile_hash"], name="erased_store_mobile_idx"),
            GinIndex(fields=["vin_hashes"], name="erased_vin_hashes_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_no} ({self.erased_at:%Y-%m-%d})"


class ErasureHashKey(models.Model):
    """The key of the tombstones' hashes when ERASURE_HASH_KEY is not set: one row, derived from
    SECRET_KEY once (when the database is migrated, or on first use) and never changed, so that
    rotating SECRET_KEY does not let erased customers come back (customers.privacy.tombstone_pepper)."""

    key = models.CharField(_("key"), max_length=128)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("erasure hash key")
        verbose_name_plural = _("erasure hash keys")
        constraints = [
            models.CheckConstraint(
                condition=Q(id=1),
                name="erasurehashkey_single_row",
                violation_error_message=_("There is one erasure hash key."),
            )
        ]

    def __str__(self) -> str:
        return str(_("erasure hash key"))


class CustomerMonthState(models.Model):
    """A customer's state at the end of one month (流失分析 snapshot): one row per customer with a
    visit on or before that month's end, written set-based by ``customers.states`` (never by hand).
    ``month`` is the first day of the month; ``last_visit`` is L on or before the month's end.
    Rebuilding a month replaces its rows. The retention dashboard reads these."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    month = models.DateField(_("month"))
    state = models.CharField(_("state"), max_length=10, choices=CustomerState.choices)
    last_visit = models.DateField(_("last visit"))

    class Meta:
        verbose_name = _("customer state of a month")
        verbose_name_plural = _("customer states of months")
        permissions = [("view_retention", _("Can see the retention dashboard"))]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "month"],
                name="customer_month_state_unique",
                violation_error_message=_("A customer has one state per month."),
            ),
        ]
        # The dashboard counts a month's states per store; the unique index serves the drill-down's
        # look-ups by customer.
        indexes = [models.Index(fields=["month", "store", "state"], name="month_state_store_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month:%Y-%m}: {self.state}"


class CustomerStateMovement(models.Model):
    """How many customers of a store went from one month-end state to another (the previous month's
    state, blank when they were not in its snapshot) — the dashboard's figures, summed from the
    snapshots whenever a month is built, so that a group's 24 months are read from a few hundred
    rows rather than millions."""

    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+", db_index=False
    )
    month = models.DateField(_("month"))
    previous_state = models.CharField(_("previous month's state"), max_length=10, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=CustomerState.choices)
    customers = models.PositiveIntegerField(_("customers"))

    class Meta:
        verbose_name = _("movement between customer states")
        verbose_name_plural = _("movements between customer states")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "month", "previous_state", "state"],
                name="customer_state_movement_unique",
                violation_error_message=_("There is one count per store, month and movement."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.month:%Y-%m}: {self.previous_state or '-'} -> {self.state}"


class StoreDayVolume(models.Model):
    """A store's volume of one day: the cars delivered (vehicles whose delivery date is the day) and
    the repair orders settled that day. Written set-based by ``customers.volumes`` (never by hand),
    a whole day at a time, for every store; a (store, day) with neither has no row. The complaint
    dashboard divides its complaints by these, summed per month (``customers.selectors.volumes``)."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+",
                              db_index=False)  # fmt: skip
    day = models.DateField(_("day"))
    deliveries = models.PositiveIntegerField(_("cars delivered"), default=0)
    repair_orders = models.PositiveIntegerField(_("settled repair orders"), default=0)

    class Meta:
        verbose_name = _("store volume of a day")
        verbose_name_plural = _("store volumes of days")
        # The unique index (store, day) serves the dashboard's read: its stores, a range of days.
        constraints = [
            models.UniqueConstraint(
                fields=["store", "day"],
                name="store_day_volume_unique",
                violation_error_message=_("There is one volume per store and day."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.day}: {self.deliveries} / {self.repair_orders}"


class VolumeDayBuilt(models.Model):
    """A day whose ``StoreDayVolume`` rows have been counted (for every store) and are kept up to date
    since. A day without this row is counted from the vehicles and repair orders when read."""

    day = models.DateField(_("day"), primary_key=True)
    built_at = models.DateTimeField(_("built at"))

    class Meta:
        verbose_name = _("day of counted volumes")
        verbose_name_plural = _("days of counted volumes")

    def __str__(self) -> str:
        return f"{self.day}"


class CustomerWinBack(models.Model):
    """A customer won back in a month (dormant or lost at the end of the month before, active at the
    end of this one) and what brought them back: the first visit of the month (``returned_on``; its
    repair order and that order's total when the visit was one) and the last contact that reached
    them in the 30 days before (``contact_*``, blank when none: "no contact"). Written set-based with
    the month's snapshots by ``customers.win_backs`` (never by hand); rebuilding a month replaces its
    rows. ``contact_campaign_id`` is an SMS campaign's id, kept as a number: customers may not know
    the follow-ups' tables."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="+", db_index=False
    )  # customer_win_back_unique leads with it
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+", db_index=False
    )  # win_back_month_store_idx
    month = models.DateField(_("month"))
    returned_on = models.DateField(_("returned on"))
    repair_order = models.ForeignKey(
        RepairOrder, verbose_name=_("repair order"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )  # fmt: skip
    revenue = models.DecimalField(_("revenue"), max_digits=12, decimal_places=2, default=0)
    contact_kind = models.CharField(_("contact"), max_length=20, blank=True)
    contact_rule_code = models.CharField(_("follow-up rule"), max_length=40, blank=True)
    contact_campaign_id = models.BigIntegerField(_("campaign"), null=True, blank=True)
    contact_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("agent"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+", db_index=False,
    )  # fmt: skip
    contact_at = models.DateTimeField(_("contacted at"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer won back")
        verbose_name_plural = _("customers won back")
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "month"],
                name="customer_win_back_unique",
                violation_error_message=_("A customer is won back once a month."),
            ),
        ]
        indexes = [models.Index(fields=["month", "store"], name="win_back_month_store_idx")]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.month:%Y-%m}: {self.contact_kind or '-'}"


class SatisfactionResult(models.Model):
    """One satisfaction result of a customer, from whichever desk recorded it: a call's score, a
    reply digit to a repair SMS, a delivery interview, a complaint closed with the customer's
    confirmation. The closed loop reads them (docs/closed-loop.md): a dissatisfied one opens a
    complaint for ``department``; the customer is dissatisfied while the latest decisive result
    (not neutral) is dissatisfied.

    Written only by ``customers.satisfaction.satisfaction_result_record``; ``reference`` names the
    row it came from (``callattempt:12``), so recording the same result twice keeps one.

    Whom the result is credited to is fixed when it is recorded (docs/retention.md, "Satisfaction
    over time"): ``store`` is the customer's store then, ``service_advisor`` the advisor of the
    customer's latest repair order settled on or before the result's local day, ``sales_consultant``
    the consultant of the customer's newest car delivered on or before it (blank when none). A later
    store move or a repair order imported later changes none of them. ``store`` is empty only on a
    row written by other means (a data migration); ``customers.satisfaction_figures`` credits such
    rows the same way on its next run."""

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="satisfaction_results",
        db_index=False,  # satisfaction_customer_at_idx
    )
    at = models.DateTimeField(_("recorded at"))
    score = models.PositiveSmallIntegerField(_("score (1–5)"), null=True, blank=True)
    verdict = models.CharField(_("verdict"), max_length=20, choices=SatisfactionVerdict.choices)
    department = models.CharField(_("department"), max_length=10, choices=Department.choices)
    source = models.CharField(pgettext_lazy("how it came", "source"), max_length=20, choices=SatisfactionSource.choices)
    rule_code = models.CharField(_("follow-up rule"), max_length=40, blank=True)
    statement = models.TextField(_("answers and notes"), max_length=4000, blank=True)
    reference = models.CharField(_("recorded from"), max_length=60)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    store = models.ForeignKey(
        Store,
        verbose_name=_("store of record"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # satisfaction_store_at_idx
    )
    # A default in the database too: rows written by SQL (a data migration) are credited later.
    service_advisor = models.CharField(_("service advisor of record"), max_length=50, blank=True, default="",
                                       db_default="")  # fmt: skip
    sales_consultant = models.CharField(_("sales consultant of record"), max_length=50, blank=True, default="",
                                        db_default="")  # fmt: skip

    class Meta:
        ordering = ["customer", "-at", "-id"]
        verbose_name = _("satisfaction result")
        verbose_name_plural = _("satisfaction results")
        constraints = [
            models.UniqueConstraint(
                fields=["reference"],
                name="satisfactionresult_reference_unique",
                violation_error_message=_("This result has already been recorded."),
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=1, score__lte=5),
                name="satisfactionresult_score_1_to_5",
                violation_error_message=_("A score is from 1 to 5."),
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "at"], name="satisfaction_customer_at_idx"),
            # The recount of a store's month (customers.satisfaction_figures).
            models.Index(fields=["store", "at"], name="satisfaction_store_at_idx"),
            # The rows not credited yet (written by other means than the service): few or none.
            models.Index(fields=["at"], condition=Q(store__isnull=True), name="satisfaction_unattributed_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.get_verdict_display()} {self.at:%Y-%m-%d}"


class SatisfactionMonth(models.Model):
    """The satisfaction results of a month (in local time) of a store of record, counted per group of
    one dimension: per rule key (``dimension`` "rule": a delivery interview, a rule code or
    ``source:<source>``), per service advisor of record ("advisor") or per sales consultant of
    record ("consultant"); so every result is in three rows, one per dimension. Written only by
    ``customers.satisfaction_figures`` (a recorded result adds itself; a recount replaces a store's
    month); "Satisfaction over time" sums these rows instead of the results."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+",
                              db_index=False)  # fmt: skip
    month = models.DateField(_("month"))
    dimension = models.CharField(_("grouped by"), max_length=10)
    key = models.CharField(_("group"), max_length=60, blank=True)
    results = models.PositiveIntegerField(_("results"), default=0)
    scored = models.PositiveIntegerField(_("results with a score"), default=0)
    score_sum = models.PositiveIntegerField(_("sum of the scores"), default=0)
    dissatisfied = models.PositiveIntegerField(_("dissatisfied results"), default=0)
    score_1 = models.PositiveIntegerField(_("scores of 1"), default=0)
    score_2 = models.PositiveIntegerField(_("scores of 2"), default=0)
    score_3 = models.PositiveIntegerField(_("scores of 3"), default=0)
    score_4 = models.PositiveIntegerField(_("scores of 4"), default=0)
    score_5 = models.PositiveIntegerField(_("scores of 5"), default=0)

    class Meta:
        verbose_name = _("satisfaction figures of a month")
        verbose_name_plural = _("satisfaction figures of months")
        # The unique index (store, month, …) serves the page's read: its stores, a range of months.
        constraints = [
            models.UniqueConstraint(
                fields=["store", "month", "dimension", "key"],
                name="satisfaction_month_unique",
                violation_error_message=_("There is one row per store, month and group."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.month:%Y-%m} {self.dimension}:{self.key}: {self.results}"


class InterviewFactor(TimeStampedModel):
    """One question of a store's delivery interview (交车满意度面访), scored 1–5 by the buyer at
    handover. A store starts with the default list (``customers.services.interviews.DEFAULT_FACTORS``);
    a manager adds, renames, reorders or switches factors off. An interview keeps each factor's label
    as it was asked, so editing a factor never changes a past answer."""

    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="+", db_index=False
    )  # interviewfactor_store_code_unique leads with it
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("question"), max_length=100)
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("asked"), default=True)
    history = HistoricalRecords(excluded_fields=["updated_at"], no_db_index=["store"])

    class Meta:
        ordering = ["store", "position", "id"]
        verbose_name = _("delivery interview factor")
        verbose_name_plural = _("delivery interview factors")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "code"],
                name="interviewfactor_store_code_unique",
                violation_error_message=_("The store already has a factor with this code."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id} {self.label}"


class DeliveryInterview(TimeStampedModel):
    """The buyer's delivery interview (交车满意度面访): one per vehicle, recorded with the customer at
    handover. ``answers`` is the list ``[{"code", "label", "score"}]`` in the order asked, each
    label as it was asked; ``lowest_score`` is the lowest of them (the result's score in the closed
    loop: ≤ 2 opens a complaint for the sales department).

    Written only by ``customers.services.interviews.delivery_interview_record``."""

    vehicle = models.OneToOneField(
        Vehicle, verbose_name=_("vehicle"), on_delete=models.PROTECT, related_name="delivery_interview"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="delivery_interviews",
        db_index=False,
    )  # fmt: skip  # deliveryinterview_customer_idx
    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+", db_index=False
    )  # deliveryinterview_store_at_idx
    interviewed_at = models.DateTimeField(_("interviewed at"))
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sales consultant"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    answers = models.JSONField(_("answers"), default=list)
    lowest_score = models.PositiveSmallIntegerField(_("lowest score"))
    comment = models.TextField(_("customer's comment"), max_length=1000, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    history = HistoricalRecords(
        excluded_fields=["updated_at"], no_db_index=["vehicle", "customer", "store", "consultant", "recorded_by"]
    )

    class Meta:
        ordering = ["-interviewed_at", "-id"]
        verbose_name = _("delivery interview")
        verbose_name_plural = _("delivery interviews")
        constraints = [
            models.CheckConstraint(
                condition=Q(lowest_score__gte=1, lowest_score__lte=5),
                name="deliveryinterview_lowest_score_1_to_5",
                violation_error_message=_("A score is from 1 to 5."),
            ),
        ]
        indexes = [
            models.Index(fields=["store", "interviewed_at"], name="deliveryinterview_store_at_idx"),
            models.Index(fields=["customer"], name="deliveryinterview_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_id} {self.interviewed_at:%Y-%m-%d}: {self.lowest_score}"

    @property
    def is_dissatisfied(self) -> bool:
        return self.lowest_score <= 2


OPEN_PROSPECT_STATUSES = (
    ProspectStatus.NEW,
    ProspectStatus.CONTACTED,
    ProspectStatus.TEST_DRIVE_BOOKED,
    ProspectStatus.TEST_DRIVE_DONE,
)


class Prospect(TimeStampedModel):
    """A prospect (潜在客户) of a store: someone who may buy a car, from a walk-in, a call, an online
    platform, an auto show or a referral, worked by a sales consultant through the pipeline
    (``ProspectStatus``). Won only when a car is delivered to the prospect's mobile within 180 days
    of ``recorded_on`` (``customers.services.prospects``). Written only by those services."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    name = models.CharField(pgettext_lazy("a person's", "name"), max_length=100)
    mobile = models.CharField(_("mobile"), max_length=11)
    intended_model = models.CharField(_("intended model"), max_length=100, blank=True)
    source = models.CharField(_("source"), max_length=20, choices=ProspectSource.choices)
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales consultant"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    status = models.CharField(_("status"), max_length=20, choices=ProspectStatus.choices, default=ProspectStatus.NEW)
    lost_reason = models.CharField(_("why lost"), max_length=20, choices=ProspectLostReason.choices, blank=True)
    lost_note = models.CharField(_("about the loss"), max_length=200, blank=True)
    won_vehicle = models.OneToOneField(
        Vehicle, verbose_name=_("car sold"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    won_customer = models.ForeignKey(
        Customer, verbose_name=_("buyer"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    won_on = models.DateField(_("delivered on"), null=True, blank=True)
    recorded_on = models.DateField(_("recorded on"), default=timezone.localdate)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    notes = models.TextField(_("notes"), max_length=2000, blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-recorded_on", "-id"]
        verbose_name = _("prospect")
        verbose_name_plural = _("prospects")
        permissions = [("view_prospect_report", _("Can see prospects won and lost"))]
        indexes = [
            models.Index(
                fields=["mobile", "recorded_on"],
                condition=Q(won_vehicle__isnull=True),
                name="prospect_open_mobile_idx",
            ),
            models.Index(fields=["store", "status", "recorded_on"], name="prospect_store_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="lost") | ~Q(lost_reason=""),
                name="prospect_lost_has_reason",
                violation_error_message=_("Say why the prospect was lost."),
            ),
            models.CheckConstraint(
                condition=~Q(status="won") | Q(won_vehicle__isnull=False, won_on__isnull=False),
                name="prospect_won_has_car",
                violation_error_message=_("A prospect is won only with the car delivered to them."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.recorded_on})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_PROSPECT_STATUSES


class Delivery(models.Model):
    """A car handed over at the sales desk (交车): the vehicle, its consultant, how the buyer came and
    who referred them. Written only by ``customers.services.delivery_record``; the apps react to it
    through ``customers.deliveries`` (the club's card, the referral, the interview)."""

    vehicle = models.OneToOneField(
        Vehicle, verbose_name=_("vehicle"), on_delete=models.PROTECT, related_name="delivery"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="deliveries"
    )
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales consultant"), on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(_("how the buyer came"), max_length=20, choices=DeliverySource.choices)
    referrer_customer = models.ForeignKey(
        Customer, verbose_name=_("referring customer"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    referrer_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("referring staff member"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )  # fmt: skip
    delivered_on = models.DateField(_("delivered on"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)
    history = HistoricalRecords(no_db_index=["vehicle", "customer", "store", "consultant", "referrer_customer",
                                              "referrer_staff", "recorded_by"])  # fmt: skip

    class Meta:
        ordering = ["-delivered_on", "-id"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [models.Index(fields=["store", "delivered_on"], name="delivery_store_day_idx")]
        constraints = [
            models.CheckConstraint(
                condition=~(Q(referrer_customer__isnull=False) & Q(referrer_staff__isnull=False)),
                name="delivery_one_referrer",
                violation_error_message=_("A delivery names one referrer: a customer or a member of staff."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_id} {self.delivered_on}"


class AppointmentSettings(models.Model):
    """A store's booking grid (预约设置): slots of ``slot_minutes`` from ``opens_at`` (the first slot's
    start) to ``closes_at`` (the end of the last slot), ``capacity`` bookings each, on the working days
    of the official calendar. A store without a row uses the defaults (08:30–17:00, 30 minutes, 4)."""

    store = models.OneToOneField(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="appointment_settings"
    )
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"), default=30)
    opens_at = models.TimeField(_("first slot starts"), default=datetime.time(8, 30))
    closes_at = models.TimeField(_("last slot ends"), default=datetime.time(17, 0))
    capacity = models.PositiveSmallIntegerField(_("bookings per slot"), default=4)
    history = HistoricalRecords(no_db_index=["store"])

    class Meta:
        verbose_name = _("appointment settings")
        verbose_name_plural = _("appointment settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=10, slot_minutes__lte=240),
                name="appointmentsettings_slot_minutes_range",
                violation_error_message=_("A slot lasts from 10 to 240 minutes."),
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=1, capacity__lte=100),
                name="appointmentsettings_capacity_range",
                violation_error_message=_("A slot holds from 1 to 100 bookings."),
            ),
            models.CheckConstraint(
                condition=Q(opens_at__lt=models.F("closes_at")),
                name="appointmentsettings_opens_before_closing",
                violation_error_message=_("The first slot must start before the last slot ends."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store_id}: {self.opens_at:%H:%M}-{self.closes_at:%H:%M} / {self.slot_minutes} × {self.capacity}"

    def clean(self) -> None:
        super().clean()
        filled = self.opens_at and self.closes_at and self.slot_minutes
        if filled and self.opens_at < self.closes_at and not self.slot_starts():
            raise ValidationError(_("The day holds no whole slot: shorten the slots or widen the hours."))

    def slot_starts(self) -> list[datetime.time]:
        """The start of every slot of a working day, in order (the last one ends by ``closes_at``)."""
        starts = []
        minute = self.opens_at.hour * 60 + self.opens_at.minute
        end = self.closes_at.hour * 60 + self.closes_at.minute
        while minute + self.slot_minutes <= end:
            starts.append(datetime.time(minute // 60, minute % 60))
            minute += self.slot_minutes
        return starts


class Appointment(models.Model):
    """A booked visit to the workshop (预约): a customer, their vehicle (none only for a walk-in
    without a known car), a day and a slot, a purpose and an advisor.

    Written only by ``customers.services.appointments``: it counts each slot's places under a lock, so
    a slot never holds more than its capacity (plus one place for a VIP, the green channel). Walk-ins
    (``source`` walk_in) arrive without a booking and take no place. ``kept_at`` is set when the
    customer came: checked in, or a repair order of the vehicle opened within a day of ``date``."""

    store = models.ForeignKey(
        Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="appointments"
    )
    vehicle = models.ForeignKey(
        Vehicle,
        verbose_name=_("vehicle"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    date = models.DateField(_("date"))
    slot = models.TimeField(_("slot"))
    purpose = models.CharField(_("purpose"), max_length=20, choices=AppointmentPurpose.choices)
    advisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("service advisor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    source = models.CharField(pgettext_lazy("how it came", "source"), max_length=20, choices=AppointmentSource.choices)
    source_reference = models.CharField(_("source reference"), max_length=60, blank=True)
    notes = models.TextField(_("notes"), max_length=1000, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    is_vip = models.BooleanField(_("VIP when booked"), default=False)
    is_over_capacity = models.BooleanField(_("green channel (over capacity)"), default=False)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("checked in by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kept_at = models.DateTimeField(_("kept at"), null=True, blank=True)
    kept_by = models.CharField(_("kept by"), max_length=60, blank=True)  # "check_in" or "repair_order:<ro_no>"
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("booked by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("booked at"), auto_now_add=True)
    history = HistoricalRecords(no_db_index=["store", "customer", "vehicle", "advisor", "checked_in_by", "created_by"])

    class Meta:
        ordering = ["date", "slot", "-is_vip", "id"]
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        permissions = [
            ("check_in_appointment", _("Can check customers in on the arrivals board")),
            ("view_appointment_report", _("Can see bookings against capacity")),
        ]
        indexes = [
            models.Index(fields=["store", "date", "slot"], name="appointment_store_day_idx"),
            models.Index(fields=["vehicle", "date"], name="appointment_vehicle_day_idx"),
            # The follow-up reports' funnel finds the booking of each reached call's task by its
            # reference (customers.selectors.appointments.appointment_booked_from_task_sql): a probe,
            # not a read of every booking per call.
            models.Index(fields=["source_reference"], name="appointment_call_ref_idx", condition=Q(source="call")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(vehicle__isnull=False) | Q(source="walk_in"),
                name="appointment_vehicle_unless_walk_in",
                violation_error_message=_("Choose the vehicle (only a walk-in may come without a known car)."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.date:%Y-%m-%d} {self.slot:%H:%M} ({self.status})"

    @property
    def is_active(self) -> bool:
        """Booked, confirmed or arrived: it holds its place in the slot."""
        return self.status in ACTIVE_APPOINTMENT_STATUSES


ACTIVE_APPOINTMENT_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED, AppointmentStatus.ARRIVED)
