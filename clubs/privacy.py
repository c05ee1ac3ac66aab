"""The owners' club's part of a customer's personal data (customers/privacy.py registries): the
membership, its ledgers and events, and the referrals in the customer's data export, and their
erasure.

A referral the customer made names someone else (the person they referred): that person's name and
mobile are theirs, not the referrer's, so the referrer's export leaves them out and the referrer's
erasure leaves the referral alone. A referral won into the customer (they were the person referred,
then bought) holds the customer's own name and mobile from before they bought."""

from clubs.models import EventRegistration, Membership, PointsEntry, Referral, TierChange, WalletEntry
from customers.privacy import ERASED_KEY_PREFIX, ERASED_NAME, ERASED_TEXT, queryset_rows

# The referred person's own data on a referral someone made.
REFERRED_PERSON_FIELDS = ("prospect_name", "prospect_mobile")


def personal_data(*, customer) -> dict[str, list[dict]]:
    members = Membership.objects.filter(customer=customer)
    referred = Referral.objects.filter(won_customer=customer)
    return {
        "club_membership": queryset_rows(members.order_by("id")),
        "club_tier_changes": queryset_rows(TierChange.objects.filter(membership__in=members).order_by("id")),
        "club_points": queryset_rows(PointsEntry.objects.filter(membership__in=members).order_by("id")),
        "club_stored_value": queryset_rows(WalletEntry.objects.filter(membership__in=members).order_by("id")),
        "club_event_registrations": queryset_rows(EventRegistration.objects.filter(customer=customer).order_by("id")),
        "referrals_made": queryset_rows(
            Referral.objects.filter(referrer=customer).order_by("id"), exclude=REFERRED_PERSON_FIELDS
        ),
        "referrals_as_prospect": queryset_rows(referred.order_by("id")),
        "referral_history": queryset_rows(Referral.history.filter(id__in=referred.values("pk")).order_by("history_id")),
    }


def erase(*, customer) -> dict[str, int]:
    """The membership's card number becomes ERASED-<customer id> (the card's own copy is cleared
    with the card); the texts typed on its ledgers (a tier change's reason, a points or stored-value
    line's note) are replaced; the referrals won into the customer lose the name, mobile and note on
    a loss, also in their change history. Tiers, points, amounts, balances, references (receipts,
    repair orders: the ledgers' keys against counting twice), dates and event registrations stay
    (the club's figures)."""
    members = list(Membership.objects.filter(customer=customer).values_list("pk", flat=True))
    memberships = Membership.objects.filter(pk__in=members).update(card_no=f"{ERASED_KEY_PREFIX}{customer.pk}")
    # A manual tier change, credit or debit must give a reason: replaced, not emptied.
    ledger = TierChange.objects.filter(membership_id__in=members).exclude(reason="").update(reason=ERASED_TEXT)
    ledger += PointsEntry.objects.filter(membership_id__in=members).exclude(note="").update(note=ERASED_TEXT)
    ledger += WalletEntry.objects.filter(membership_id__in=members).exclude(note="").update(note="")

    referral_ids = list(Referral.objects.filter(won_customer=customer).values_list("pk", flat=True))
    erased = {"prospect_name": ERASED_NAME.format(id=customer.pk), "prospect_mobile": "", "lost_reason": ""}
    referrals = Referral.objects.filter(pk__in=referral_ids).update(**erased)
    Referral.history.filter(id__in=referral_ids).update(**erased)
    return {"club_memberships": memberships, "club_ledger_notes": ledger, "referrals_as_prospect": referrals}
