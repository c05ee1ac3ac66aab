from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

_READ = ["view_customer", "view_vehicle", "view_repairorder"]


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")
    role_permissions = {
        "service_advisor": [*_READ, "change_customer", "change_vehicle", "search_by_phone"],
        "sales_consultant": [*_READ, "change_customer", "add_vehicle", "change_vehicle", "search_by_phone"],
        "call_agent": [*_READ],
        "manager": [
            *_READ,
            "change_customer",
            "change_vehicle",
            "view_unmasked_phone",
            "search_by_phone",
            "export_customers",
        ],
        "admin": [
            *_READ,
            "add_customer",
            "change_customer",
            "add_vehicle",
            "change_vehicle",
            "add_repairorder",
            "change_repairorder",
            "view_unmasked_phone",
            "search_by_phone",
            "export_customers",
            "import_dms",
        ],
    }
    navigation = [
        ("customers:list", _("Customers"), ["service_advisor", "sales_consultant", "call_agent", "manager", "admin"]),
    ]
