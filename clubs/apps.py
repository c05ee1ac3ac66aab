from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClubsConfig(AppConfig):
    name = "clubs"
    verbose_name = _("Owners' club")
    # Everyone who meets members sees them; advisors and managers work the desk (redemptions,
    # stored value); managers adjust points and tiers. Referrals are recorded by whoever meets the
    # referrer. (The screens' and the referrals' helpers add their own lines to the same lists.)
    role_permissions = {
        "service_advisor": [
            "view_membership",
            "redeem_points",
            "top_up_wallet",
            "view_referral",
            "add_referral",
        ],
        "sales_consultant": ["view_membership", "view_referral", "add_referral"],
        "call_agent": ["view_membership", "view_referral", "add_referral"],
        "manager": [
            "view_membership",
            "redeem_points",
            "top_up_wallet",
            "adjust_points",
            "record_lifetime_fee",
            "view_referral",
            "add_referral",
        ],
        # An administrator holds what every role holds, so that they may give the roles (nobody
        # grants what they do not hold: crm.admin.UserAdmin).
        "admin": [
            "view_membership",
            "redeem_points",
            "top_up_wallet",
            "adjust_points",
            "record_lifetime_fee",
            "view_referral",
            "add_referral",
        ],
    }
