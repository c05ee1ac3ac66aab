from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# --- the members' screens and the desk (clubs/views.py) --------------------------------------
# Everyone who meets members sees them; the desk (advisors, managers) redeems points and takes
# stored value; only managers change points and tiers by hand or record a lifetime fee; managers
# and administrators run the club's settings (rules, tier rules, starting a store's club).
_SEE_MEMBERS = ["view_membership"]
_DESK = ["redeem_points", "top_up_wallet"]
_MANAGER_ONLY = ["adjust_points", "record_lifetime_fee"]
_CLUB_SETTINGS = ["view_storeclub", "change_storeclub", "view_tierrule", "change_tierrule", "start_club"]

# Referrals (保客转介绍): every desk records them (on the referrer's card); sales consultants and
# managers work the prospects (change_referral: the stage); managers and admins read the report.
_REFERRAL_RECORD = ["add_referral", "view_referral"]
_REFERRAL_ROLES = ["service_advisor", "sales_consultant", "call_agent", "manager"]

# --- club events (clubs/event_views.py) ------------------------------------------------------
# Everyone who talks to customers sees the events and invites or registers them (by phone, at the
# desk); advisors and managers check people in at the door; managers plan and edit events and read
# their reports. Administrators hold what managers hold.
_EVENT_REGISTER = ["view_clubevent", "view_eventregistration", "add_eventregistration"]
_EVENT_DOOR = ["check_in_event"]
_EVENT_MANAGE = ["add_clubevent", "change_clubevent", "view_event_report"]
_EVENT_ROLES = ["service_advisor", "sales_consultant", "call_agent", "manager", "admin"]


class ClubsConfig(AppConfig):
    name = "clubs"
    verbose_name = _("Owners' club")
    # GET requests to these pages read from the read replica when one is configured (crm/replicas.py).
    replica_read_views = ["clubs:referral_report", "clubs:event_report", "clubs:differences"]
    role_permissions = {
        "service_advisor": [*_SEE_MEMBERS, *_DESK, *_REFERRAL_RECORD, *_EVENT_REGISTER, *_EVENT_DOOR],
        "sales_consultant": [*_SEE_MEMBERS, *_REFERRAL_RECORD, "change_referral", *_EVENT_REGISTER],
        "call_agent": [*_SEE_MEMBERS, *_REFERRAL_RECORD, *_EVENT_REGISTER],
        "manager": [
            *_SEE_MEMBERS, *_DESK, *_MANAGER_ONLY, *_CLUB_SETTINGS, *_REFERRAL_RECORD, "change_referral",
            "view_referral_report", *_EVENT_REGISTER, *_EVENT_DOOR, *_EVENT_MANAGE,
        ],
        # Administrators hold the desk's and managers' permissions too: nobody grants a role whose
        # permissions they do not hold (crm.admin.UserAdmin), and they give these roles.
        "admin": [
            *_SEE_MEMBERS, *_DESK, *_MANAGER_ONLY, *_CLUB_SETTINGS, *_REFERRAL_RECORD, "change_referral",
            "view_referral_report", *_EVENT_REGISTER, *_EVENT_DOOR, *_EVENT_MANAGE,
        ],
    }  # fmt: skip
    navigation = [
        ("clubs:members", _("Members"), ["service_advisor", "sales_consultant", "call_agent", "manager", "admin"]),
        ("clubs:referral_list", _("Referrals"), _REFERRAL_ROLES),
        ("clubs:referral_report", _("Referral sales"), ["manager", "admin"]),
        ("clubs:event_list", _("Events"), _EVENT_ROLES),
        ("clubs:settings", _("Club settings"), ["manager", "admin"]),
        # The managers reconcile the DMS with the club (the DMS-differences report needs adjust_points).
        ("clubs:differences", _("DMS differences"), ["manager"]),
    ]
    customer_card_panels = ["clubs.card.referrals_panel"]
    customer_timeline_sources = ["clubs.card.points_timeline"]
    # The club wherever staff meet a member, the segments' tier and points_expiry (customers/membership.py).
    customer_membership_badges = ["clubs.badges.membership_badges"]
    customer_member_tier_sql = ["clubs.selectors.customer_member_tier_sql"]
    customer_points_on_sql = ["clubs.selectors.customer_points_on_sql"]
    # A customer's data on request and their erasure (customers/privacy.py).
    customer_personal_data_providers = ["clubs.privacy.personal_data"]
    customer_erasure_handlers = ["clubs.privacy.erase"]

    def ready(self) -> None:
        # The event invitations and the Y that answers them, through the registries customers keeps
        # for the domain apps (asked before follow-ups' own RSVP, which only records the intent).
        from clubs.contacts import events_attended
        from clubs.deliveries import join_at_delivery, referral_at_delivery
        from clubs.invitations import event_invitations, event_sign_up
        from customers.contacts import contact_source_register
        from customers.deliveries import delivery_listener_register
        from customers.rule_builders import rule_builder_register
        from customers.sms_replies import reply_handler_register

        rule_builder_register("event_notice", event_invitations)
        reply_handler_register("clubs.event_sign_up", event_sign_up, order=40)
        # A delivery at the sales desk: the membership card at once, and the referral the buyer named.
        delivery_listener_register("clubs.membership_at_delivery", join_at_delivery)
        delivery_listener_register("clubs.referral_at_delivery", referral_at_delivery)
        # An event attended is a contact for the retention dashboard's "won back by".
        contact_source_register("clubs.events_attended", events_attended)
