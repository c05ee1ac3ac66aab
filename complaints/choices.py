from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.choices import Department  # noqa: F401  (the complaints' department is the customers' one)


class Channel(models.TextChoices):
    """Where the complaint came in (seed 004: 店内直接产生, 满意度回访产生, 致电投诉, 800热线, 投诉专线,
    邮件, 短信; and WeChat)."""

    IN_STORE = "in_store", _("In store")
    SATISFACTION_CALLBACK = "satisfaction_callback", _("Satisfaction callback")
    PHONE = "phone", _("Phone")
    HOTLINE_800 = "hotline_800", _("800 hotline")
    STORE_LINE = "store_line", _("Store complaint line")
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


# Points deducted from a staff member's monthly score (100) per complaint about them, by severity.
SEVERITY_DEDUCTION = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 5, Severity.CRITICAL: 10}


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    CLOSED = "closed", _("Closed")


class ClockMode(models.TextChoices):
    CALENDAR = "calendar", _("Calendar hours (around the clock)")
    BUSINESS = "business", _("Business hours on working days")


class ActionKind(models.TextChoices):
    LOGGED = "logged", _("Logged")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    CONTACTED = "contacted", _("Customer contacted")
    SOLUTION_PROPOSED = "solution_proposed", _("Solution proposed")
    COMPENSATION = "compensation", _("Compensation")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    REOPENED = "reopened", _("Reopened")
    ESCALATED = "escalated", _("Escalated")
    DEPARTMENT_CHANGED = "department_changed", _("Department changed")
    RESULT_ADDED = "result_added", _("Dissatisfied result added")

    @classmethod
    def working_kinds(cls) -> list[str]:
        """The actions a manager records while working a complaint; the first one is the response."""
        return [cls.ACKNOWLEDGED, cls.CONTACTED, cls.SOLUTION_PROPOSED, cls.COMPENSATION, cls.RESOLVED]


class Origin(models.TextChoices):
    """Where in the CRM a complaint was logged from (with ``Complaint.origin_reference`` naming the
    row: the call task, the satisfaction result, the delivery…)."""

    DESK = "desk", _("Logged at a desk")
    CALL = "call", _("Follow-up call")
    SMS_REPLY = "sms_reply", _("SMS reply")
    DELIVERY = "delivery", _("Vehicle delivery")
    DELIVERY_INTERVIEW = "delivery_interview", _("Delivery interview")
    COMPLAINT_CLOSE = "complaint_close", _("Complaint closed not satisfied")


class Confirmation(models.TextChoices):
    """The customer's word on the callback before closing (回访确认)."""

    SATISFIED = "satisfied", _("Satisfied")
    NOT_SATISFIED = "not_satisfied", _("Not satisfied")


class BreachKind(models.TextChoices):
    RESPONSE = "response", _("First response overdue")
    CLOSE = "close", _("Closing overdue")
