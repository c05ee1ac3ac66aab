from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.masking import can_see_full_phone
from customers.selectors import (
    customer_get_for_user,
    customer_list_for_user,
    customer_repair_orders,
    customer_vehicles,
)

PAGE_SIZE = 25


def _log_unmasked_view(request: HttpRequest, customers) -> None:
    """Every view of unmasked numbers is logged (who, when, which customers)."""
    ids = [customer.pk for customer in customers if customer.mobile or customer.landline]
    if ids and can_see_full_phone(request.user):
        audit_log_record(
            actor=request.user,
            action=AuditAction.VIEW_UNMASKED_PHONE,
            object_type="customers.customer",
            object_ids=ids,
            detail={"path": request.path},
        )


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def customer_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(customer_list_for_user(user=request.user, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    _log_unmasked_view(request, page.object_list)
    return render(request, "customers/customer_list.html", {"page": page, "search": search})


@login_required
@permission_required("customers.view_customer", raise_exception=True)
@require_GET
def customer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    customer = customer_get_for_user(user=request.user, pk=pk)
    _log_unmasked_view(request, [customer])
    context = {
        "customer": customer,
        "vehicles": customer_vehicles(customer=customer),
        "repair_orders": customer_repair_orders(customer=customer)[:50],
    }
    return render(request, "customers/customer_detail.html", context)
