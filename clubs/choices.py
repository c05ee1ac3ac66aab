"""The owners' club's fixed vocabularies: tiers (ranked), ledger kinds, tier-change kinds."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Tier(models.IntegerChoices):
    """会员等级, ranked: a higher value is a higher tier. Stored as the rank; exported by its Chinese name."""

    REGULAR = 0, _("Regular")
    SILVER = 1, _("Silver")
    GOLD = 2, _("Gold")
    DIAMOND = 3, _("Diamond")
    LIFETIME = 4, _("Lifetime VIP")


# The Chinese names the DMS and the contract use (export_points writes these, whatever the UI language).
TIER_NAMES = {
    Tier.REGULAR: "普通",
    Tier.SILVER: "银卡",
    Tier.GOLD: "金卡",
    Tier.DIAMOND: "钻石",
    Tier.LIFETIME: "终身VIP",
}

# How DMS exports spell the tiers (会员等级): each maps to a rank. Blank is 普通; anything else is
# reported as unknown and read as 普通 (clubs.services.dms_tier_rank).
DMS_TIER_SPELLINGS = {
    "普通": Tier.REGULAR, "普卡": Tier.REGULAR, "普通卡": Tier.REGULAR, "普通会员": Tier.REGULAR,
    "银卡": Tier.SILVER, "银卡会员": Tier.SILVER, "银": Tier.SILVER,
    "金卡": Tier.GOLD, "金卡会员": Tier.GOLD, "金": Tier.GOLD,
    "钻石": Tier.DIAMOND, "钻石卡": Tier.DIAMOND, "钻石会员": Tier.DIAMOND, "钻卡": Tier.DIAMOND,
    "终身VIP": Tier.LIFETIME, "终身vip": Tier.LIFETIME, "终身会员": Tier.LIFETIME, "终身": Tier.LIFETIME,
}  # fmt: skip


class EntryKind(models.TextChoices):
    """A line of the points ledger. Credits are lots (they carry ``expires_on``); the rest are debits."""

    OPENING = "opening", _("Opening balance")
    ORDER = "order", _("Repair order")
    REFERRAL = "referral", _("Referral")
    ATTENDANCE = "attendance", _("Event attendance")
    CREDIT = "credit", _("Manual credit")
    DEBIT = "debit", _("Manual debit")
    REDEMPTION = "redemption", _("Redemption")
    EXPIRY = "expiry", _("Expired")


CREDIT_KINDS = (EntryKind.OPENING, EntryKind.ORDER, EntryKind.REFERRAL, EntryKind.ATTENDANCE, EntryKind.CREDIT)
DEBIT_KINDS = (EntryKind.DEBIT, EntryKind.REDEMPTION)


class TierChangeKind(models.TextChoices):
    """Why a member's tier changed. Opening, joining and a manager's change *set* the tier; the others
    only ever raise it."""

    OPENING = "opening", _("Opening tier from the DMS")
    JOINED = "joined", _("Joined")
    SPEND = "spend", _("Qualifying spend")
    TOPUP = "topup", _("Stored-value top-up")
    LIFETIME = "lifetime", _("Lifetime fee")
    MANUAL = "manual", _("Set by a manager")


SETTING_KINDS = (TierChangeKind.OPENING, TierChangeKind.JOINED, TierChangeKind.MANUAL)


class WalletEntryKind(models.TextChoices):
    TOPUP = "topup", _("Top-up")
    SPEND = "spend", _("Spend")


class ReferralStage(models.TextChoices):
    """The prospect's way through the sales pipeline (new → contacted → test drive → won / lost)."""

    NEW = "new", _("New")
    CONTACTED = "contacted", _("Contacted")
    TEST_DRIVE = "test_drive", _("Test drive")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class EventKind(models.TextChoices):
    """What a club event (车友会活动) is."""

    NEW_OWNER_CLASS = "new_owner_class", _("New-owner class")
    SELF_DRIVE_TOUR = "self_drive_tour", _("Self-drive tour")
    CHARITY = "charity", _("Charity")
    WELLNESS_SALON = "wellness_salon", _("Wellness salon")
    MAINTENANCE_LECTURE = "maintenance_lecture", _("Maintenance lecture")
    OTHER = "other", _("Other")


class RegistrationStatus(models.TextChoices):
    """Where a customer stands with an event: invited, holding a place, on the waiting list,
    cancelled, or came (checked in at the door)."""

    INVITED = "invited", _("Invited")
    REGISTERED = "registered", _("Registered")
    WAITING = "waiting", _("Waiting list")
    CANCELLED = "cancelled", _("Cancelled")
    ATTENDED = "attended", _("Attended")


class RegistrationSource(models.TextChoices):
    """How the customer came to the event's list (SMS replies come with the campaigns slice)."""

    PHONE = "phone", _("By phone")
    DESK = "desk", _("At the desk")
    SMS = "sms", _("SMS reply")
    DOOR = "door", _("Walk-in at the door")
