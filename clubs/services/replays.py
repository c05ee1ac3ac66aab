"""Retried requests (the API): tell a replay of a reference from a first call."""

from django.db import transaction

from clubs.choices import EntryKind, WalletEntryKind
from clubs.models import (
    Membership,
    PointsEntry,
    WalletEntry,
)
from clubs.services.ledger import _check_points, _existing, _locked, points_redeem
from clubs.services.wallet import _check_amount, _wallet_existing, wallet_spend, wallet_top_up


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
        if existing := _existing(member, EntryKind.REDEMPTION, reference, -points):
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
        if existing := _wallet_existing(member, WalletEntryKind.TOPUP, reference, amount):
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
        if existing := _wallet_existing(member, WalletEntryKind.SPEND, reference, amount):
            return existing, False
    return wallet_spend(membership=membership, amount=amount, reference=reference, user=user, note=note), True
