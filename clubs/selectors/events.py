"""Club events: lists, registrations, the door's search, the event report."""

import datetime
import unicodedata
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Exists, IntegerField, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from crm.scoping import scope_to_user_stores
from customers.message_outcomes import message_outcome
from customers.selectors import VEHICLE_TABLE, customer_queryset_for_user

# --- club events ---------------------------------------------------------------------------------

EVENT_REPORT_DAYS = 30
# The event page's list: who holds a place, the waiting list in its order, the invited, who came, who cancelled.
LIST_ORDER = ("registered", "waiting", "invited", "attended", "cancelled")
DOOR_RESULT_LIMIT = 20


def event_queryset_for_user(user) -> QuerySet:
    """The events of the user's stores."""
    from clubs.models import ClubEvent

    return scope_to_user_stores(ClubEvent.objects.all(), user)


def event_get_for_user(*, user, pk: int):
    """The event, or 404 when it does not exist or belongs to a store the user does not work in."""
    event = event_queryset_for_user(user).select_related("store", "segment", "created_by").filter(pk=pk).first()
    if event is None:
        raise Http404
    return event


def event_list_for_user(*, user, when: str = "upcoming", search: str = "", store_id: int | None = None) -> QuerySet:
    """The events of the user's stores: ``upcoming`` (not over yet, soonest first), ``past`` (over,
    latest first) or ``all``; narrowed by a part of the title or place and a store. Each carries
    ``places_taken`` and ``waiting`` (counted in the same query)."""
    from django.db.models import Count

    queryset = event_queryset_for_user(user).select_related("store")
    now = timezone.now()
    if when == "upcoming":
        queryset = queryset.filter(ends_at__gt=now).order_by("starts_at", "id")
    elif when == "past":
        queryset = queryset.filter(ends_at__lte=now).order_by("-starts_at", "-id")
    else:
        queryset = queryset.order_by("-starts_at", "-id")
    if store_id is not None:
        queryset = queryset.filter(store_id=store_id)
    search = " ".join(search.split())
    if search:
        queryset = queryset.filter(Q(title__icontains=search) | Q(place__icontains=search))
    return queryset.annotate(
        places_taken=Count("registrations", filter=Q(registrations__status__in=("registered", "attended"))),
        waiting=Count("registrations", filter=Q(registrations__status="waiting")),
    )


def event_status_counts(*, event) -> dict[str, int]:
    """How many of the event's list are in each status (every status present, 0 when none). One query."""
    from django.db.models import Count

    from clubs.choices import RegistrationStatus
    from clubs.models import EventRegistration

    counts = dict.fromkeys(RegistrationStatus.values, 0)
    rows = EventRegistration.objects.filter(event=event).values_list("status").annotate(total=Count("id"))
    counts.update(dict(rows.order_by()))
    return counts


def event_registrations(*, user, event, status: str = "") -> QuerySet:
    """The event's list as the user may see it (the card's level), by status, in the order people
    registered (the waiting list's order)."""
    from clubs.models import EventRegistration

    queryset = EventRegistration.objects.filter(event=event, customer__in=customer_queryset_for_user(user).values("pk"))
    if status:
        queryset = queryset.filter(status=status)
    return queryset.select_related("customer", "points_entry").order_by("status", "registered_at", "invited_at", "id")


def event_registration_get_for_user(*, user, event, pk: int):
    registration = event_registrations(user=user, event=event).filter(pk=pk).first()
    if registration is None:
        raise Http404
    return registration


@dataclass(frozen=True)
class DoorRow:
    """A person found at the door: the customer, their registration (None for a walk-in), a plate."""

    customer: object
    registration: object
    plate: str


def door_find(*, user, event, search: str, customer_ids: list[int] | None = None) -> list[DoorRow]:
    """The door's search: the last four digits of a mobile (the digits the mask shows anyway) among
    the people on the event's list, or the customers ``customer_ids`` of the event's store found by
    the customers' search (name, plate, whole number, name with the last four digits), which finds
    walk-ins too. The event's list first, then walk-ins; at most DOOR_RESULT_LIMIT. Three queries.

    Four digits alone never search the whole store: they would list every customer whose number
    ends so, a way to collect names and plates that the customers' search refuses."""
    from django.db.models import Case, Value, When

    from clubs.models import EventRegistration

    text = unicodedata.normalize("NFKC", search).strip()
    customers = customer_queryset_for_user(user).filter(store_id=event.store_id)
    if len(text) == 4 and text.isdigit():
        listed = EventRegistration.objects.filter(event=event).values("customer_id")
        customers = customers.filter(pk__in=listed, mobile__endswith=text)
    elif customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    else:
        return []
    on_list = EventRegistration.objects.filter(event=event, customer_id=OuterRef("pk"))
    customers = (
        customers.annotate(on_list=Exists(on_list))
        .annotate(first=Case(When(on_list=True, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("first", "name", "id")[:DOOR_RESULT_LIMIT]
    )
    found = list(customers)
    registrations = {
        registration.customer_id: registration
        for registration in EventRegistration.objects.filter(event=event, customer__in=[c.pk for c in found])
    }
    plates: dict[int, str] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT customer_id, string_agg(plate_no, ' ' ORDER BY id) FROM {VEHICLE_TABLE} "
            "WHERE customer_id = ANY(%s) AND plate_no <> '' GROUP BY customer_id",
            [[c.pk for c in found]],
        )
        plates = dict(cursor.fetchall())
    return [DoorRow(customer, registrations.get(customer.pk), plates.get(customer.pk, "")) for customer in found]


@dataclass(frozen=True)
class EventReport:
    """An event's figures: its list by status, and what the attendees did in the 30 days after."""

    invited: int
    invited_by_sms: int | None
    sms_sent: int | None
    sms_delivered: int | None
    registered: int
    waiting: int
    cancelled: int
    attended: int
    walk_ins: int
    points: int
    repair_orders: int
    spend: Decimal
    returned: int
    first_day: datetime.date
    last_day: datetime.date


@dataclass(frozen=True)
class AttendeeRow:
    registration_id: int
    customer_id: int
    name: str
    checked_in_at: datetime.datetime
    repair_orders: int
    spend: Decimal


def _event_window(event) -> tuple[datetime.date, datetime.date]:
    last_event_day = timezone.localdate(event.ends_at)
    return last_event_day + datetime.timedelta(days=1), last_event_day + datetime.timedelta(days=EVENT_REPORT_DAYS)


_ATTENDEE_ORDERS_SQL = f"""
    SELECT r.id, r.customer_id, count(ro.id), coalesce(sum(ro.total_amount), 0)
    FROM clubs_eventregistration r
    LEFT JOIN {VEHICLE_TABLE} v ON v.customer_id = r.customer_id
    LEFT JOIN customers_repairorder ro ON ro.vehicle_id = v.id
        AND coalesce(ro.open_date, ro.settle_date) BETWEEN %(first)s AND %(last)s
    WHERE r.event_id = %(event)s AND r.status = 'attended'
    GROUP BY r.id, r.customer_id
"""


def event_report(*, event) -> EventReport:
    """The event's report, set-based (three queries whatever the number of attendees): invited by
    staff, the invitation SMS (customers invited, sent, delivered: asked of the follow-ups through
    customers.message_outcomes), registered (holding a place now: registered, or registered and
    came), waiting, cancelled, attended (walk-ins included), the points credited for attending, and
    the attendees' repair orders opened (else settled) from the day after the event's last day
    through 30 days later with their total spend, and how many of them came back with one."""
    first, last = _event_window(event)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*) FILTER (WHERE r.invited_at IS NOT NULL),
                   count(*) FILTER (WHERE r.status = 'registered'
                                    OR (r.status = 'attended' AND r.registered_at IS NOT NULL)),
                   count(*) FILTER (WHERE r.status = 'waiting'),
                   count(*) FILTER (WHERE r.status = 'cancelled'),
                   count(*) FILTER (WHERE r.status = 'attended'),
                   count(*) FILTER (WHERE r.status = 'attended' AND r.source = 'door'),
                   coalesce(sum(p.points), 0)
            FROM clubs_eventregistration r
            LEFT JOIN clubs_pointsentry p ON p.id = r.points_entry_id
            WHERE r.event_id = %s
            """,
            [event.pk],
        )
        invited, registered, waiting, cancelled, attended, walk_ins, points = cursor.fetchone()
        cursor.execute(
            f"SELECT coalesce(sum(orders), 0), coalesce(sum(spend), 0), count(*) FILTER (WHERE orders > 0) "
            f"FROM ({_ATTENDEE_ORDERS_SQL}) AS a(id, customer_id, orders, spend)",
            {"event": event.pk, "first": first, "last": last},
        )
        orders, spend, returned = cursor.fetchone()
    sms = message_outcome(code="event_notice", detail_key="event_id", detail_value=str(event.pk))
    return EventReport(
        invited=invited, invited_by_sms=sms.tasks, sms_sent=sms.sent, sms_delivered=sms.delivered,
        registered=registered, waiting=waiting, cancelled=cancelled, attended=attended,
        walk_ins=walk_ins, points=int(points), repair_orders=int(orders), spend=Decimal(spend), returned=returned,
        first_day=first, last_day=last,
    )  # fmt: skip


def event_attendee_rows(*, user, event, limit: int = 200) -> list[AttendeeRow]:
    """The attendees the user may see with their repair orders and spend in the report's window,
    in the order they came in. One query for the figures, one for the names."""
    first, last = _event_window(event)
    with connection.cursor() as cursor:
        cursor.execute(_ATTENDEE_ORDERS_SQL, {"event": event.pk, "first": first, "last": last})
        figures = {row[0]: row for row in cursor.fetchall()}
    registrations = (
        event_registrations(user=user, event=event, status="attended")
        .filter(pk__in=list(figures))
        .order_by("checked_in_at", "id")[:limit]
    )
    return [
        AttendeeRow(
            registration_id=registration.pk,
            customer_id=registration.customer_id,
            name=registration.customer.name,
            checked_in_at=registration.checked_in_at,
            repair_orders=figures[registration.pk][2],
            spend=Decimal(figures[registration.pk][3]),
        )
        for registration in registrations
    ]
