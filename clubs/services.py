"""The club's writes at the desk and by managers: redemptions, manual credits and debits, tier
changes, lifetime fees, stored-value top-ups and spends, a member joining at delivery.

Each write locks the member's row, so two desks working on one member take turns: a balance is
checked and spent in one step and never overdrawn. Each is idempotent by its reference: the same
reference sent again returns the entry it made the first time (and is refused if it asked for
something else). Every write is audited. The set-based nightly work is in clubs.run.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clubs.choices import EntryKind, ReferralStage, Tier, TierChangeKind, WalletEntryKind
from clubs.models import (
    Membership,
    PointsAllocation,
    PointsEntry,
    Referral,
    StoreClub,
    TierChange,
    TierRule,
    WalletEntry,
)
from clubs.run import ALLOCATION, POINTS, club_start
from clubs.selectors import referral_consultants
from crm.audit import audit_log_record
from crm.calendar import add_months
from crm.choices import AuditAction
from crm.exceptions import ApplicationError
from crm.scoping import visible_store_ids
from customers.dms.parsing import FieldError, parse_mobile
from customers.models import Customer
from customers.selectors import customer_queryset_for_user, customers_with_mobile

MAX_POINTS_PER_ENTRY = 10_000_000


def _locked(membership: Membership) -> Membership:
    return Membership.objects.select_for_update(of=("self",)).select_related("store__club").get(pk=membership.pk)


def _today() -> datetime.date:
    return timezone.localdate()


def _refresh_balance(member: Membership) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(points), 0) FROM {POINTS} WHERE membership_id = %s", [member.pk])
        member.points_balance = cursor.fetchone()[0]
    Membership.objects.filter(pk=member.pk).update(points_balance=member.points_balance)


def _open_lots(member: Membership, on: datetime.date) -> list[tuple[int, int]]:
    """The member's lots still counting on ``on`` with what is left of each, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT l.id, l.points - coalesce((SELECT sum(a.points) FROM {ALLOCATION} a WHERE a.lot_id = l.id), 0)
            FROM {POINTS} l
            WHERE l.membership_id = %s AND l.expires_on > %s AND l."on" <= %s
              AND NOT EXISTS (SELECT 1 FROM {POINTS} x WHERE x.lot_id = l.id)
            ORDER BY l.expires_on, l."on", l.id
            """,
            [member.pk, on, on],
        )
        return [(lot_id, left) for lot_id, left in cursor.fetchall() if left > 0]


def points_available(*, membership: Membership, on: datetime.date | None = None) -> int:
    """The points the member can spend on ``on`` (today): what is left of the lots still counting."""
    return sum(left for _lot, left in _open_lots(membership, on or _today()))


def _existing(member: Membership, kind: str, reference: str, points: int) -> PointsEntry | None:
    if not reference:
        return None
    entry = PointsEntry.objects.filter(membership=member, kind=kind, reference=reference).first()
    if entry and entry.points != points:
        raise ApplicationError(
            _("Reference %(reference)s was already used for %(points)s points.")
            % {"reference": reference, "points": abs(entry.points)}
        )
    return entry


def _check_points(points: int) -> int:
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise ApplicationError(_("Enter a whole number of points above zero."))
    if points > MAX_POINTS_PER_ENTRY:
        raise ApplicationError(_("At most %(limit)s points at a time.") % {"limit": f"{MAX_POINTS_PER_ENTRY:,}"})
    return points


def _audit(user, action: AuditAction, member: Membership, detail: dict) -> None:
    audit_log_record(actor=user, action=action, object_type="clubs.membership", object_ids=[member.pk], detail=detail)


def _debit(*, member: Membership, kind: str, points: int, reference: str, note: str, user) -> PointsEntry:
    today = _today()
    if existing := _existing(member, kind, reference, -points):
        return existing
    lots = _open_lots(member, today)
    available = sum(left for _lot, left in lots)
    if points > available:
        raise ApplicationError(
            _("Only %(available)s points are available; %(points)s cannot be taken.")
            % {"available": available, "points": points}
        )
    entry = PointsEntry.objects.create(
        membership=member, kind=kind, on=today, points=-points, reference=reference, note=note, created_by=user
    )
    allocations, needed = [], points
    for lot_id, left in lots:
        if needed == 0:
            break
        take = min(left, needed)
        allocations.append(PointsAllocation(debit=entry, lot_id=lot_id, points=take))
        needed -= take
    PointsAllocation.objects.bulk_create(allocations)
    _refresh_balance(member)
    return entry


def _credit(
    *, member: Membership, kind: str, points: int, on: datetime.date, reference: str, note: str, user
) -> PointsEntry:
    if existing := _existing(member, kind, reference, points):
        return existing
    entry = PointsEntry.objects.create(
        membership=member,
        kind=kind,
        on=on,
        points=points,
        expires_on=add_months(on, member.store.club.points_valid_months),
        reference=reference,
        note=note,
        created_by=user,
    )
    _refresh_balance(member)
    return entry


@transaction.atomic
def points_redeem(*, membership: Membership, points: int, reference: str, user, note: str = "") -> PointsEntry:
    """Spend ``points`` at the desk (oldest lots first); refused beyond what is available today."""
    points = _check_points(points)
    reference = (reference or "").strip()
    if not reference:
        raise ApplicationError(_("A redemption needs a reference (the voucher or order number)."))
    member = _locked(membership)
    entry = _debit(member=member, kind=EntryKind.REDEMPTION, points=points, reference=reference, note=note, user=user)
    _audit(user, AuditAction.CLUB_POINTS, member, {"kind": "redemption", "points": -points, "reference": reference})
    return entry


@transaction.atomic
def points_adjust(*, membership: Membership, points: int, reason: str, user, reference: str = "") -> PointsEntry:
    """A manager's credit (``points`` > 0, a lot earned today) or debit (< 0) with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the points are changed."))
    if not isinstance(points, int) or points == 0:
        raise ApplicationError(_("Enter a whole number of points other than zero."))
    _check_points(abs(points))
    member = _locked(membership)
    reference = (reference or "").strip()
    if points > 0:
        entry = _credit(
            member=member, kind=EntryKind.CREDIT, points=points, on=_today(), reference=reference, note=reason,
            user=user,
        )  # fmt: skip
    else:
        entry = _debit(member=member, kind=EntryKind.DEBIT, points=-points, reference=reference, note=reason, user=user)
    _audit(user, AuditAction.CLUB_POINTS, member, {"kind": entry.kind, "points": points, "reason": reason})
    return entry


@transaction.atomic
def points_credit(
    *, membership: Membership, kind: str, points: int, on: datetime.date, reference: str, note: str = "", user=None
) -> PointsEntry:
    """Credit a lot of another kind (event attendance, …) once per reference."""
    if kind not in (EntryKind.ATTENDANCE, EntryKind.REFERRAL, EntryKind.CREDIT):
        raise ValueError(f"not a credit kind: {kind}")
    member = _locked(membership)
    entry = _credit(member=member, kind=kind, points=_check_points(points), on=on, reference=reference, note=note,
                    user=user)  # fmt: skip
    _audit(user, AuditAction.CLUB_POINTS, member, {"kind": kind, "points": points, "reference": reference})
    return entry


def _tier_change(*, member: Membership, tier: int, kind: str, reason: str = "", reference: str = "", user) -> None:
    TierChange.objects.create(
        membership=member, effective_on=_today(), tier=tier, kind=kind, reason=reason, reference=reference,
        created_by=user,
    )  # fmt: skip
    Membership.objects.filter(pk=member.pk).update(tier=tier)
    member.tier = tier


@transaction.atomic
def tier_set(*, membership: Membership, tier: int, reason: str, user) -> Membership:
    """A manager sets any tier (also a lower one) from today, with a reason kept in the history."""
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the tier is changed."))
    if tier not in Tier.values:
        raise ApplicationError(_("Choose one of the tiers."))
    member = _locked(membership)
    previous = member.tier
    _tier_change(member=member, tier=tier, kind=TierChangeKind.MANUAL, reason=reason, user=user)
    _audit(user, AuditAction.CLUB_TIER, member, {"from": previous, "to": tier, "reason": reason})
    return member


@transaction.atomic
def lifetime_fee_record(*, membership: Membership, reference: str, user, note: str = "") -> Membership:
    """Record the one-off lifetime fee (its receipt as reference): the member becomes 终身VIP."""
    reference = (reference or "").strip()
    if not reference:
        raise ApplicationError(_("Enter the receipt number of the lifetime fee."))
    member = _locked(membership)
    if TierChange.objects.filter(membership=member, kind=TierChangeKind.LIFETIME, reference=reference).exists():
        return member
    if member.tier < Tier.LIFETIME:
        _tier_change(member=member, tier=Tier.LIFETIME, kind=TierChangeKind.LIFETIME, reference=reference,
                     reason=note, user=user)  # fmt: skip
    _audit(user, AuditAction.CLUB_TIER, member, {"to": int(Tier.LIFETIME), "lifetime_fee": reference})
    return member


def _wallet_existing(member: Membership, kind: str, reference: str, amount: Decimal) -> WalletEntry | None:
    entry = WalletEntry.objects.filter(membership=member, kind=kind, reference=reference).first()
    if entry and entry.amount != amount:
        raise ApplicationError(
            _("Reference %(reference)s was already used for ¥%(amount)s.")
            % {"reference": reference, "amount": entry.amount}
        )
    return entry


def _check_amount(amount) -> Decimal:
    try:
        amount = Decimal(str(amount)).quantize(Decimal("0.01"))
    except ArithmeticError:
        raise ApplicationError(_("Enter an amount in yuan, such as 1500 or 1500.50.")) from None
    if not amount.is_finite() or amount <= 0:
        raise ApplicationError(_("Enter an amount above zero."))
    if amount >= Decimal("1e10"):
        raise ApplicationError(_("The amount is too large."))
    return amount


@transaction.atomic
def wallet_top_up(*, membership: Membership, amount, reference: str, user, note: str = "") -> WalletEntry:
    """A stored-value top-up (its payment reference); one at or above the store's threshold makes
    the member 钻石 (if lower)."""
    amount = _check_amount(amount)
    reference = (reference or "").strip()
    if not reference:
        raise ApplicationError(_("Enter the payment reference of the top-up."))
    member = _locked(membership)
    if existing := _wallet_existing(member, WalletEntryKind.TOPUP, reference, amount):
        return existing
    club: StoreClub = member.store.club
    if not club.topup_min <= amount <= club.topup_max:
        raise ApplicationError(
            _("A top-up is between ¥%(low)s and ¥%(high)s.") % {"low": club.topup_min, "high": club.topup_max}
        )
    member.wallet_balance += amount
    entry = WalletEntry.objects.create(
        membership=member, kind=WalletEntryKind.TOPUP, amount=amount, balance_after=member.wallet_balance,
        reference=reference, note=note, created_by=user,
    )  # fmt: skip
    Membership.objects.filter(pk=member.pk).update(wallet_balance=member.wallet_balance)
    if amount >= club.diamond_topup and member.tier < Tier.DIAMOND:
        _tier_change(member=member, tier=Tier.DIAMOND, kind=TierChangeKind.TOPUP, reference=reference, user=user)
    _audit(user, AuditAction.CLUB_WALLET, member, {"kind": "topup", "amount": str(amount), "reference": reference})
    return entry


@transaction.atomic
def wallet_spend(
    *, membership: Membership, amount, reference: str, user, repair_order=None, note: str = ""
) -> WalletEntry:
    """Pay from the stored value (a repair order or another reference); never below zero."""
    amount = _check_amount(amount)
    reference = (reference or (repair_order.ro_no if repair_order else "")).strip()
    if not reference:
        raise ApplicationError(_("Enter the repair order or receipt the stored value pays."))
    member = _locked(membership)
    if existing := _wallet_existing(member, WalletEntryKind.SPEND, reference, amount):
        return existing
    if amount > member.wallet_balance:
        raise ApplicationError(
            _("The stored value is ¥%(balance)s; ¥%(amount)s cannot be spent.")
            % {"balance": member.wallet_balance, "amount": amount}
        )
    member.wallet_balance -= amount
    entry = WalletEntry.objects.create(
        membership=member, kind=WalletEntryKind.SPEND, amount=amount, balance_after=member.wallet_balance,
        reference=reference, repair_order=repair_order, note=note, created_by=user,
    )  # fmt: skip
    Membership.objects.filter(pk=member.pk).update(wallet_balance=member.wallet_balance)
    _audit(user, AuditAction.CLUB_WALLET, member, {"kind": "spend", "amount": str(amount), "reference": reference})
    return entry


@transaction.atomic
def membership_join(*, customer, on: datetime.date, user=None) -> Membership:
    """A customer joins now (at delivery): the card the DMS gave, else the next card the CRM issues.
    Returns the existing membership when there is one; refused while the store's club has not started."""
    if existing := Membership.objects.filter(customer=customer).first():
        return existing
    club = StoreClub.objects.select_for_update().filter(store_id=customer.store_id).first()
    if club is None or club.started_on > on:
        raise ApplicationError(_("The club of this store has not started yet."))
    card = (customer.member_card_no or "").strip()
    issued = not card
    if issued:
        card = f"M{customer.store.code}{club.next_card_no:06d}"
        StoreClub.objects.filter(pk=club.pk).update(next_card_no=club.next_card_no + 1)
    member = Membership.objects.create(
        customer=customer, store_id=customer.store_id, card_no=card, card_issued_by_crm=issued, joined_on=on
    )
    TierChange.objects.create(
        membership=member, effective_on=on, tier=Tier.REGULAR, kind=TierChangeKind.JOINED, created_by=user
    )
    return member


# --- the club's settings page (clubs/views.py): starting a store's club, its rules, its tier rules ---

STORE_CLUB_RULE_FIELDS = (
    "points_per_amount", "silver_spend", "gold_spend", "diamond_topup", "topup_min", "topup_max",
    "points_valid_months", "referral_points", "referral_window_days",
)  # fmt: skip
TIER_RULE_FIELDS = ("points_rate", "labour_discount", "benefits")


def store_club_start(*, store, started_on: datetime.date, user):
    """Start ``store``'s club from the settings page: the same clubs.run.club_start as the command
    (refused when it has started already), audited."""
    result = club_start(store=store, started_on=started_on, user=user)
    audit_log_record(
        actor=user, action=AuditAction.CLUB_START, object_type="clubs.storeclub", object_ids=[store.pk],
        detail={"started_on": started_on.isoformat(), "members": result.members, "points": result.opening_points},
    )  # fmt: skip
    return result


def _validated_save(obj, *, user, fields: tuple[str, ...], values: dict, object_type: str, key) -> list[str]:
    """Set ``values`` on ``obj``, validate it (fields and constraints) and save it with its history
    user; refused with the first problem in words. Returns the names of the fields changed."""
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    history = type(obj).history
    if not history.filter(**{obj._meta.pk.attname: obj.pk}).exists():
        # Rows made in bulk (club_start's tier rules) have no first version: record it as it was,
        # so that the history of the first change says what it changed from.
        history.bulk_history_create([obj], default_date=obj.created_at)
    changed = []
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.append(name)
    try:
        obj.full_clean()
    except ValidationError as error:
        messages = []
        for name, errors in error.message_dict.items():
            label = obj._meta.get_field(name).verbose_name if name in fields else None
            messages += [f"{label}: {text}" if label else text for text in errors]
        raise ApplicationError(" ".join(messages)) from None
    if not changed:
        return []
    obj._history_user = user
    obj.save()
    obj.refresh_from_db()
    audit_log_record(
        actor=user, action=AuditAction.CHANGE_SETTINGS, object_type=object_type, object_ids=[key],
        detail={name: str(getattr(obj, name)) for name in changed},
    )  # fmt: skip
    return changed


@transaction.atomic
def store_club_update(*, store_club: StoreClub, user, **values) -> list[str]:
    """A manager changes the club's rules (thresholds, top-up range, step, validity, referrals).
    The rules apply from the next run on; what was earned stays. Returns the fields changed."""
    club = StoreClub.objects.select_for_update().get(pk=store_club.pk)
    for name in ("silver_spend", "gold_spend", "diamond_topup", "topup_min", "topup_max"):
        if name in values and values[name] is not None and values[name] <= 0:
            raise ApplicationError(
                _("%(field)s: enter an amount above zero.") % {"field": StoreClub._meta.get_field(name).verbose_name}
            )
    changed = _validated_save(
        club, user=user, fields=STORE_CLUB_RULE_FIELDS, values=values, object_type="clubs.storeclub", key=club.pk
    )
    store_club.refresh_from_db()
    return changed


@transaction.atomic
def tier_rule_update(*, tier_rule: TierRule, user, **values) -> list[str]:
    """A manager changes what a tier earns and gives (points per step, labour discount, benefits)."""
    rule = TierRule.objects.select_for_update().get(pk=tier_rule.pk)
    if "benefits" in values:
        values["benefits"] = (values["benefits"] or "").strip()
    changed = _validated_save(
        rule, user=user, fields=TIER_RULE_FIELDS, values=values, object_type="clubs.tierrule", key=rule.pk
    )
    tier_rule.refresh_from_db()
    return changed


# --- referrals (保客转介绍) ------------------------------------------------------------------------
#
# A referral is recorded on the referrer's card (or, for a staff referral, from the prospects'
# list) and worked by a sales consultant of the store (new → contacted → test drive → lost); it is
# won only by the nightly run (clubs.run._win_referrals), when the prospect's mobile takes delivery
# of a car within the store's window. What a dealership expects, and so what is refused:
# - a number that is already an owner's (a car delivered to it): an owner buying again is a repeat
#   purchase (增购/换购), not a referral; and a referral recorded after the car was delivered could
#   only be a claim on a sale already made;
# - a customer referring their own number; a date in the future;
# - the same referrer recording the same number twice while it is open: the first one is returned
#   (a double submit records one). Two referrers naming one number are both kept: the earliest wins.

REFERRAL_TEXT_LIMIT = 100
LOST_REASON_LIMIT = 200


def _one_line(value) -> str:
    return " ".join(str(value or "").split())


def _referral_mobile(value) -> str:
    try:
        mobile = parse_mobile(value)
    except FieldError:
        mobile = None
    if not mobile:
        raise ApplicationError(
            _("Enter the prospect's mobile: a mainland mobile number of 11 digits, such as 138 0013 8000.")
        )
    return mobile


def _referral_store_of_staff(*, user, referrer_staff, store):
    """The store of a staff referral: ``store`` if given, else the one store of the user's the
    referring member of staff works in."""
    visible = visible_store_ids(user)
    shared = referrer_staff.stores.filter(is_active=True)
    if visible is not None:
        shared = shared.filter(pk__in=visible)
    if store is not None:
        if not shared.filter(pk=store.pk).exists():
            raise ApplicationError(
                _("%(name)s does not work at %(store)s.")
                % {"name": referrer_staff.get_full_name() or referrer_staff.username, "store": store.name}
            )
        return store
    stores = list(shared.order_by("code")[:2])
    if not stores:
        raise ApplicationError(
            _("%(name)s does not work in any of your stores.")
            % {"name": referrer_staff.get_full_name() or referrer_staff.username}
        )
    if len(stores) > 1:
        raise ApplicationError(_("Choose the store the prospect is referred to."))
    return stores[0]


def _check_consultant(consultant, store) -> None:
    if consultant is not None and not referral_consultants(store_ids=[store.pk]).filter(pk=consultant.pk).exists():
        raise ApplicationError(
            _("%(name)s is not a sales consultant of %(store)s.")
            % {"name": consultant.get_full_name() or consultant.username, "store": store.name}
        )


# --- Retried requests (the API): tell a replay from a first call ---------------------------------


class ReferenceReused(ApplicationError):
    """The reference was used before for another number of points or another amount (the API's 409)."""


def _replayed_points(member: Membership, kind: str, reference: str, points: int) -> PointsEntry | None:
    try:
        return _existing(member, kind, reference, points)
    except ApplicationError as error:
        raise ReferenceReused(error.message) from None


def _replayed_wallet(member: Membership, kind: str, reference: str, amount: Decimal) -> WalletEntry | None:
    try:
        return _wallet_existing(member, kind, reference, amount)
    except ApplicationError as error:
        raise ReferenceReused(error.message) from None


@transaction.atomic
def points_redeem_by_reference(
    *, membership: Membership, points: int, reference: str, user, note: str = ""
) -> tuple[PointsEntry, bool]:
    """``points_redeem`` for a request that may be a retry: ``(entry, True)`` when this call redeemed;
    ``(the first entry, False)`` when the reference was redeemed before for the same points (nothing
    changes, nothing is audited again); ``ReferenceReused`` when it was for other points. The member
    is locked before the reference is looked up, so of two racing calls the second sees the first."""
    points = _check_points(points)
    reference = (reference or "").strip()
    if reference:
        member = _locked(membership)
        if existing := _replayed_points(member, EntryKind.REDEMPTION, reference, -points):
            return existing, False
    return points_redeem(membership=membership, points=points, reference=reference, user=user, note=note), True


@transaction.atomic
def wallet_top_up_by_reference(
    *, membership: Membership, amount, reference: str, user, note: str = ""
) -> tuple[WalletEntry, bool]:
    """``wallet_top_up`` for a request that may be a retry (see ``points_redeem_by_reference``)."""
    amount = _check_amount(amount)
    reference = (reference or "").strip()
    if reference:
        member = _locked(membership)
        if existing := _replayed_wallet(member, WalletEntryKind.TOPUP, reference, amount):
            return existing, False
    return wallet_top_up(membership=membership, amount=amount, reference=reference, user=user, note=note), True


@transaction.atomic
def wallet_spend_by_reference(
    *, membership: Membership, amount, reference: str, user, note: str = ""
) -> tuple[WalletEntry, bool]:
    """``wallet_spend`` for a request that may be a retry (see ``points_redeem_by_reference``)."""
    amount = _check_amount(amount)
    reference = (reference or "").strip()
    if reference:
        member = _locked(membership)
        if existing := _replayed_wallet(member, WalletEntryKind.SPEND, reference, amount):
            return existing, False
    return wallet_spend(membership=membership, amount=amount, reference=reference, user=user, note=note), True


@transaction.atomic
def referral_record(
    *,
    user,
    referrer=None,
    referrer_staff=None,
    prospect_name,
    prospect_mobile,
    intended_model="",
    consultant=None,
    referred_on: datetime.date | None = None,
    store=None,
) -> Referral:
    """Record a referral: by a customer (``referrer``, one the user may see; the store is theirs)
    or by a member of staff (``referrer_staff``: no points; the store is ``store`` or the one of
    the user's stores they work in). The prospect's mobile is normalised (+86, spaces, full-width
    digits); ``consultant`` is a sales consultant of the store, or None for not assigned yet.
    Refused (ApplicationError) as the block above says; audited, with history."""
    if (referrer is None) == (referrer_staff is None):
        raise ApplicationError(_("Name either the customer or the member of staff who referred the prospect."))
    name = _one_line(prospect_name)
    if not name:
        raise ApplicationError(_("Enter the prospect's name."))
    if len(name) > REFERRAL_TEXT_LIMIT:
        raise ApplicationError(_("The prospect's name is at most 100 characters."))
    mobile = _referral_mobile(prospect_mobile)
    model = _one_line(intended_model)
    if len(model) > REFERRAL_TEXT_LIMIT:
        raise ApplicationError(_("The intended model is at most 100 characters."))
    today = _today()
    referred_on = referred_on or today
    if referred_on > today:
        raise ApplicationError(_("A referral cannot be dated in the future."))
    if referrer is not None:
        referrer = customer_queryset_for_user(user).select_related("store").filter(pk=referrer.pk).first()
        if referrer is None:
            raise ApplicationError(_("This customer is not one of your stores' customers."))
        store = referrer.store
        if referrer.mobile == mobile:
            raise ApplicationError(_("A customer cannot refer their own mobile number."))
    else:
        if not referrer_staff.is_active:
            raise ApplicationError(_("This member of staff no longer works here."))
        store = _referral_store_of_staff(user=user, referrer_staff=referrer_staff, store=store)
    _check_consultant(consultant, store)
    if customers_with_mobile(mobile=mobile).filter(vehicles__delivery_date__lte=today).exists():
        raise ApplicationError(
            _(
                "This mobile number belongs to a customer who has already taken delivery of a car: a referral "
                "is for a new customer (an owner buying again is a repeat purchase, not a referral)."
            )
        )
    same = Referral.objects.select_for_update().filter(
        store=store, prospect_mobile=mobile, won_vehicle__isnull=True, referrer=referrer, referrer_staff=referrer_staff
    )
    if existing := same.exclude(stage=ReferralStage.LOST).order_by("referred_on", "id").first():
        return existing
    referral = Referral(
        store=store,
        referrer=referrer,
        referrer_staff=referrer_staff,
        prospect_name=name,
        prospect_mobile=mobile,
        intended_model=model,
        referred_on=referred_on,
        consultant=consultant,
        recorded_by=user,
    )
    referral.full_clean()
    referral._history_user = user
    referral.save()
    audit_log_record(
        actor=user,
        action=AuditAction.CLUB_REFERRAL,
        object_type="clubs.referral",
        object_ids=[referral.pk],
        detail={
            "store": store.code,
            "referrer": referrer.pk if referrer else None,
            "referrer_staff": referrer_staff.pk if referrer_staff else None,
            "consultant": consultant.pk if consultant else None,
            "referred_on": referred_on.isoformat(),
        },
    )
    return referral


@transaction.atomic
def referral_stage_set(*, user, referral: Referral, stage: str, lost_reason: str = "") -> Referral:
    """Move an open referral along the sales pipeline (new, contacted, test drive, lost with a
    reason; a lost one may be opened again). Won is set only by the nightly matching, and a won
    referral no longer changes. Kept in the referral's history."""
    if stage == ReferralStage.WON:
        raise ApplicationError(
            _("A referral is won only when the prospect takes delivery of a car: the nightly run matches it.")
        )
    if stage not in ReferralStage.values:
        raise ApplicationError(_("Choose one of the stages."))
    reason = _one_line(lost_reason)
    if stage == ReferralStage.LOST and not reason:
        raise ApplicationError(_("Say why the prospect was lost."))
    if len(reason) > LOST_REASON_LIMIT:
        raise ApplicationError(_("The reason is at most 200 characters."))
    if stage != ReferralStage.LOST:
        reason = ""
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    if referral.stage == ReferralStage.WON:
        raise ApplicationError(
            _("This referral is won (the car was delivered on %(date)s): its stage no longer changes.")
            % {"date": referral.won_on.isoformat() if referral.won_on else "—"}
        )
    if (referral.stage, referral.lost_reason) == (stage, reason):
        return referral
    referral.stage = stage
    referral.lost_reason = reason
    referral._history_user = user
    referral.save(update_fields=["stage", "lost_reason", "updated_at"])
    return referral


@transaction.atomic
def referral_assign(*, user, referral: Referral, consultant) -> Referral:
    """Give a prospect to a sales consultant of the referral's store (None: not assigned). A won
    referral keeps the consultant who sold the car. Kept in the referral's history."""
    referral = Referral.objects.select_for_update().select_related("store").get(pk=referral.pk)
    if referral.stage == ReferralStage.WON:
        raise ApplicationError(_("This referral is won: its sales consultant no longer changes."))
    _check_consultant(consultant, referral.store)
    if referral.consultant_id == (consultant.pk if consultant else None):
        return referral
    referral.consultant = consultant
    referral._history_user = user
    referral.save(update_fields=["consultant", "updated_at"])
    return referral


# --- club events ---------------------------------------------------------------------------------
#
# An event's places are counted under a row lock on the event: two desks registering the last place
# take turns, and the second goes to the waiting list. A cancellation (or a larger capacity) moves
# the waiting list up in the order people asked, while places are free. Checking in at the door
# happens once per customer and credits the event's points once to a member (points_credit with the
# reference "event:<id>", so a retry finds the entry it made).

EVENT_FIELDS = (
    "title", "kind", "starts_at", "ends_at", "place", "capacity", "segment", "points_for_attending",
    "invitation_template",
)  # fmt: skip
HOLDING_A_PLACE = ("registered", "attended")


def _event_check(event) -> None:
    from clubs.choices import EventKind

    event.title = _one_line(event.title)
    event.place = _one_line(event.place)
    if not event.title:
        raise ApplicationError(_("Enter the event's title."))
    if not event.place:
        raise ApplicationError(_("Enter where the event takes place."))
    if event.kind not in EventKind.values:
        raise ApplicationError(_("Choose one of the kinds of event."))
    if event.starts_at is None or event.ends_at is None:
        raise ApplicationError(_("Enter when the event starts and ends."))
    if event.ends_at <= event.starts_at:
        raise ApplicationError(_("The event must end after it starts."))
    if not isinstance(event.capacity, int) or event.capacity < 1:
        raise ApplicationError(_("An event has at least one place."))
    if event.segment is not None and event.segment.store_id not in (None, event.store_id):
        raise ApplicationError(_("The segment belongs to another store."))
    try:
        event.full_clean()
    except ValidationError as error:
        raise ApplicationError(" ".join(error.messages)) from None


def _event_store_check(*, user, store) -> None:
    visible = visible_store_ids(user)
    if visible is not None and store.pk not in visible:
        raise ApplicationError(_("You cannot plan events for this store."))


@transaction.atomic
def event_create(*, user, store, title, kind, starts_at, ends_at, place, capacity, segment=None,
                 points_for_attending: int = 0, invitation_template: str = ""):  # fmt: skip
    """Plan an event of ``store`` (one of the user's): it ends after it starts, has at least one place."""
    from clubs.models import ClubEvent

    _event_store_check(user=user, store=store)
    event = ClubEvent(
        store=store, title=title, kind=kind, starts_at=starts_at, ends_at=ends_at, place=place, capacity=capacity,
        segment=segment, points_for_attending=points_for_attending, invitation_template=invitation_template or "",
        created_by=user,
    )  # fmt: skip
    _event_check(event)
    event._history_user = user
    event.save()
    return event


def _event_locked(event):
    from clubs.models import ClubEvent

    return ClubEvent.objects.select_for_update(of=("self",)).select_related("store").get(pk=event.pk)


def _places_taken(event) -> int:
    from clubs.models import EventRegistration

    return EventRegistration.objects.filter(event=event, status__in=HOLDING_A_PLACE).count()


def _promote_waiting(*, event, user, places: int) -> list:
    """Move the first ``places`` of the waiting list up (the event is locked by the caller)."""
    from clubs.choices import RegistrationStatus
    from clubs.models import EventRegistration

    if places <= 0:
        return []
    waiting = list(
        EventRegistration.objects.select_for_update()
        .filter(event=event, status=RegistrationStatus.WAITING)
        .order_by("registered_at", "id")[:places]
    )
    for registration in waiting:
        registration.status = RegistrationStatus.REGISTERED
        registration.updated_by = user
        registration.save(update_fields=["status", "updated_by", "updated_at"])
    return waiting


@transaction.atomic
def event_update(*, user, event, **fields):
    """Change an event's details. The capacity cannot go below the places already taken; a larger
    capacity moves the waiting list up."""
    unknown = set(fields) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"not event fields: {sorted(unknown)}")
    event = _event_locked(event)
    for name, value in fields.items():
        setattr(event, name, value)
    if event.invitation_template is None:
        event.invitation_template = ""
    _event_check(event)
    taken = _places_taken(event)
    if event.capacity < taken:
        raise ApplicationError(
            _("%(taken)s people hold a place already: the event needs at least %(taken)s places.") % {"taken": taken}
        )
    event._history_user = user
    event.save()
    _promote_waiting(event=event, user=user, places=event.capacity - taken)
    return event


def _event_customer(*, user, event, customer):
    """The customer, if the user may see them and they are a customer of the event's store. Without
    a user (a reply to the invitation SMS) the customer the reply was matched to."""
    found = (customer_queryset_for_user(user) if user is not None else Customer.objects).filter(pk=customer.pk).first()
    if found is None:
        raise ApplicationError(_("This customer is not one of your stores' customers."))
    if found.store_id != event.store_id:
        raise ApplicationError(
            _("%(name)s is a customer of another store: events are for the store's own customers.")
            % {"name": found.name}
        )
    return found


def _event_open_for_registration(event) -> None:
    if timezone.now() >= event.starts_at:
        raise ApplicationError(_("The event has started: registrations are closed; check people in at the door."))


@transaction.atomic
def event_invite(*, user, event, customer, source: str = "phone"):
    """Staff invited the customer (by phone): they go on the list as invited. Someone already on
    the list keeps their place; a cancelled registration becomes an invitation again."""
    from clubs.choices import RegistrationStatus
    from clubs.models import EventRegistration

    event = _event_locked(event)
    _event_open_for_registration(event)
    customer = _event_customer(user=user, event=event, customer=customer)
    now = timezone.now()
    registration = EventRegistration.objects.select_for_update().filter(event=event, customer=customer).first()
    if registration is None:
        return EventRegistration.objects.create(
            event=event, customer=customer, status=RegistrationStatus.INVITED, source=source, invited_at=now,
            updated_by=user,
        )  # fmt: skip
    if registration.status == RegistrationStatus.CANCELLED:
        registration.status = RegistrationStatus.INVITED
        registration.invited_at = now
        registration.updated_by = user
        registration.save(update_fields=["status", "invited_at", "updated_by", "updated_at"])
    return registration


@transaction.atomic
def event_register(*, user, event, customer, source: str = "phone"):
    """Register the customer: a place while there is one, else the end of the waiting list. The
    places are counted under a lock on the event, so two registrations racing for the last place
    leave exactly one registered. Someone already registered, waiting or attended stays as they are."""
    from clubs.choices import RegistrationSource, RegistrationStatus
    from clubs.models import EventRegistration

    if source not in RegistrationSource.values:
        raise ValueError(f"not a registration source: {source}")
    event = _event_locked(event)
    _event_open_for_registration(event)
    customer = _event_customer(user=user, event=event, customer=customer)
    registration = EventRegistration.objects.select_for_update().filter(event=event, customer=customer).first()
    if registration is not None and registration.status not in (
        RegistrationStatus.INVITED,
        RegistrationStatus.CANCELLED,
    ):
        return registration
    status = RegistrationStatus.REGISTERED if _places_taken(event) < event.capacity else RegistrationStatus.WAITING
    now = timezone.now()
    if registration is None:
        return EventRegistration.objects.create(
            event=event, customer=customer, status=status, source=source, registered_at=now, updated_by=user
        )
    registration.status = status
    registration.source = source
    registration.registered_at = now
    registration.cancelled_at = None
    registration.updated_by = user
    registration.save(update_fields=["status", "source", "registered_at", "cancelled_at", "updated_by", "updated_at"])
    return registration


@transaction.atomic
def event_cancel(*, user, registration):
    """Cancel a registration (or an invitation, or a place on the waiting list). A freed place
    goes to the first on the waiting list: exactly one moves up. Someone who came cannot cancel."""
    from clubs.choices import RegistrationStatus
    from clubs.models import EventRegistration

    event = _event_locked(registration.event)
    registration = EventRegistration.objects.select_for_update().get(pk=registration.pk)
    _event_customer(user=user, event=event, customer=registration.customer)
    if registration.status == RegistrationStatus.ATTENDED:
        raise ApplicationError(_("This customer has checked in already: the registration cannot be cancelled."))
    if registration.status == RegistrationStatus.CANCELLED:
        return registration
    if timezone.now() >= event.ends_at:
        raise ApplicationError(_("The event is over: its registrations no longer change."))
    freed = registration.status == RegistrationStatus.REGISTERED
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = timezone.now()
    registration.updated_by = user
    registration.save(update_fields=["status", "cancelled_at", "updated_by", "updated_at"])
    if freed:
        _promote_waiting(event=event, user=user, places=min(1, event.capacity - _places_taken(event)))
    return registration


@transaction.atomic
def event_check_in(*, user, event, customer):
    """Check the customer in at the door, once: someone registered, waiting, invited or a walk-in
    (who joins the list as attended). A member earns the event's points once (ledger reference
    ``event:<id>``). Refused outside the event's days and for a second check-in."""
    from clubs.choices import RegistrationSource, RegistrationStatus
    from clubs.models import EventRegistration

    event = _event_locked(event)
    customer = _event_customer(user=user, event=event, customer=customer)
    now = timezone.now()
    today = timezone.localdate(now)
    if today < timezone.localdate(event.starts_at):
        raise ApplicationError(
            _("The event is on %(day)s: the door opens that day.")
            % {"day": f"{timezone.localtime(event.starts_at):%Y-%m-%d}"}
        )
    if today > timezone.localdate(event.ends_at):
        raise ApplicationError(_("The event is over: nobody can check in any more."))
    registration = EventRegistration.objects.select_for_update().filter(event=event, customer=customer).first()
    if registration is not None and registration.checked_in_at is not None:
        raise ApplicationError(
            _("%(name)s checked in already at %(time)s.")
            % {"name": customer.name, "time": f"{timezone.localtime(registration.checked_in_at):%H:%M}"}
        )
    if registration is None:
        registration = EventRegistration(event=event, customer=customer, source=RegistrationSource.DOOR)
    registration.status = RegistrationStatus.ATTENDED
    registration.checked_in_at = now
    registration.cancelled_at = None
    registration.updated_by = user
    membership = Membership.objects.filter(customer=customer).first()
    if membership is not None and event.points_for_attending > 0:
        registration.points_entry = points_credit(
            membership=membership,
            kind=EntryKind.ATTENDANCE,
            points=event.points_for_attending,
            on=today,
            reference=f"event:{event.pk}",
            note=event.title,
            user=user,
        )
    registration.save()
    return registration
