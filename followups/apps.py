from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from crm.landing import LandingAction

_AGENT = ["view_followuptask", "work_call_queue", "view_callattempt", "add_callattempt", "view_followuprule"]
# The desks work the calls assigned to them (My tasks: the day-after-delivery call, maintenance_due…).
_DESK = ["work_own_tasks"]
_MANAGER = [
    *_AGENT,
    *_DESK,
    "change_followuprule",
    "view_followup_reports",
    "export_sms_list",
    "view_smsmessage",
    "view_inboundsms",
    "view_generationrun",
    # SMS campaigns (营销短信): managers create, test and approve (another manager's: four eyes).
    "view_campaign",
    "add_campaign",
    "change_campaign",
    "approve_campaign",
]


class FollowupsConfig(AppConfig):
    name = "followups"
    verbose_name = _("Follow-ups")
    # GET requests to these pages read from the read replica when one is configured (crm/replicas.py).
    replica_read_views = ["followups:reports", "followups:campaign_report"]
    role_permissions = {
        "call_agent": _AGENT,
        "service_advisor": _DESK,
        "sales_consultant": _DESK,
        "manager": _MANAGER,
        "admin": [*_MANAGER, "add_followuprule"],
    }
    navigation = [
        ("followups:queue", _("Call queue"), ["call_agent", "manager"]),
        # Managers reach the assigned calls from the follow-up reports (per person).
        ("followups:mine", _("My tasks"), ["service_advisor", "sales_consultant"]),
        ("followups:reports", _("Follow-up reports"), ["manager", "admin"]),
        ("followups:preview", _("Tomorrow's queue preview"), ["manager"], "more"),
        ("followups:rules", _("Follow-up rules"), ["manager", "admin"], "more"),
        ("followups:sms", _("SMS"), ["manager", "admin"], "more"),
        ("followups:campaign_list", _("SMS campaigns"), ["manager", "admin"]),
    ]
    # The club's event report asks what became of its invitations (customers/message_outcomes.py).
    message_outcome_providers = ["followups.selectors.message_outcomes"]
    # The call agents' landing page opens on the queue (crm/landing.py).
    landing_actions = [
        LandingAction(
            "followups:queue",
            _("Open the call queue"),
            roles=("call_agent",),
            page_name="call-queue",
            accesskey="q",
            position=10,
        ),
        LandingAction(
            "followups:mine",
            _("My tasks"),
            roles=("service_advisor", "sales_consultant"),
            page_name="my-tasks",
            accesskey="t",
            position=30,
        ),
    ]
    # The count of the user's own calls of the day on the landing page.
    landing_figures = ["followups.landing.landing_figures"]
    customer_card_panels = ["followups.card.due_followups_panel"]
    customer_timeline_sources = ["followups.card.calls_and_sms"]
    customer_personal_data_providers = ["followups.privacy.personal_data"]
    customer_erasure_handlers = ["followups.privacy.erase"]
    export_request_downloads = {"followups.smslist": "followups:export_request_download"}

    def ready(self) -> None:
        from customers.appointment_events import appointment_listener_register
        from customers.sms_replies import reply_handler_register
        from followups.appointments import appointment_messages_listener, appointment_reply_handler
        from followups.contacts import register_followups_contact_sources
        from followups.generation import register_followups_rule_builders
        from followups.replies import register_followups_reply_handlers

        register_followups_rule_builders()
        register_followups_reply_handlers()
        # Calls reached and SMS delivered, for the retention dashboard's "won back by".
        register_followups_contact_sources()
        # The booking's confirmation SMS, and its Y / N replies (docs/appointments.md, "Messages").
        appointment_listener_register("followups.appointment_messages", appointment_messages_listener)
        reply_handler_register("followups.appointment_reply", appointment_reply_handler, order=55)
