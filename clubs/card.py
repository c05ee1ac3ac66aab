"""The customer card's referrals panel: the referrals the customer made (stage, the car a won one
sold) and, for staff who record referrals, the small form to add one; and the points ledger's lines
on the card's timeline."""

from django.urls import reverse

from clubs.referral_forms import ReferralForm
from clubs.selectors import customer_points_entries, customer_referrals
from crm.masking import mask_phone
from customers.card import CardPanel, TimelineEvent
from customers.membership import points_text


def referrals_panel(*, user, customer) -> CardPanel | None:
    if not user.has_perm("clubs.view_referral"):
        return None
    form = None
    if user.has_perm("clubs.add_referral"):
        form = ReferralForm(user=user, store_ids=[customer.store_id], auto_id="id_referral_%s")
    context = {
        # The prospects' numbers are worked in the prospects' list: on the card they stay masked.
        "referrals": [
            (referral, mask_phone(referral.prospect_mobile))
            for referral in customer_referrals(user=user, customer=customer)
        ],
        "referral_form": form,
        "referral_action": f"{reverse('clubs:referral_create')}?customer={customer.pk}",
    }
    return CardPanel(template="clubs/referrals/card_panel.html", context=context, order=60, position="side")


def points_timeline(*, user, customer) -> list[TimelineEvent]:
    """The customer's points earned, redeemed and expired (one query), for staff who see members."""
    if not user.has_perm("clubs.view_membership"):
        return []
    return [
        TimelineEvent.on_day(
            entry.on,
            kind="points",
            title=f"{entry.get_kind_display()} · {points_text(entry.points, signed=True)}",
            detail=" · ".join(part for part in [entry.reference, entry.note] if part),
            actor=(entry.created_by.get_full_name() or entry.created_by.username) if entry.created_by else "",
        )
        for entry in customer_points_entries(customer=customer)
    ]
