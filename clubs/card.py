"""The customer card's referrals panel: the referrals the customer made (stage, the car a won one
sold) and, for staff who record referrals, the small form to add one."""

from django.urls import reverse

from clubs.referral_forms import ReferralForm
from clubs.selectors import customer_referrals
from crm.masking import mask_phone
from customers.card import CardPanel


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
