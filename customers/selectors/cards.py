"""Reads for the cards staff make by hand: likely duplicates, and the staff a desk may name."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from crm.choices import Role
from crm.models import User
from customers.models import Customer, Vehicle


def customer_likely_duplicates(*, user, store, mobile: str = "", name: str = "", birthday=None) -> list[Customer]:
    """The cards of ``store`` the user may see that are likely the same person: the same mobile, or
    the same name and birthday. At most 10, newest number first."""
    from customers.selectors import customer_queryset_for_user

    condition = Q()
    if mobile:
        condition |= Q(mobile=mobile)
    if name and birthday:
        condition |= Q(name=name.strip(), birthday=birthday)
    if not condition:
        return []
    queryset = customer_queryset_for_user(user).filter(condition, store_id=store.pk).select_related("store")
    return list(queryset.order_by("-id")[:10])


def vehicle_with_vin(*, vin: str) -> Vehicle | None:
    """The vehicle of this VIN anywhere in the CRM (every store): a VIN is one car."""
    return Vehicle.objects.filter(vin=vin).select_related("customer").first()


def store_sales_staff(*, store) -> QuerySet[User]:
    """The active sales consultants and managers of the store: who may be named as a delivery's
    consultant."""
    return (
        User.objects.filter(is_active=True, stores=store, groups__name__in=[Role.SALES_CONSULTANT, Role.MANAGER])
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def store_staff(*, store) -> QuerySet[User]:
    """Every active member of staff of the store (a staff referrer)."""
    return User.objects.filter(is_active=True, stores=store).distinct().order_by("last_name", "first_name", "username")


def staff_display_name(user) -> str:
    """How a member of staff is written on a vehicle (``sales_consultant``): the full name, else the
    username."""
    return (user.get_full_name() or user.username)[:50]
