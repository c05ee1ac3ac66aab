from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """Staff roles; each is a Django group of the same name holding the role's permissions."""

    SERVICE_ADVISOR = "service_advisor", _("Service advisor")
    SALES_CONSULTANT = "sales_consultant", _("Sales consultant")
    CALL_AGENT = "call_agent", _("Call-centre agent")
    MANAGER = "manager", _("Manager")
    ADMIN = "admin", _("Administrator")


class AuditAction(models.TextChoices):
    VIEW_UNMASKED_PHONE = "view_unmasked_phone", _("Viewed full phone numbers")
    EXPORT = "export", _("Exported customer data")
    IMPORT = "import", _("Imported DMS data")
    CHANGE_SETTINGS = "change_settings", _("Changed settings")
    PHONE_SEARCH = "phone_search", _("Searched by phone digits")
    PHONE_SEARCH_REFUSED = "phone_search_refused", _("Phone search refused")
    EXPORT_REQUEST = "export_request", _("Requested an export needing approval")
    EXPORT_APPROVE = "export_approve", _("Approved an export")
    EXPORT_REFUSE = "export_refuse", _("Refused an export")
    CHANGE_CONSENT = "change_consent", _("Recorded a customer's consent")
    ERASE = "erase", _("Erased a customer's personal data")
    CLUB_POINTS = "club_points", _("Changed a member's points")
    CLUB_WALLET = "club_wallet", _("Recorded a stored-value entry")
    CLUB_TIER = "club_tier", _("Changed a member's tier")
    CLUB_START = "club_start", _("Started a store's club")
    CLUB_REFERRAL = "club_referral", _("Recorded a referral")


class CalendarDayKind(models.TextChoices):
    HOLIDAY = "holiday", _("Day off (public holiday)")
    WORKING_DAY = "working_day", _("Adjusted working day")
