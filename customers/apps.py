from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from crm.landing import LandingAction
from crm.masking import PhoneNumbers
from crm.navigation import GlobalSearch

_PROSPECTS = ["view_prospect", "add_prospect", "change_prospect"]
_PROSPECT_REPORT = ["view_prospect_report"]
_READ = ["view_customer", "view_vehicle", "view_repairorder", "view_customernote", "view_segment"]
_SEGMENTS = ["add_segment", "change_segment"]
_CONSENT = ["view_customerconsent", "record_consent"]
_PERSONAL_DATA = ["export_personal_data", "erase_customer"]
_INTERVIEW = ["add_deliveryinterview"]
_INTERVIEW_REVIEW = ["view_deliveryinterview", "view_interviewfactor", "add_interviewfactor", "change_interviewfactor"]
# The desks make cards and vehicles by hand (provisional until the DMS import adopts them).
_DESK_CARDS = ["add_customer", "add_vehicle"]
_DELIVERIES = ["add_delivery", "view_delivery"]
_BOOK = ["view_appointment", "add_appointment", "change_appointment"]
_CHECK_IN = ["check_in_appointment"]
_APPOINTMENT_SETTINGS = ["view_appointmentsettings", "change_appointmentsettings", "view_appointment_report"]
_IMPORT = [
    "import_dms",
    "view_importbatch",
    "add_importbatch",
    "view_importissue",
    "view_headermappingprofile",
    "add_headermappingprofile",
    "change_headermappingprofile",
]


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")
    # GET requests to these pages read from the read replica when one is configured (crm/replicas.py).
    replica_read_views = [
        "customers:retention",
        "customers:retention_customers",
        "customers:satisfaction",
        "customers:prospect_report",
    ]
    role_permissions = {
        "service_advisor": [
            *_READ,
            *_CONSENT,
            *_DESK_CARDS,
            "change_customer",
            "change_vehicle",
            "search_by_phone",
            "add_customernote",
            "add_prospect",
            *_BOOK,
            *_CHECK_IN,
        ],
        "sales_consultant": [
            *_READ,
            *_CONSENT,
            *_DESK_CARDS,
            *_DELIVERIES,
            "change_customer",
            "change_vehicle",
            "search_by_phone",
            "add_customernote",
            *_INTERVIEW,
            *_PROSPECTS,
            *_BOOK,
        ],
        "call_agent": [*_READ, *_CONSENT, "add_prospect", *_BOOK],
        "manager": [
            *_READ,
            *_SEGMENTS,
            *_CONSENT,
            *_PERSONAL_DATA,
            *_INTERVIEW,
            *_INTERVIEW_REVIEW,
            *_DESK_CARDS,
            *_DELIVERIES,
            "change_customer",
            "change_customer_flags",
            "change_vehicle",
            "view_unmasked_phone",
            "search_by_phone",
            "export_customers",
            "add_customernote",
            "view_retention",
            *_PROSPECTS,
            *_PROSPECT_REPORT,
            *_BOOK,
            *_CHECK_IN,
            *_APPOINTMENT_SETTINGS,
        ],
        "admin": [
            *_READ,
            *_SEGMENTS,
            *_CONSENT,
            *_PERSONAL_DATA,
            *_IMPORT,
            *_INTERVIEW,
            *_INTERVIEW_REVIEW,
            *_DELIVERIES,
            "add_customer",
            "change_customer",
            "change_customer_flags",
            "add_vehicle",
            "change_vehicle",
            "add_repairorder",
            "change_repairorder",
            "view_unmasked_phone",
            "search_by_phone",
            "export_customers",
            "add_customernote",
            "delete_segment",
            "view_retention",
            *_PROSPECTS,
            *_PROSPECT_REPORT,
            *_BOOK,
            *_CHECK_IN,
            *_APPOINTMENT_SETTINGS,
        ],
    }
    navigation = [
        ("customers:list", _("Customers"), ["service_advisor", "sales_consultant", "call_agent", "manager", "admin"]),
        ("customers:segment_list", _("Segments"), ["service_advisor", "sales_consultant", "manager", "admin"]),
        ("customers:retention", _("Retention"), ["manager", "admin"]),
        ("customers:delivery-interview-list", _("Delivery interviews"), ["manager", "admin"], "more"),
        ("customers:satisfaction", _("Satisfaction over time"), ["manager", "admin"], "more"),
        # The sales consultant's own page; the managers' bar is full, theirs is under "More".
        ("customers:prospect_list", _("Prospects"), ["sales_consultant"]),
        ("customers:prospect_list", _("Prospects"), ["manager", "admin"], "more"),
        ("customers:prospect_report", _("Prospects won and lost"), ["manager", "admin"], "more"),
        # The advisors' desk page; managers look at it now and then.
        ("customers:arrivals", _("Arrivals"), ["service_advisor"]),
        ("customers:arrivals", _("Arrivals"), ["manager", "admin"], "more"),
        ("customers:appointment_report", _("Bookings against capacity"), ["manager", "admin"], "more"),
    ]
    # Customers' phone numbers are masked but for staff holding this permission; the audit row of a
    # page that showed them whole names the customers (crm/masking.py).
    phone_numbers = PhoneNumbers(unmask_permission="customers.view_unmasked_phone", object_type="customers.customer")
    # The top bar's search box finds customers (crm/navigation.py).
    global_search = GlobalSearch(
        url_name="customers:list",
        label=_("Search customers"),
        placeholder=_("Name, pinyin, plate, VIN, customer no."),
        phone_lookup_url_name="customers:phone_lookup",
        phone_lookup_permission="customers.search_by_phone",
    )
    # The landing pages (crm/landing.py): the key figures, and the desks' customer search.
    landing_figures = ["customers.landing.landing_figures"]
    # A sales consultant's prospects needing action, on their page.
    landing_panels = ["customers.landing.landing_panels"]
    landing_actions = [
        LandingAction(
            "customers:list", _("Find a customer"), roles=("service_advisor", "sales_consultant"), position=20
        ),
        LandingAction("customers:prospect_list", _("My prospects"), roles=("sales_consultant",), position=40),
        LandingAction(
            "customers:prospect_create",
            _("Record a prospect"),
            roles=("service_advisor", "call_agent", "sales_consultant"),
            position=50,
        ),
        LandingAction(
            "customers:delivery_record",
            _("Record a delivery"),
            roles=("sales_consultant",),
            page_name="record-delivery",
            position=15,
        ),
        LandingAction(
            "customers:create", _("New customer"), roles=("service_advisor",), page_name="new-customer", position=25
        ),
    ]
    # The download view of each kind of export needing approval (crm.views.export_requests).
    export_request_downloads = {"customers.segment": "customers:export_request_download"}
    customer_timeline_sources = [
        "customers.timeline.visits",
        "customers.timeline.deliveries",
        "customers.timeline.notes",
        "customers.timeline.card_changes",
        "customers.interview_views.interview_timeline",
    ]
    private_file_readers = ["customers.files.import_file_for_user"]
    customer_card_panels = [
        "customers.privacy.consent_panel",
        "customers.appointment_views.appointments_panel",
        "customers.interview_views.interview_panel",
    ]
    customer_erasure_handlers = ["customers.privacy.erase_import_artefacts", "customers.privacy.erase_desk_records"]
    customer_alerts = ["customers.satisfaction.dissatisfied_alert"]

    def ready(self) -> None:
        from customers.contacts import contact_source_register
        from customers.deliveries import delivery_listener_register
        from customers.import_listeners import import_listener_register
        from customers.selectors.appointments import appointments_booked_contacts
        from customers.services.appointments import appointments_kept_after_import
        from customers.services.prospects import win_prospects_after_delivery, win_prospects_after_import
        from customers.volumes import refresh_volumes_after_import

        # A vehicles import's deliveries, and each delivery at the sales desk, win the prospects they
        # match (customers/services/prospects.py).
        import_listener_register("customers.prospects_won", win_prospects_after_import)
        delivery_listener_register("customers.prospects_won", win_prospects_after_delivery)
        # After repair orders arrive, the bookings they kept (a repair order opened within a day).
        import_listener_register("customers.appointments_kept", appointments_kept_after_import)
        # The stores' volumes per day (the complaint dashboard's denominators) of the days an import
        # of vehicles or repair orders touched (customers/volumes.py).
        import_listener_register("customers.store_day_volumes", refresh_volumes_after_import)
        # "Won back by" (customers/contacts.py): follow-ups register calls reached and SMS delivered,
        # the club events attended; here, the visits booked with the customer.
        contact_source_register("customers.appointments_booked", appointments_booked_contacts)
