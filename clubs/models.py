"""The owners' club (车友俱乐部 · 会员): a store's club, its tiers, members, the points ledger, the
stored-value wallet and referrals. The rules are in docs/club.md; writes go through clubs.services.

The ledger tables are append-only: a points entry, an allocation, a tier change and a wallet entry
are never updated or deleted (the erasure of a customer leaves them, anonymous, behind). A member's
``points_balance`` and ``wallet_balance`` are caches written in the same transaction as the entries
they sum, and ``tier`` the tier as of the club's last run or change.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from clubs.choices import (
    EntryKind,
    EventKind,
    ReferralStage,
    RegistrationSource,
    RegistrationStatus,
    Tier,
    TierChangeKind,
    WalletEntryKind,
)
from crm.models import Store, TimeStampedModel
from customers.models import Customer, Prospect, RepairOrder, Segment, Vehicle


class StoreClub(TimeStampedModel):
    """A store's club: when it started (S) and its rules (every number editable by a manager, with history)."""

    store = models.OneToOneField(
        Store, verbose_name=_("store"), primary_key=True, on_delete=models.PROTECT, related_name="club"
    )
    started_on = models.DateField(_("club started on"))
    run_through = models.DateField(
        _("processed through"), null=True, blank=True, help_text=_("The last day the nightly club run has done.")
    )
    last_run_at = models.DateTimeField(_("last run started at"), null=True, blank=True, editable=False)
    next_card_no = models.PositiveIntegerField(_("next card number"), default=1, editable=False)
    points_per_amount = models.DecimalField(
        _("yuan per point step"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("50"),
        validators=[MinValueValidator(Decimal("1"))],
        help_text=_("A repair order earns floor(total ÷ this) × the tier's rate."),
    )
    silver_spend = models.DecimalField(
        _("silver: qualifying spend in 12 months"), max_digits=12, decimal_places=2, default=Decimal("5000")
    )
    gold_spend = models.DecimalField(
        _("gold: qualifying spend in 12 months"), max_digits=12, decimal_places=2, default=Decimal("15000")
    )
    diamond_topup = models.DecimalField(
        _("diamond: one top-up of at least"), max_digits=12, decimal_places=2, default=Decimal("1500")
    )
    topup_min = models.DecimalField(_("smallest top-up"), max_digits=12, decimal_places=2, default=Decimal("1500"))
    topup_max = models.DecimalField(_("largest top-up"), max_digits=12, decimal_places=2, default=Decimal("10000"))
    points_valid_months = models.PositiveSmallIntegerField(
        _("points valid for (months)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    referral_points = models.PositiveIntegerField(_("points per referred sale"), default=500)
    referral_window_days = models.PositiveSmallIntegerField(
        _("a referral counts for (days)"), default=180, validators=[MinValueValidator(1)]
    )
    history = HistoricalRecords(excluded_fields=["updated_at", "run_through", "last_run_at", "next_card_no"])

    class Meta:
        verbose_name = _("store club")
        verbose_name_plural = _("store clubs")
        permissions = [
            ("start_club", _("Can start a store's club")),
            ("run_club", _("Can run the club's nightly job")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(silver_spend__lte=F("gold_spend")),
                name="storeclub_silver_below_gold",
                violation_error_message=_("The silver threshold cannot be above the gold one."),
            ),
            models.CheckConstraint(
                condition=Q(topup_min__lte=F("topup_max")),
                name="storeclub_topup_range",
                violation_error_message=_("The smallest top-up cannot be above the largest."),
            ),
        ]

    def __str__(self) -> str:
        return str(self.store)


class TierRule(TimeStampedModel):
    """What one tier of one store earns and gives: points rate, labour discount, benefits text."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices)
    points_rate = models.PositiveSmallIntegerField(
        _("points per step"), validators=[MaxValueValidator(100)], help_text=_("Points per ¥50 (the store's step).")
    )
    labour_discount = models.DecimalField(
        _("labour price paid"),
        max_digits=3,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.1")), MaxValueValidator(Decimal("1"))],
        help_text=_("0.95 is 9.5折, 0.70 is 7折, 1 is no discount."),
    )
    benefits = models.TextField(_("benefits"), blank=True)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["store", "tier"]
        verbose_name = _("tier rule")
        verbose_name_plural = _("tier rules")
        constraints = [models.UniqueConstraint(fields=["store", "tier"], name="tierrule_store_tier_unique")]

    def __str__(self) -> str:
        return f"{self.store.code} {self.get_tier_display()}"


class Membership(models.Model):
    """A club member: one per customer, in the customer's store."""

    customer = models.OneToOneField(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="membership"
    )
    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    card_no = models.CharField(_("card number"), max_length=40)
    card_issued_by_crm = models.BooleanField(_("card issued by the CRM"), default=False)
    joined_on = models.DateField(_("joined on"))
    opening_tier = models.PositiveSmallIntegerField(_("opening tier"), choices=Tier.choices, default=Tier.REGULAR)
    opening_points = models.IntegerField(_("opening points"), default=0)
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices, default=Tier.REGULAR)
    points_balance = models.IntegerField(_("points balance"), default=0)
    wallet_balance = models.DecimalField(_("stored value"), max_digits=12, decimal_places=2, default=Decimal("0"))
    credit_card_bank = models.CharField(
        _("co-branded credit card bank"), max_length=50, blank=True, help_text=_("信用卡会员: a badge, not a tier.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["store", "card_no"]
        verbose_name = _("member")
        verbose_name_plural = _("members")
        permissions = [
            ("redeem_points", _("Can redeem points at the desk")),
            ("adjust_points", _("Can credit or debit points and set tiers")),
            ("top_up_wallet", _("Can take stored-value top-ups and spends")),
            ("record_lifetime_fee", _("Can record a lifetime VIP fee")),
        ]
        indexes = [
            models.Index(fields=["store", "tier"], name="membership_store_tier_idx"),
            models.Index(fields=["card_no"], name="membership_card_idx"),
            # The members list of a store in its default order (by card): with the card index alone
            # the tenth store's first page read the nine stores before it (900,000 members, 190 ms).
            models.Index(fields=["store", "card_no"], name="membership_store_card_idx"),
            # The list's other orders (clubs.selectors.MEMBER_SORTS), a store's and the group's, each
            # whole, ties included: a club enrols most owners on its first day, and most members have
            # no points, so an index of the first column alone left sorts of 76,000-92,000 ties a
            # page (the group's list by joining day or balance: 400-630 ms of SQL; now ~10 ms).
            models.Index(fields=["store", "points_balance", "card_no", "id"], name="membership_store_balance_idx"),
            models.Index(fields=["store", "joined_on", "card_no", "id"], name="membership_store_joined_idx"),
            models.Index(fields=["points_balance", "card_no", "id"], name="membership_balance_idx"),
            models.Index(fields=["joined_on", "card_no", "id"], name="membership_joined_idx"),
            # The API's order by stored value (crm.api.filters.StableOrderingFilter adds card and id).
            models.Index(fields=["wallet_balance", "card_no", "id"], name="membership_wallet_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points_balance__gte=0),
                name="membership_points_not_negative",
                violation_error_message=_("A points balance never goes below zero."),
            ),
            models.CheckConstraint(
                condition=Q(wallet_balance__gte=0),
                name="membership_wallet_not_negative",
                violation_error_message=_("A stored-value balance never goes below zero."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.card_no} ({self.customer_id})"


class TierChange(models.Model):
    """A member's tier from a day on. Opening, joined and manual changes set it; spend, top-up and
    lifetime changes raise it (clubs.selectors.tier_on_sql reads the tier of a day from these)."""

    membership = models.ForeignKey(
        Membership, verbose_name=_("member"), on_delete=models.PROTECT, related_name="tier_changes"
    )
    effective_on = models.DateField(_("from"))
    tier = models.PositiveSmallIntegerField(_("tier"), choices=Tier.choices)
    kind = models.CharField(_("why"), max_length=10, choices=TierChangeKind.choices)
    repair_order = models.ForeignKey(
        RepairOrder, verbose_name=_("repair order"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reference = models.CharField(_("reference"), max_length=80, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["membership", "effective_on", "id"]
        verbose_name = _("tier change")
        verbose_name_plural = _("tier changes")
        indexes = [models.Index(fields=["membership", "effective_on"], name="tierchange_member_day_idx")]
        constraints = [
            # A repair order raises a tier at most once, however often it is counted again.
            models.UniqueConstraint(
                fields=["repair_order"], condition=Q(repair_order__isnull=False), name="tierchange_order_unique"
            ),
            models.CheckConstraint(
                condition=~Q(kind=TierChangeKind.MANUAL) | ~Q(reason=""),
                name="tierchange_manual_has_reason",
                violation_error_message=_("A manager's tier change needs a reason."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} {self.effective_on} {self.get_tier_display()}"


class PointsEntry(models.Model):
    """A line of the points ledger. A credit (positive) is a lot that counts up to the day before
    ``expires_on``; a debit (negative) consumes the oldest lots first (``PointsAllocation``); an
    expiry (negative) takes what is left of one lot out on its expiry date."""

    membership = models.ForeignKey(
        Membership, verbose_name=_("member"), on_delete=models.PROTECT, related_name="points_entries"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=EntryKind.choices)
    on = models.DateField(_("date"))
    points = models.IntegerField(_("points"))
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    repair_order = models.OneToOneField(
        RepairOrder, verbose_name=_("repair order"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    lot = models.OneToOneField(
        "self", verbose_name=_("expired lot"), null=True, blank=True, on_delete=models.PROTECT, related_name="expiry"
    )
    reference = models.CharField(_("reference"), max_length=80, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["membership", "on", "id"]
        verbose_name = _("points entry")
        verbose_name_plural = _("points entries")
        indexes = [
            models.Index(fields=["membership", "on"], name="pointsentry_member_day_idx"),
            # The lots still to expire, by day (the nightly run and "expiring in 30 days").
            models.Index(
                fields=["expires_on", "membership"], condition=Q(expires_on__isnull=False), name="pointsentry_lot_idx"
            ),
        ]
        constraints = [
            # A retried redemption, credit, referral or attendance never counts twice.
            models.UniqueConstraint(
                fields=["membership", "kind", "reference"], condition=~Q(reference=""), name="pointsentry_reference"
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True, points__lte=0) | Q(expires_on__isnull=False, points__gte=0),
                name="pointsentry_lot_or_debit",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["credit", "debit"]) | ~Q(note=""),
                name="pointsentry_manual_has_reason",
                violation_error_message=_("A manual credit or debit needs a reason."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} {self.on} {self.kind} {self.points}"


class PointsAllocation(models.Model):
    """How much of a lot a debit consumed (oldest lots first)."""

    debit = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="allocations")
    lot = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="consumed_by")
    points = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("points allocation")
        verbose_name_plural = _("points allocations")
        constraints = [models.UniqueConstraint(fields=["debit", "lot"], name="pointsallocation_unique")]

    def __str__(self) -> str:
        return f"{self.debit_id} ← {self.lot_id}: {self.points}"


class WalletEntry(models.Model):
    """A stored-value (钻石卡储值) top-up or spend; unique by its reference, never below zero."""

    membership = models.ForeignKey(
        Membership, verbose_name=_("member"), on_delete=models.PROTECT, related_name="wallet_entries"
    )
    kind = models.CharField(_("kind"), max_length=6, choices=WalletEntryKind.choices)
    amount = models.DecimalField(
        _("amount"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    balance_after = models.DecimalField(_("balance after"), max_digits=12, decimal_places=2)
    reference = models.CharField(_("reference"), max_length=80)
    repair_order = models.ForeignKey(
        RepairOrder, verbose_name=_("repair order"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        ordering = ["membership", "id"]
        verbose_name = _("stored-value entry")
        verbose_name_plural = _("stored-value entries")
        constraints = [
            models.UniqueConstraint(fields=["membership", "kind", "reference"], name="walletentry_reference"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="walletentry_amount_positive"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="walletentry_balance_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.membership_id} {self.kind} {self.amount}"


class Referral(TimeStampedModel):
    """保客转介绍: a prospect recorded on the referrer's card (or by a member of staff, without points),
    won when a car is delivered to the prospect's mobile within the store's window."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    referrer = models.ForeignKey(
        Customer, verbose_name=_("referring customer"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="referrals_made",
    )  # fmt: skip
    referrer_staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("referring staff member"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )  # fmt: skip
    prospect_name = models.CharField(_("prospect's name"), max_length=100)
    prospect_mobile = models.CharField(_("prospect's mobile"), max_length=11)
    intended_model = models.CharField(_("intended model"), max_length=100, blank=True)
    referred_on = models.DateField(_("referred on"), default=timezone.localdate)
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales consultant"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    stage = models.CharField(_("stage"), max_length=12, choices=ReferralStage.choices, default=ReferralStage.NEW)
    lost_reason = models.CharField(_("why lost"), max_length=200, blank=True)
    won_vehicle = models.OneToOneField(
        Vehicle, verbose_name=_("car sold"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    won_customer = models.ForeignKey(
        Customer, verbose_name=_("buyer"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    won_on = models.DateField(_("delivered on"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    # The prospect this referral attributes (customers.Prospect is the pipeline of every source); its
    # stage, consultant and win are kept in step by the club's referral services and nightly run.
    prospect = models.OneToOneField(
        Prospect, verbose_name=_("prospect"), null=True, blank=True, on_delete=models.PROTECT, related_name="referral"
    )
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-referred_on", "-id"]
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        permissions = [("view_referral_report", _("Can see the referral-sales report"))]
        indexes = [
            models.Index(
                fields=["prospect_mobile", "referred_on"],
                condition=Q(won_vehicle__isnull=True),
                name="referral_open_mobile_idx",
            ),
            models.Index(fields=["store", "won_on"], name="referral_store_won_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(referrer__isnull=False, referrer_staff__isnull=True)
                | Q(referrer__isnull=True, referrer_staff__isnull=False),
                name="referral_one_referrer",
                violation_error_message=_("A referral has either a referring customer or a referring staff member."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prospect_name} ({self.referred_on})"


# --- club events (车友会活动) ------------------------------------------------------------------


class ClubEvent(TimeStampedModel):
    """A club event of a store (new-owner class, self-drive tour, …): when and where, how many places,
    the segment it is for, the points attending earns. Registrations are in EventRegistration;
    writes go through clubs.services (event_create, event_register, event_check_in, …)."""

    store = models.ForeignKey(Store, verbose_name=_("store"), on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=EventKind.choices, default=EventKind.OTHER)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    place = models.CharField(_("place"), max_length=200)
    capacity = models.PositiveIntegerField(
        _("places"), validators=[MinValueValidator(1), MaxValueValidator(100_000)],
        help_text=_("Registrations beyond this go to the waiting list."),
    )  # fmt: skip
    segment = models.ForeignKey(
        Segment, verbose_name=_("for the segment"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    points_for_attending = models.PositiveIntegerField(
        _("points for attending"), default=0, validators=[MaxValueValidator(100_000)],
        help_text=_("Credited once to a member who checks in at the door; 0 for none."),
    )  # fmt: skip
    invitation_template = models.TextField(_("invitation text"), blank=True, max_length=500)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-starts_at", "-id"]
        verbose_name = _("club event")
        verbose_name_plural = _("club events")
        permissions = [("view_event_report", _("Can see an event's report"))]
        indexes = [models.Index(fields=["store", "starts_at"], name="clubevent_store_start_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="clubevent_ends_after_start",
                violation_error_message=_("An event ends after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(capacity__gte=1),
                name="clubevent_capacity_positive",
                violation_error_message=_("An event has at least one place."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({timezone.localtime(self.starts_at):%Y-%m-%d})"


class EventRegistration(TimeStampedModel):
    """One customer on one event's list: invited, registered (holding a place), on the waiting list
    (in the order of ``registered_at``), cancelled, or attended (checked in at the door, once)."""

    event = models.ForeignKey(
        ClubEvent, verbose_name=_("event"), on_delete=models.PROTECT, related_name="registrations"
    )
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="event_registrations"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=RegistrationStatus.choices, default=RegistrationStatus.INVITED
    )
    source = models.CharField(pgettext_lazy("how it came", "source"), max_length=8, choices=RegistrationSource.choices)
    invited_at = models.DateTimeField(_("invited at"), null=True, blank=True)
    registered_at = models.DateTimeField(_("registered at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    points_entry = models.ForeignKey(
        PointsEntry, verbose_name=_("points credited"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )  # fmt: skip
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    class Meta:
        ordering = ["event", "registered_at", "id"]
        verbose_name = _("event registration")
        verbose_name_plural = _("event registrations")
        permissions = [("check_in_event", _("Can check customers in at an event's door"))]
        indexes = [models.Index(fields=["event", "status", "registered_at"], name="eventreg_event_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "customer"],
                name="eventregistration_once",
                violation_error_message=_("This customer is already on the event's list."),
            ),
            models.CheckConstraint(
                condition=~Q(status="attended") | Q(checked_in_at__isnull=False),
                name="eventregistration_attended_checked_in",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_id} {self.customer_id} {self.status}"
