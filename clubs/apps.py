from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Referrals (保客转介绍): every desk records them (on the referrer's card); sales consultants and
# managers work the prospects (change_referral: the stage); managers and admins read the report.
_REFERRAL_RECORD = ["add_referral", "view_referral"]
_REFERRAL_ROLES = ["service_advisor", "sales_consultant", "call_agent", "manager"]


class ClubsConfig(AppConfig):
    name = "clubs"
    verbose_name = _("Owners' club")
    role_permissions = {
        # --- referrals ---
        "service_advisor": [*_REFERRAL_RECORD],
        "sales_consultant": [*_REFERRAL_RECORD, "change_referral"],
        "call_agent": [*_REFERRAL_RECORD],
        "manager": [*_REFERRAL_RECORD, "change_referral", "view_referral_report"],
        "admin": ["view_referral_report"],
        # --- end referrals ---
    }
    navigation = [
        ("clubs:referral_list", _("Referrals"), _REFERRAL_ROLES),
        ("clubs:referral_report", _("Referral sales"), ["manager", "admin"]),
    ]
    customer_card_panels = ["clubs.card.referrals_panel"]
