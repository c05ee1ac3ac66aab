"""The shared core: stores of the dealer group, staff, audit trail and the official calendar."""

import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.choices import AuditAction, CalendarDayKind, Role


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class Store(TimeStampedModel):
    """A store (门店) of the dealer group, with the settings that differ from store to store."""

    code = models.CharField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    brand = models.CharField(_("brand"), max_length=50, blank=True)
    phone = models.CharField(_("service phone"), max_length=30, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    sms_signature = models.CharField(
        _("SMS signature"), max_length=30, blank=True, help_text=_("Shown as 【signature】 in every SMS.")
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Call windows: calls are placed 08:30–12:00 and 13:00–19:00 unless the store says otherwise.
    morning_call_start = models.TimeField(_("morning calls from"), default=datetime.time(8, 30))
    morning_call_end = models.TimeField(_("morning calls until"), default=datetime.time(12, 0))
    afternoon_call_start = models.TimeField(_("afternoon calls from"), default=datetime.time(13, 0))
    afternoon_call_end = models.TimeField(_("afternoon calls until"), default=datetime.time(19, 0))

    class Meta:
        ordering = ["code"]
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        constraints = [
            models.CheckConstraint(
                condition=Q(morning_call_start__lt=models.F("morning_call_end"))
                & Q(morning_call_end__lte=models.F("afternoon_call_start"))
                & Q(afternoon_call_start__lt=models.F("afternoon_call_end")),
                name="store_call_windows_ordered",
                violation_error_message=_("Call windows must be in order: morning before afternoon."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class User(AbstractUser):
    """A member of staff. The role is the user's group; the stores say whose customers they see."""

    stores = models.ManyToManyField(Store, verbose_name=_("stores"), blank=True, related_name="staff")
    sees_all_stores = models.BooleanField(
        _("sees the whole dealer group"),
        default=False,
        help_text=_("Granted the group: sees the customers of every store, not only the user's own."),
    )
    phone = models.CharField(_("phone"), max_length=30, blank=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")

    def __str__(self) -> str:
        full_name = self.get_full_name()
        return f"{full_name} ({self.username})" if full_name else self.username

    def get_full_name(self) -> str:
        # Chinese names: family name first, no space.
        return f"{self.last_name}{self.first_name}".strip()

    def save(self, *args, **kwargs) -> None:
        # A new password (set_password on any path: admin, password change view, shell) or a
        # deactivated account ends every API token at once, like Django ends the sessions.
        password_changed = self._password is not None
        super().save(*args, **kwargs)
        if (password_changed or not self.is_active) and self.pk is not None:
            from rest_framework.authtoken.models import Token

            Token.objects.filter(user_id=self.pk).delete()

    @property
    def role(self) -> str | None:
        """The user's role code (crm.choices.Role), the first of the user's groups that is a role."""
        if not hasattr(self, "_role_cache"):
            self._role_cache = role_of_groups(
                [group.name for group in self.groups.all()], is_superuser=self.is_superuser
            )
        return self._role_cache

    @property
    def role_label(self) -> str:
        return Role(self.role).label if self.role else ""


def role_of_groups(group_names, *, is_superuser: bool) -> str | None:
    """The role code of a user in the groups named ``group_names``: the first role (in crm.choices.Role's
    order) among them; a superuser in none is an admin."""
    names = set(group_names)
    role = next((role.value for role in Role if role.value in names), None)
    return Role.ADMIN.value if role is None and is_superuser else role


class AuditLog(models.Model):
    """Who did what to customer data and when: unmasked numbers viewed, exports, imports."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("staff member"), null=True, on_delete=models.SET_NULL
    )
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)
    action = models.CharField(_("action"), max_length=40, choices=AuditAction.choices)
    object_type = models.CharField(_("object type"), max_length=60, blank=True)
    object_ids = models.JSONField(_("object IDs"), default=list, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        indexes = [
            # A user's rows of one action since a moment: the daily phone-search quota, the audit page.
            models.Index(fields=["actor", "action", "at"], name="auditlog_actor_action_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.get_action_display()}"


class ExportRequest(models.Model):
    """An export that needs a manager's approval (it holds cards graded 秘密 or above, or key
    customers): requested, approved or refused by a manager of every store concerned, then
    downloaded once by the requester. What is exported is fixed when asked: ``object_ids``."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved, ready to download")
        REFUSED = "refused", _("Refused")
        DOWNLOADED = "downloaded", _("Downloaded")

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("requested by"), on_delete=models.CASCADE, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    stores = models.ManyToManyField(Store, verbose_name=_("stores"), related_name="+")
    kind = models.CharField(_("what"), max_length=60, help_text=_("e.g. customers.segment"))
    subject_id = models.PositiveBigIntegerField(_("of"), null=True, blank=True)
    label = models.CharField(_("description"), max_length=200)
    file_format = models.CharField(_("format"), max_length=10)
    object_ids = models.JSONField(_("rows"), default=list)
    row_count = models.PositiveIntegerField(_("rows"))
    approval_row_count = models.PositiveIntegerField(_("rows needing approval"))
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    downloaded_at = models.DateTimeField(_("downloaded at"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        verbose_name = _("export request")
        verbose_name_plural = _("export requests")
        indexes = [models.Index(fields=["status", "requested_at"], name="exportrequest_status_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | Q(decided_at__isnull=False),
                name="exportrequest_decided_has_time",
                violation_error_message=_("A decided export request records when it was decided."),
            ),
            models.CheckConstraint(
                condition=~Q(status="downloaded") | Q(downloaded_at__isnull=False),
                name="exportrequest_downloaded_has_time",
                violation_error_message=_("A downloaded export records when it was downloaded."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_status_display()})"


class CalendarDay(models.Model):
    """An official calendar entry (State Council notice) overriding the computed working-day calendar."""

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=CalendarDayKind.choices)
    name = models.CharField(_("name"), max_length=40, blank=True, help_text=_("e.g. 国庆节 or 国庆调休"))

    class Meta:
        ordering = ["date"]
        verbose_name = _("official calendar day")
        verbose_name_plural = _("official calendar")

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()} {self.name}".strip()

    @property
    def is_working_day(self) -> bool:
        return self.kind == CalendarDayKind.WORKING_DAY
