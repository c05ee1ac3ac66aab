"""The complaints' filter of the customer list (customers/list_filters.py): customers with an open
complaint, for staff who may see open complaints."""

from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _

from complaints.choices import Status
from complaints.models import Complaint
from customers.list_filters import CustomerListFilter


def has_open_complaint_condition() -> Q:
    """A ``Q`` on customers: one of their complaints is not closed (complaint_customer_status_idx)."""
    return Q(Exists(Complaint.objects.filter(customer_id=OuterRef("pk")).exclude(status=Status.CLOSED)))


def open_complaint_filter(*, user) -> CustomerListFilter | None:
    if not (user.has_perm("complaints.view_open_complaints") or user.has_perm("complaints.view_complaint")):
        return None
    return CustomerListFilter(
        name="open_complaint", label=_("Has an open complaint"), condition=has_open_complaint_condition(), order=10
    )
