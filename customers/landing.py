"""The customers app's key figures and panels on the landing pages (registered as
``landing_figures`` and ``landing_panels`` in customers/apps.py; see crm/landing.py)."""

import datetime
from urllib.parse import urlencode

from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from crm.choices import Role
from crm.landing import LandingFigure, LandingPanel, LandingPanelRow
from customers.choices import AppointmentSource, AppointmentStatus, ProspectStatus
from customers.models import ACTIVE_APPOINTMENT_STATUSES, Appointment, Customer, Prospect, RepairOrder, Vehicle

# A sales consultant's prospects waiting for their next step, shown on their page (newest first).
PROSPECTS_NEEDING_ACTION = (ProspectStatus.NEW, ProspectStatus.CONTACTED, ProspectStatus.TEST_DRIVE_BOOKED)
LANDING_PROSPECTS = 5


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
    figures = [
        LandingFigure("customers", _("Customers"), Customer.objects.filter(store_filter).count()),
        LandingFigure("vehicles", _("Vehicles"), vehicles["vehicles"]),
        LandingFigure(
            "deliveries_this_month", _("Deliveries this month"), vehicles["deliveries_this_month"], "deliveries"
        ),
        LandingFigure("repair_orders_this_month", _("Repair orders this month"), repair_orders, "repair-orders"),
    ]
    if user.role == Role.SERVICE_ADVISOR:
        figures.extend(_arrivals_today(store_filter=store_filter, today=today))
    return figures


def _arrivals_today(*, store_filter: Q, today: datetime.date) -> list[LandingFigure]:
    """The day's bookings of the advisor's stores as the bookings report counts them (walk-ins left
    out): holding a place, arrived, no-shows; each opens the arrivals board. One query."""
    counts = (
        Appointment.objects.filter(store_filter, date=today)
        .exclude(source=AppointmentSource.WALK_IN)
        .aggregate(
            booked=Count("id", filter=Q(status__in=ACTIVE_APPOINTMENT_STATUSES)),
            arrived=Count("id", filter=Q(status=AppointmentStatus.ARRIVED)),
            no_show=Count("id", filter=Q(status=AppointmentStatus.NO_SHOW)),
        )
    )
    board = reverse("customers:arrivals")
    return [
        LandingFigure("arrivals_booked", _("Booked for today"), counts["booked"], "arrivals-booked", board),
        LandingFigure("arrivals_arrived", _("Arrived today"), counts["arrived"], "arrivals-arrived", board),
        LandingFigure("arrivals_no_show", _("No-shows today"), counts["no_show"], "arrivals-no-show", board),
    ]


def landing_panels(*, user, store_ids, today: datetime.date) -> list[LandingPanel]:
    """A sales consultant's prospects needing action (new, contacted, test drive booked), newest
    first, with a link to all of theirs. One query."""
    if user.role != Role.SALES_CONSULTANT:
        return []
    prospects = Prospect.objects.filter(consultant=user, status__in=PROSPECTS_NEEDING_ACTION)
    if store_ids is not None:
        prospects = prospects.filter(store_id__in=store_ids)
    rows = tuple(
        LandingPanelRow(
            label=prospect.name,
            url=reverse("customers:prospect_detail", args=[prospect.pk]),
            detail=" · ".join(
                part
                for part in (
                    str(prospect.get_status_display()),
                    prospect.intended_model,
                    f"{prospect.recorded_on:%Y-%m-%d}",
                )
                if part
            ),
        )
        for prospect in prospects.order_by("-recorded_on", "-id")[:LANDING_PROSPECTS]
    )
    return [
        LandingPanel(
            key="my-prospects",
            title=_("My prospects needing action"),
            rows=rows,
            link_url=f"{reverse('customers:prospect_list')}?{urlencode({'consultant': 'mine'})}",
            link_label=_("All my prospects"),
            empty_text=_("None of your prospects waits for a next step."),
        )
    ]
