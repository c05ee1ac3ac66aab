from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = _("Dealer group")
    # Permissions each role gets from this app (see crm.roles): role code -> permission codenames.
    role_permissions = {
        "manager": [
            "view_store",
            "change_store",
            "view_auditlog",
            "view_calendarday",
            "change_calendarday",
            # Unlock a colleague locked out by failed log-ins (django-axes: delete the attempt).
            "axes.view_accessattempt",
            "axes.delete_accessattempt",
        ],
        "admin": [
            "view_store",
            "add_store",
            "change_store",
            "view_user",
            "add_user",
            "change_user",
            "view_auditlog",
            "view_calendarday",
            "add_calendarday",
            "change_calendarday",
            "delete_calendarday",
            "axes.view_accessattempt",
            "axes.delete_accessattempt",
        ],
        "service_advisor": ["view_store"],
        "sales_consultant": ["view_store"],
        "call_agent": ["view_store"],
    }

    navigation = [
        ("home", _("Dashboard"), ["service_advisor", "sales_consultant", "call_agent", "manager", "admin"]),
        ("crm:export_requests", _("Export approvals"), ["manager", "admin"], "more"),
        ("crm:audit_log", _("Audit log"), ["manager", "admin"], "more"),
    ]

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from crm.middleware import stamp_activity_at_login
        from crm.roles import sync_role_groups_after_migrate

        user_logged_in.connect(stamp_activity_at_login, dispatch_uid="crm.stamp_activity_at_login")
        # Role groups are reference data: created/updated after every migrate, not business logic.
        post_migrate.connect(sync_role_groups_after_migrate, dispatch_uid="crm.sync_role_groups")
