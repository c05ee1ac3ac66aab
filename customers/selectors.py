"""Reads of customers, vehicles and repair orders, always scoped to what the user may see."""

from django.db.models import Q, QuerySet
from django.http import Http404

from crm.scoping import scope_to_user_stores
from customers.choices import Confidentiality
from customers.models import Customer, RepairOrder, Vehicle


def customer_queryset_for_user(user) -> QuerySet[Customer]:
    queryset = scope_to_user_stores(Customer.objects.all(), user)
    if user.is_superuser or not user.is_authenticated:
        return queryset
    # A subquery keeps the authorised-staff join from duplicating rows.
    hidden = Customer.objects.filter(confidentiality=Confidentiality.TOP_SECRET).exclude(authorized_staff=user)
    return queryset.exclude(pk__in=hidden.values("pk"))


def customer_list_for_user(*, user, search: str = "") -> QuerySet[Customer]:
    queryset = customer_queryset_for_user(user).select_related("store")
    search = search.strip()
    if search:
        queryset = queryset.filter(
            Q(customer_no__iexact=search) | Q(name__startswith=search) | Q(vehicles__plate_no__iexact=search)
        ).distinct()
    return queryset.order_by("customer_no")


def customer_get_for_user(*, user, pk: int) -> Customer:
    """The customer, or 404 when it does not exist or is outside what the user may see."""
    try:
        return customer_queryset_for_user(user).select_related("store").get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def vehicle_queryset_for_user(user) -> QuerySet[Vehicle]:
    queryset = scope_to_user_stores(Vehicle.objects.all(), user)
    if user.is_superuser:
        return queryset
    return queryset.filter(customer__in=customer_queryset_for_user(user))


def repair_order_queryset_for_user(user) -> QuerySet[RepairOrder]:
    queryset = scope_to_user_stores(RepairOrder.objects.all(), user)
    if user.is_superuser:
        return queryset
    return queryset.filter(vehicle__customer__in=customer_queryset_for_user(user))


def customer_vehicles(*, customer: Customer) -> QuerySet[Vehicle]:
    return customer.vehicles.order_by("-delivery_date", "vin")


def customer_repair_orders(*, customer: Customer) -> QuerySet[RepairOrder]:
    return (
        RepairOrder.objects.filter(vehicle__customer=customer)
        .select_related("vehicle")
        .order_by("-settle_date", "-ro_no")
    )
