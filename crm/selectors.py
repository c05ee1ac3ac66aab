"""Reads of the shared core: the figures each role sees on landing."""

import datetime

from django.apps import apps
from django.db.models import Count, Q
from django.utils import timezone

from crm.scoping import visible_store_ids


def month_start(today: datetime.date) -> datetime.date:
    return today.replace(day=1)


def landing_figures(*, user, today: datetime.date | None = None) -> dict[str, int]:
    """Customers, vehicles, deliveries and repair orders this month, over the user's stores."""
    today = today or timezone.localdate()
    first_of_month = month_start(today)
    store_ids = visible_store_ids(user)
    store_filter = Q() if store_ids is None else Q(store_id__in=store_ids)
    Customer = apps.get_model("customers", "Customer")
    Vehicle = apps.get_model("customers", "Vehicle")
    RepairOrder = apps.get_model("customers", "RepairOrder")
    vehicles = Vehicle.objects.filter(store_filter).aggregate(
        vehicles=Count("id"),
        deliveries_this_month=Count("id", filter=Q(delivery_date__gte=first_of_month, delivery_date__lte=today)),
    )
    repair_orders = RepairOrder.objects.filter(
        store_filter, settle_date__gte=first_of_month, settle_date__lte=today
    ).count()
    return {
        "customers": Customer.objects.filter(store_filter).count(),
        "vehicles": vehicles["vehicles"],
        "deliveries_this_month": vehicles["deliveries_this_month"],
        "repair_orders_this_month": repair_orders,
    }


def working_calendar(*, first_day: datetime.date | None = None, last_day: datetime.date | None = None):
    """The working-day calendar with the admin-entered official days (crm.CalendarDay) on top of
    chinesecalendar and the computed fallback; ``first_day``/``last_day`` limit which entries load."""
    from crm.calendar import WorkingCalendar
    from crm.models import CalendarDay

    entries = CalendarDay.objects.all()
    if first_day is not None:
        entries = entries.filter(date__gte=first_day)
    if last_day is not None:
        entries = entries.filter(date__lte=last_day)
    return WorkingCalendar(overrides={entry.date: entry.is_working_day for entry in entries})
