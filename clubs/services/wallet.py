"""Stored value (钻石卡储值): top-ups and spends, unique by their reference, never below zero, audited."""

from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from clubs.choices import Tier, TierChangeKind, WalletEntryKind
from clubs.models import (
    Membership,
    StoreClub,
    WalletEntry,
)
from clubs.services.ledger import ReferenceReused, _audit, _locked, _tier_change
from crm.choices import AuditAction
from crm.exceptions import ApplicationError


def _wallet_existing(member: Membership, kind: str, reference: str, amount: Decimal) -> WalletEntry | None:
    entry = WalletEntry.objects.filter(membership=member, kind=kind, reference=reference).first()
    if entry and entry.amount != amount:
        raise ReferenceReused(
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
