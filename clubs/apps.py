from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClubsConfig(AppConfig):
    name = "clubs"
    verbose_name = _("Owners' club")
    # The managers reconcile the DMS with the club (the DMS-differences report needs adjust_points).
    role_permissions = {
        "manager": ["adjust_points"],
    }
    navigation = [
        ("clubs:differences", _("DMS differences"), ["manager"]),
    ]
    # The club wherever staff meet a member, the segments' tier and points_expiry (customers/membership.py).
    customer_membership_badges = ["clubs.badges.membership_badges"]
    customer_member_tier_sql = ["clubs.selectors.customer_member_tier_sql"]
    customer_points_on_sql = ["clubs.selectors.customer_points_on_sql"]
