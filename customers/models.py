"""The data spine: customers (owners), their vehicles and the vehicles' repair orders."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from crm.models import Store, TimeStampedModel
from customers.choices import (
    Confidentiality,
    ContactChannel,
    Gender,
    IncomeBand,
    MarkSource,
    RepairType,
    VehicleStatus,
)


class Customer(TimeStampedModel):
    """An owner's customer card (客户卡): static data, membership, confidentiality and opt-outs."""

    customer_no = models.CharField(_("customer number"), max_length=40, unique=True)
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="customers")
    name = models.CharField(_("name"), max_length=100)
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
    confidentiality = models.CharField(
        _("confidentiality"), max_length=20, choices=Confidentiality.choices, default=Confidentiality.NORMAL
    )
    authorized_staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("named staff"),
        blank=True,
        related_name="authorized_customers",
        help_text=_("The only staff who see a top-secret card."),
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
    history = HistoricalRecords(excluded_fields=["name_pinyin", "name_initials", "updated_at"])

    class Meta:
        ordering = ["customer_no"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [
            ("view_unmasked_phone", _("Can see full phone numbers")),
            ("search_by_phone", _("Can search customers by phone number")),
            ("export_customers", _("Can export customer data")),
            ("import_dms", _("Can import DMS exports")),
        ]
        indexes = [
            models.Index(fields=["store", "customer_no"], name="customer_store_no_idx"),
            models.Index(fields=["mobile"], name="customer_mobile_idx"),
            models.Index(fields=["birthday"], name="customer_birthday_idx"),
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


class Vehicle(TimeStampedModel):
    """A car (车辆档案) and its owner; vehicle-level follow-ups read its dates."""

    vin = models.CharField(_("VIN"), max_length=17, unique=True)
    customer = models.ForeignKey(Customer, verbose_name=_("owner"), on_delete=models.PROTECT, related_name="vehicles")
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="vehicles")
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
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["vin"]
        verbose_name = _("vehicle")
        verbose_name_plural = _("vehicles")
        indexes = [
            models.Index(fields=["delivery_date"], name="vehicle_delivery_idx"),
            models.Index(fields=["insurance_expiry"], name="vehicle_insurance_idx"),
            models.Index(fields=["warranty_end"], name="vehicle_warranty_idx"),
            models.Index(fields=["plate_no"], name="vehicle_plate_idx"),
            models.Index(fields=["store", "status"], name="vehicle_store_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plate_no or '—'} {self.vin}"


class RepairOrder(TimeStampedModel):
    """A repair order (维修工单) as settled in the DMS."""

    ro_no = models.CharField(_("repair order number"), max_length=40, unique=True)
    vehicle = models.ForeignKey(
        Vehicle, verbose_name=_("vehicle"), on_delete=models.PROTECT, related_name="repair_orders"
    )
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="repair_orders")
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
