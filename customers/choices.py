from django.db import models
from django.utils.translation import gettext_lazy as _


class Gender(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")
    __empty__ = _("Unknown")


class Confidentiality(models.TextChoices):
    """Seed 003: customer data is graded 绝密/机密/秘密. 绝密: named staff only; 机密: named staff and
    the store's managers; 秘密: the store, never exported without a manager's approval; 普通: the
    store (customers.selectors.customer_visibility_condition)."""

    TOP_SECRET = "top_secret", _("Top secret (named staff only)")
    SECRET = "secret", _("Secret")
    CONFIDENTIAL = "confidential", _("Confidential")
    NORMAL = "normal", _("Normal")


class ContactChannel(models.TextChoices):
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    WECHAT = "wechat", _("WeChat")
    EMAIL = "email", _("E-mail")
    __empty__ = _("No preference")


class IncomeBand(models.TextChoices):
    LOW = "low", _("Under ¥100k a year")
    MIDDLE = "middle", _("¥100k–300k a year")
    HIGH = "high", _("¥300k–1M a year")
    VERY_HIGH = "very_high", _("Over ¥1M a year")
    __empty__ = _("Unknown")


class MarkSource(models.TextChoices):
    """Where an opt-out or a vehicle status came from."""

    STAFF = "staff", _("Staff")
    SMS_REPLY = "sms_reply", _("SMS reply")
    CALL = "call", _("Call outcome")
    DMS_IMPORT = "dms_import", _("DMS import")
    API = "api", _("API")


class VehicleStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    TRANSFERRED = "transferred", _("Transferred (已转让)")
    SCRAPPED = "scrapped", _("Scrapped (报废)")


class RepairType(models.TextChoices):
    FIRST_SERVICE = "first_service", _("First service (首保)")
    SCHEDULED_MAINTENANCE = "scheduled_maintenance", _("Scheduled maintenance (定保)")
    MAINTENANCE = "maintenance", _("Maintenance (保养)")
    GENERAL_REPAIR = "general_repair", _("General repair (一般维修)")
    BODY_AND_PAINT = "body_and_paint", _("Body and paint (钣喷)")
    WARRANTY_CLAIM = "warranty_claim", _("Warranty claim (索赔)")

    @classmethod
    def maintenance_types(cls) -> list[str]:
        """The types whose settle date and mileage drive the maintenance_due rule."""
        return [cls.FIRST_SERVICE.value, cls.SCHEDULED_MAINTENANCE.value, cls.MAINTENANCE.value]


# The DMS writes repair types in Chinese.
REPAIR_TYPE_FROM_DMS = {
    "首保": RepairType.FIRST_SERVICE,
    "定保": RepairType.SCHEDULED_MAINTENANCE,
    "保养": RepairType.MAINTENANCE,
    "一般维修": RepairType.GENERAL_REPAIR,
    "钣喷": RepairType.BODY_AND_PAINT,
    "索赔": RepairType.WARRANTY_CLAIM,
}


class ImportKind(models.TextChoices):
    """The three DMS reports (docs/dms-import.md)."""

    CUSTOMERS = "customers", _("Customers")
    VEHICLES = "vehicles", _("Vehicles")
    REPAIR_ORDERS = "repair_orders", _("Repair orders")


class ImportStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    RUNNING = "running", _("Running")
    PREVIEWED = "previewed", _("Previewed (nothing saved)")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed (nothing saved)")


class IssueSeverity(models.TextChoices):
    REJECTED = "rejected", _("Rejected row")
    WARNING = "warning", _("Warning")


class NoteKind(models.TextChoices):
    NOTE = "note", _("Note")
    VISIT = "visit", _("Visit")
    CALL = "call", _("Call")


class ConsentPurpose(models.TextChoices):
    """What a customer's consent is for (PIPL: each purpose separately). Service reminders are sent
    unless withdrawn; marketing messages only once granted."""

    SERVICE = "service", _("Service reminders")
    MARKETING = "marketing", _("Marketing")


class ConsentSource(models.TextChoices):
    """How a consent or its withdrawal was given."""

    DMS = "dms", _("DMS")
    PHONE = "phone", _("Phone")
    SMS_REPLY = "sms_reply", _("SMS reply")
    DESK = "desk", _("At the desk")
    WEB = "web", _("Web")


class ReplyAction(models.TextChoices):
    """What an inbound SMS reply did (``followups.InboundSms.action``): the claim of a reply handler
    (customers/sms_replies.py). Here, below the domain apps, so that any of them can claim a reply;
    a new meaning is a new value here (and a migration of the field's choices in followups)."""

    OPT_OUT = "opt_out", _("Opted out")
    SATISFACTION = "satisfaction", _("Satisfaction score")
    RSVP = "rsvp", _("Event RSVP")
    APPOINTMENT_CONFIRMED = "appointment_confirmed", _("Appointment confirmed")
    APPOINTMENT_CANCELLED = "appointment_cancelled", _("Appointment cancelled")
    NONE = "none", _("No action")


class CustomerState(models.TextChoices):
    """A customer's state at the end of a month (docs/retention.md)."""

    NEW = "new", _("New (新客户)")
    ACTIVE = "active", _("Active (活跃)")
    DORMANT = "dormant", _("Dormant (休眠)")
    LOST = "lost", _("Lost (流失)")


class Department(models.TextChoices):
    """The two departments of a 4S store that answer for a customer's experience (complaints,
    satisfaction results)."""

    SALES = "sales", _("Sales")
    SERVICE = "service", _("Service")


class SatisfactionVerdict(models.TextChoices):
    """What a satisfaction result says (docs/closed-loop.md): a score ≤ 2 of 5 (or 不满意) is
    dissatisfied, ≥ 4 satisfied, 3 neither."""

    DISSATISFIED = "dissatisfied", _("Dissatisfied")
    NEUTRAL = "neutral", _("Neither")
    SATISFIED = "satisfied", _("Satisfied")


class SatisfactionSource(models.TextChoices):
    """Where a satisfaction result was recorded."""

    CALL = "call", _("Call")
    SMS_REPLY = "sms_reply", _("SMS reply")
    DELIVERY_INTERVIEW = "delivery_interview", _("Delivery interview")
    COMPLAINT_CLOSE = "complaint_close", _("Complaint closed")


class ProspectSource(models.TextChoices):
    """How a prospect (潜在客户) came to the store."""

    SHOWROOM = "showroom", _("Showroom walk-in")
    ONLINE = "online", _("Online platform")
    PHONE = "phone", _("Phone enquiry")
    AUTO_SHOW = "auto_show", _("Auto show")
    OWNER_REFERRAL = "owner_referral", _("Referred by an owner")
    STAFF_REFERRAL = "staff_referral", _("Referred by staff")
    OTHER = "other", _("Other source")


class ProspectStatus(models.TextChoices):
    """A prospect's way through the sales pipeline: new → contacted → test drive booked → test
    drive done → won (a delivery matched it) or lost (with a reason; a lost one may be reopened)."""

    NEW = "new", _("New prospect")
    CONTACTED = "contacted", _("Contacted")
    TEST_DRIVE_BOOKED = "test_drive_booked", _("Test drive booked")
    TEST_DRIVE_DONE = "test_drive_done", _("Test drive done")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class ProspectLostReason(models.TextChoices):
    """Why a prospect was lost (the note says more)."""

    BOUGHT_ELSEWHERE = "bought_elsewhere", _("Bought from another dealer")
    OTHER_BRAND = "other_brand", _("Chose another brand")
    PRICE = "price", _("Price or finance")
    POSTPONED = "postponed", _("Postponed the purchase")
    UNREACHABLE = "unreachable", _("Cannot be reached")
    OTHER = "other", _("Other reason")


# A buyer reaches the sales desk the same ways a prospect reaches the store: one list for both.
DeliverySource = ProspectSource


class AppointmentPurpose(models.TextChoices):
    """Why an owner books a visit to the workshop (预约)."""

    FIRST_SERVICE = "first_service", _("First service (首保)")
    MAINTENANCE = "maintenance", _("Maintenance (保养)")
    REPAIR = "repair", _("Repair (维修)")
    INSURANCE = "insurance", _("Insurance (保险)")
    INSPECTION = "inspection", _("Annual inspection (年检)")


class AppointmentSource(models.TextChoices):
    """Where a booking was made; ``Appointment.source_reference`` names the task, campaign… it came from."""

    CALL = "call", _("Call")
    CAMPAIGN = "campaign", _("Campaign")
    DESK = "desk", _("At the desk")
    DELIVERY = "delivery", _("At delivery")
    API = "api", _("API")
    WALK_IN = "walk_in", _("Walk-in")


class AppointmentStatus(models.TextChoices):
    """booked → confirmed → arrived; or cancelled; or no-show at the end of its day."""

    BOOKED = "booked", _("Booked")
    CONFIRMED = "confirmed", _("Confirmed")
    ARRIVED = "arrived", _("Arrived")
    CANCELLED = "cancelled", _("Cancelled")
    NO_SHOW = "no_show", _("No-show")
