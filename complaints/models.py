"""Complaints (客户投诉): intake, the SLA clocks of each store, the timeline of work and escalations."""

import datetime

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from complaints.choices import (
    ActionKind,
    BreachKind,
    Channel,
    ClockMode,
    Confirmation,
    Department,
    Origin,
    Severity,
    Status,
)
from crm.models import Store, TimeStampedModel


class ComplaintType(models.Model):
    """A kind of complaint (服务态度, 维修质量, 价格…), an admin-editable list."""

    name = models.CharField(_("name"), max_length=60, unique=True)
    department = models.CharField(
        _("department"),
        max_length=10,
        choices=Department.choices,
        blank=True,
        help_text=_("Leave empty when the type applies to both departments."),
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=100)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["sort_order", "name"]
        verbose_name = _("complaint type")
        verbose_name_plural = _("complaint types")

    def __str__(self) -> str:
        return self.name


class StoreComplaintSettings(TimeStampedModel):
    """A store's complaint clocks (response and closing windows, calendar or business hours) and who
    the complaints go to: the department managers, the general manager and the escalation chain."""

    store = models.OneToOneField(
        Store, verbose_name=_("store"), on_delete=models.CASCADE, related_name="complaint_settings"
    )
    response_minutes = models.PositiveIntegerField(
        _("first response within (minutes)"), default=60, validators=[MinValueValidator(1)]
    )
    close_hours = models.PositiveIntegerField(
        _("closed within (hours)"), default=24, validators=[MinValueValidator(1), MaxValueValidator(24 * 30)]
    )
    clock_mode = models.CharField(
        _("clocks count"), max_length=10, choices=ClockMode.choices, default=ClockMode.CALENDAR
    )
    business_day_start = models.TimeField(_("business hours from"), default=datetime.time(8, 30))
    business_day_end = models.TimeField(_("business hours until"), default=datetime.time(18, 0))
    sales_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sales manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    service_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("service manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    general_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("general manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Copied on every new complaint; receives the escalation when a clock is breached."),
    )
    escalation_emails = models.CharField(
        _("also escalate to"),
        max_length=300,
        blank=True,
        help_text=_("Comma-separated e-mail addresses told of every breach, e.g. the chairman's."),
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("store complaint settings")
        verbose_name_plural = _("store complaint settings")
        constraints = [
            models.CheckConstraint(
                condition=Q(business_day_start__lt=F("business_day_end")),
                name="complaint_settings_business_hours_ordered",
                violation_error_message=_("Business hours must start before they end."),
            ),
            models.CheckConstraint(
                condition=Q(response_minutes__gte=1) & Q(close_hours__gte=1),
                name="complaint_settings_windows_positive",
                violation_error_message=_("The response and closing windows must be at least 1."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.store)

    def manager_for(self, department: str):
        return self.sales_manager if department == Department.SALES else self.service_manager

    def escalation_addresses(self) -> list[str]:
        return [address.strip() for address in self.escalation_emails.split(",") if address.strip()]


class Complaint(TimeStampedModel):
    """A customer complaint (客户抱怨投诉) with its two SLA clocks, stored as due times so overdue
    complaints are a plain indexed comparison."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="complaints")
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="complaints"
    )
    vehicle = models.ForeignKey(
        "customers.Vehicle",
        verbose_name=_("vehicle"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="complaints",
    )
    channel = models.CharField(_("channel"), max_length=30, choices=Channel.choices)
    department = models.CharField(_("department"), max_length=10, choices=Department.choices)
    complaint_type = models.ForeignKey(
        ComplaintType, verbose_name=_("type"), on_delete=models.PROTECT, related_name="complaints"
    )
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    staff_concerned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff member concerned"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="complaints_concerning",
    )
    staff_concerned_name = models.CharField(
        _("staff member concerned (name)"),
        max_length=50,
        blank=True,
        help_text=_("When the person is not a user of the CRM."),
    )
    description = models.TextField(_("description"), max_length=5000)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    received_at = models.DateTimeField(_("received at"))
    assigned_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("responsible manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="complaints_assigned",
    )
    response_due_at = models.DateTimeField(_("response due"))
    close_due_at = models.DateTimeField(_("closing due"))
    first_response_at = models.DateTimeField(_("first response at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), max_length=5000, blank=True)
    customer_confirmation = models.CharField(
        _("customer's confirmation"), max_length=20, choices=Confirmation.choices, blank=True
    )
    confirmation_note = models.CharField(_("callback note"), max_length=500, blank=True)
    reopened_count = models.PositiveSmallIntegerField(_("times reopened"), default=0)
    notified_at = models.DateTimeField(_("manager notified at"), null=True, blank=True)
    notify_lease_until = models.DateTimeField(
        _("notice being sent until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("A worker is sending the manager's notice; after this time another may try again."),
    )
    followup_task_id = models.PositiveBigIntegerField(
        _("follow-up task"), null=True, blank=True, help_text=_("The call this complaint was heard on.")
    )
    origin = models.CharField(_("logged from"), max_length=20, choices=Origin.choices, default=Origin.DESK)
    origin_reference = models.CharField(
        _("origin reference"),
        max_length=60,
        blank=True,
        help_text=_("The row it came from, e.g. followuptask:12 or callattempt:40."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("logged by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="complaints_logged",
    )
    history = HistoricalRecords(excluded_fields=["updated_at", "notify_lease_until"])

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        permissions = [
            ("view_open_complaints", _("Can see the open complaints of the store")),
            ("close_complaint", _("Can close and reopen complaints")),
            ("view_complaint_dashboard", _("Can see the complaint dashboard")),
            ("export_complaints", _("Can export complaints")),
        ]
        indexes = [
            models.Index(fields=["store", "received_at"], name="complaint_store_received_idx"),
            # The list's order for staff of several stores (the group): newest first, a page at a time.
            models.Index(fields=["received_at", "id"], name="complaint_received_idx"),
            models.Index(fields=["customer", "status"], name="complaint_customer_status_idx"),
            models.Index(
                fields=["response_due_at"],
                name="complaint_response_due_idx",
                condition=Q(first_response_at__isnull=True) & ~Q(status="closed"),
            ),
            models.Index(fields=["close_due_at"], name="complaint_close_due_idx", condition=~Q(status="closed")),
            # The API's order by closing due, with its tie-break (crm.api.filters.StableOrderingFilter).
            models.Index(fields=["close_due_at", "received_at", "id"], name="complaint_close_due_order_idx"),
            models.Index(
                fields=["origin_reference"], name="complaint_origin_ref_idx", condition=~Q(origin_reference="")
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="closed") | (Q(closed_at__isnull=False) & ~Q(customer_confirmation="")),
                name="complaint_closed_has_confirmation",
                violation_error_message=_("A closed complaint needs the customer's confirmation."),
            ),
            models.CheckConstraint(
                condition=Q(response_due_at__lte=F("close_due_at")),
                name="complaint_response_due_before_close_due",
                violation_error_message=_("The response is due before the closing."),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.customer} {self.get_department_display()}"

    @property
    def is_closed(self) -> bool:
        return self.status == Status.CLOSED

    def is_response_overdue(self, now: datetime.datetime) -> bool:
        return not self.is_closed and self.first_response_at is None and self.response_due_at <= now

    def is_close_overdue(self, now: datetime.datetime) -> bool:
        return not self.is_closed and self.close_due_at <= now

    @property
    def staff_concerned_display(self) -> str:
        if self.staff_concerned_id:
            return self.staff_concerned.get_full_name() or self.staff_concerned.username
        return self.staff_concerned_name


class ComplaintAction(models.Model):
    """One entry of a complaint's timeline: logged, acknowledged, contacted, a solution, a
    compensation, resolved, closed, reopened or escalated."""

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="actions"
    )
    kind = models.CharField(_("action"), max_length=30, choices=ActionKind.choices)
    note = models.TextField(_("note"), max_length=2000, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(_("at"))
    reference = models.CharField(
        _("recorded from"),
        max_length=60,
        blank=True,
        help_text=_("For a satisfaction result added to the complaint: the result's reference."),
    )

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("complaint action")
        verbose_name_plural = _("complaint actions")
        indexes = [models.Index(fields=["complaint", "at"], name="complaint_action_at_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.get_kind_display()}"


def attachment_path(instance: "ComplaintAttachment", filename: str) -> str:
    return f"complaints/{instance.complaint.store_id}/{instance.complaint_id}/{filename}"


class ComplaintAttachment(models.Model):
    """A photo, recording or document attached to a complaint (type and size checked at upload)."""

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=300)
    original_name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveIntegerField(_("size (bytes)"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("uploaded by"), null=True, on_delete=models.SET_NULL
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.original_name


class Escalation(models.Model):
    """A breached clock, recorded once per complaint, breach kind, level and reopening (the unique
    constraint is what makes the every-5-minutes check send each escalation e-mail exactly once)."""

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="escalations"
    )
    kind = models.CharField(_("breach"), max_length=10, choices=BreachKind.choices)
    level = models.PositiveSmallIntegerField(_("level"), default=1)
    cycle = models.PositiveSmallIntegerField(
        _("reopening"), default=0, help_text=_("0 for the first handling, n after the n-th reopening.")
    )
    due_at = models.DateTimeField(_("was due"))
    created_at = models.DateTimeField(_("flagged at"))
    sent_at = models.DateTimeField(_("e-mail sent at"), null=True, blank=True)
    send_lease_until = models.DateTimeField(
        _("e-mail being sent until"),
        null=True,
        blank=True,
        editable=False,
        help_text=_("A worker is sending the e-mail; after this time another may try again."),
    )
    recipients = models.CharField(_("recipients"), max_length=500, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            models.UniqueConstraint(
                fields=["complaint", "kind", "level", "cycle"],
                name="escalation_once_per_breach",
                violation_error_message=_("This breach has already been escalated."),
            )
        ]

    def __str__(self) -> str:
        return f"#{self.complaint_id} {self.get_kind_display()} L{self.level}"
