"""The customers app's key figures on the landing pages (registered as ``landing_figures`` in
customers/apps.py; see crm/landing.py)."""

import datetime

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from crm.landing import LandingFigure
from customers.models import Customer, RepairOrder, Vehicle


def landing_figures(*, user, store_ids, today: datetime.date) -> list[LandingFigure]:
    """Customers, vehicles, deliveries and repair orders this month, over ``store_ids`` (None: all)."""
    first_of_month = today.replace(day=1)
    store_filter = Q() if store_ids is None else Q(store_id__in=store_ids)
    vehicles = Vehicle.objects.filter(store_filter).aggregate(
        vehicles=Count("id"),
        deliveries_this_month=Count("id", filter=Q(delivery_date__gte=first_of_month, delivery_date__lte=today)),
    )
    repair_orders = RepairOrder.objects.filter(
        store_filter, settle_date__gte=first_of_month, settle_date__lte=today
    ).count()
    return [
        LandingFigure("customers", _("Customers"), Customer.objects.filter(store_filter).count()),
        LandingFigure("vehicles", _("Vehicles"), vehicles["vehicles"]),
        LandingFigure(
            "deliveries_this_month", _("Deliveries this month"), vehicles["deliveries_this_month"], "deliveries"
        ),
        LandingFigure("repair_orders_this_month", _("Repair orders this month"), repair_orders, "repair-orders"),
    ]
