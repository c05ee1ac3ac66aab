from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

_MANAGE = [
    "view_complaint",
    "add_complaint",
    "change_complaint",
    "close_complaint",
    "view_complaint_dashboard",
    "export_complaints",
    "view_complainttype",
    "view_storecomplaintsettings",
    "change_storecomplaintsettings",
    "view_complaintattachment",
    "add_complaintattachment",
]

_DESK = ["view_open_complaints", "add_complaint", "view_complainttype", "add_complaintattachment"]


class ComplaintsConfig(AppConfig):
    name = "complaints"
    verbose_name = _("Complaints")
    # Agents log complaints and follow those of their stores; advisors see the open ones of their
    # store (on the card and in the list); managers work, close and watch the dashboard.
    # GET requests to these pages read from the read replica when one is configured (crm/replicas.py).
    replica_read_views = ["complaints:dashboard"]
    role_permissions = {
        "call_agent": [
            "view_complaint",
            "add_complaint",
            "view_complainttype",
            "view_complaintattachment",
            "add_complaintattachment",
        ],
        # Advisors and sales consultants log complaints at their desk (the card's "Log a complaint")
        # and follow the ones they logged, besides the store's open ones.
        "service_advisor": [*_DESK],
        "sales_consultant": [*_DESK],
        "manager": [*_MANAGE],
        "admin": [
            *_MANAGE,
            # Implied by view_complaint, but held so that an administrator may give the advisors'
            # role (nobody grants what they do not hold: crm.admin.UserAdmin).
            "view_open_complaints",
            "add_complainttype",
            "change_complainttype",
            "delete_complainttype",
            "add_storecomplaintsettings",
            "view_escalation",
        ],
    }
    navigation = [
        ("complaints:list", _("Complaints"), ["service_advisor", "sales_consultant", "call_agent", "manager", "admin"]),
        ("complaints:create", _("Log a complaint"), ["service_advisor", "sales_consultant"]),
        ("complaints:dashboard", _("Complaint dashboard"), ["manager", "admin"]),
    ]
    customer_card_panels = ["complaints.card.open_complaints_panel"]
    customer_timeline_sources = ["complaints.card.complaint_timeline_events"]
    customer_alerts = ["complaints.card.open_complaint_alerts"]
    customer_list_filters = ["complaints.list_filters.open_complaint_filter"]
    private_file_readers = ["complaints.files.attachment_file_for_user"]
    customer_personal_data_providers = ["complaints.privacy.personal_data"]
    customer_erasure_handlers = ["complaints.privacy.erase"]
    export_request_downloads = {"complaints.complaint": "complaints:export_request_download"}

    def ready(self) -> None:
        from complaints.services import open_for_dissatisfied
        from customers.satisfaction import satisfaction_listener_register

        # The closed loop: a dissatisfied result from any desk opens a complaint (or joins the open one).
        satisfaction_listener_register("complaints.open_for_dissatisfied", open_for_dissatisfied)
