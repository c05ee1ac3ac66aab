from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.choices import ConsentPurpose


class RuleCode(models.TextChoices):
    """The rules of docs/followups.md, in the order of its table."""

    DELIVERY_THANKS = "delivery_thanks", _("Thank-you call after delivery (购车感谢回访)")
    FIRST_SERVICE_INVITE = "first_service_invite", _("First service invitation (首保邀请)")
    POST_REPAIR_CALLBACK = "post_repair_callback", _("Callback after repair (维修后回访)")
    INSURANCE_RENEWAL = "insurance_renewal", _("Insurance renewal reminder (续保提醒)")
    WARRANTY_EXPIRY = "warranty_expiry", _("Warranty expiry care (质保到期关怀)")
    MAINTENANCE_DUE = "maintenance_due", _("Maintenance due reminder (定保提醒)")
    BIRTHDAY = "birthday", _("Birthday greeting (生日祝福)")
    HOLIDAY_GREETING = "holiday_greeting", _("Holiday greeting (节日关怀)")
    LOST_CUSTOMER = "lost_customer", _("Lost customer win-back (流失客户招揽)")
    POINTS_EXPIRY = "points_expiry", _("Points expiry reminder (积分到期提醒)")
    DISSATISFIED_FOLLOWUP = "dissatisfied_followup", _("Dissatisfied customer follow-up (不满意客户回访)")
    EVENT_NOTICE = "event_notice", _("Event notice (活动通知)")
    INSPECTION_DUE = "inspection_due", _("Annual inspection reminder (年检提醒)")
    DELIVERY_DAY1_CALL = "delivery_day1_call", _("Day-after-delivery call (交车次日回访)")
    APPOINTMENT_REMINDER = "appointment_reminder", _("Appointment reminder (预约提醒)")
    NO_SHOW_FOLLOWUP = "no_show_followup", _("No-show follow-up (爽约回访)")


VEHICLE_RULES = frozenset(
    {
        RuleCode.DELIVERY_THANKS,
        RuleCode.FIRST_SERVICE_INVITE,
        RuleCode.POST_REPAIR_CALLBACK,
        RuleCode.INSURANCE_RENEWAL,
        RuleCode.WARRANTY_EXPIRY,
        RuleCode.MAINTENANCE_DUE,
        RuleCode.INSPECTION_DUE,
        RuleCode.DELIVERY_DAY1_CALL,
    }
)


class WorkedBy(models.TextChoices):
    """Who works a phone rule's tasks: the call centre's queue, or the staff member of record, whose
    own list ("My tasks") holds them (docs/followups.md, "Tasks owned by a person")."""

    QUEUE = "queue", _("The call centre's queue")
    SALES_CONSULTANT = "sales_consultant", _("The vehicle's sales consultant")
    SERVICE_ADVISOR = "service_advisor", _("The service advisor of the latest repair order")


# The rules whose messages are marketing rather than a service reminder (PIPL: the customer can
# withdraw from them apart): greetings, win-back offers and event invitations. They reach the owners
# the DMS brought in, who carry no consent record, until marketing consent is withdrawn, as every
# service reminder does until service consent is withdrawn; only a promotion to a segment needs
# marketing consent recorded as granted (customers.selectors.customer_sms_allowed_sql).
MARKETING_RULES = frozenset(
    {RuleCode.BIRTHDAY, RuleCode.HOLIDAY_GREETING, RuleCode.LOST_CUSTOMER, RuleCode.EVENT_NOTICE}
)


def rule_consent_purpose(code: str) -> str:
    """The consent purpose (customers.choices.ConsentPurpose) an SMS of rule ``code`` needs."""
    return ConsentPurpose.MARKETING if code in MARKETING_RULES else ConsentPurpose.SERVICE


# Messages that belong to no rule: the confirmation sent when a visit is booked. An SMS's ``code`` is
# a rule code or one of these.
APPOINTMENT_CONFIRMATION = "appointment_confirmation"
SMS_CODE_CHOICES = [*RuleCode.choices, (APPOINTMENT_CONFIRMATION, _("Appointment confirmation (预约确认)"))]
# The messages a Y/N reply answers about a booking (followups/replies.py).
APPOINTMENT_MESSAGE_CODES = frozenset({APPOINTMENT_CONFIRMATION, RuleCode.APPOINTMENT_REMINDER})


class Channel(models.TextChoices):
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    UNREACHED = "unreached", _("Not reached after the last attempt")
    CLOSED = "closed", _("Closed without result")


class CallOutcome(models.TextChoices):
    REACHED = "reached", _("Reached")
    NO_ANSWER = "no_answer", _("No answer")
    BUSY = "busy", _("Busy")
    WRONG_NUMBER = "wrong_number", _("Wrong number")
    CALL_BACK = "call_back", _("Call back at …")
    REFUSED = "refused", _("Refused")
    # The customer booked a visit on the call (预约到店): reached, and the booking made with it.
    BOOKED = "booked", _("Booked a visit (预约到店)")


# The outcomes that count as reaching the customer in the reports: a booked visit is a reached call.
REACHED_OUTCOMES = (CallOutcome.REACHED, CallOutcome.BOOKED)


class SmsStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class DeliveryStatus(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    DELIVERED = "delivered", _("Delivered")
    UNDELIVERED = "undelivered", _("Not delivered")


class CampaignKind(models.TextChoices):
    """What an SMS campaign (营销短信) is for: a special-weather care message is a care notice sent
    under the service consent; every other kind is marketing and needs marketing consent granted."""

    PROMOTION = "promotion", _("Promotion")
    NEW_MODEL = "new_model", _("New-model launch")
    SPECIAL_WEATHER = "special_weather", _("Special-weather care (特殊天气关怀)")
    INVITATION = "invitation", _("Invitation")
    OTHER = "other", _("Other")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    APPROVED = "approved", _("Approved")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")
