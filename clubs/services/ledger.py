"""The points ledger and tiers at the desk and by managers: redemptions, manual credits and debits,
other credits (attendance), tier changes with a reason, the lifetime fee, a member joining at delivery.

Each write locks the member's row, so two desks working on one member take turns: a balance is
checked and spent in one step and never overdrawn. Each is idempotent by its reference: the same
reference sent again returns the entry it made the first time (and is refused if it asked for
something else). Every write is audited.
"""

import datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from clubs.choices import EntryKind, Tier, TierChangeKind
from clubs.models import (
    Membership,
    PointsAllocation,
    PointsEntry,
    StoreClub,
    TierChange,
)
from clubs.run import ALLOCATION, POINTS
from crm.audit import audit_log_record
from crm.calendar import add_months
from crm.choices import AuditAction
from crm.exceptions import ApplicationError

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


class ReferenceReused(ApplicationError):
    """The reference was used before for another number of points or another amount (the API's 409)."""


def _existing(member: Membership, kind: str, reference: str, points: int) -> PointsEntry | None:
    if not reference:
        return None
    entry = PointsEntry.objects.filter(membership=member, kind=kind, reference=reference).first()
    if entry and entry.points != points:
        raise ReferenceReused(
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
