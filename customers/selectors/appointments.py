"""Reads of service appointments (预约): a store's booking grid and free places, the arrivals board,
a card's bookings and the bookings per day against capacity. Always scoped to what the user may see."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404

from crm.choices import Role
from crm.compiled_reads import compiled_read
from crm.models import Store, User
from crm.scoping import scope_to_user_stores, stores_for_user
from crm.selectors import working_calendar
from customers.choices import AppointmentSource, AppointmentStatus
from customers.models import ACTIVE_APPOINTMENT_STATUSES, Appointment, AppointmentSettings, Customer, Delivery, Vehicle
from customers.selectors import customer_visible_to

# How far ahead a full slot's refusal looks for free places to offer instead.
NEXT_FREE_SEARCH_DAYS = 14
LIST_RELATED = ("store", "customer", "vehicle", "advisor", "checked_in_by")
#: What a row of the arrivals board shows (templates/customers/partials/arrival_row.html): not the
#: whole card, car and advisor of each of up to 100 rows (a card alone has 43 columns).
BOARD_FIELDS = (
    "store_id", "customer_id", "vehicle_id", "advisor_id", "date", "slot", "purpose", "source", "status", "is_vip",
    "is_over_capacity", "checked_in_at", "created_at", "customer__name", "vehicle__plate_no", "vehicle__vin",
    "advisor__first_name", "advisor__last_name", "advisor__username",
)  # fmt: skip


def appointment_settings_for(*, store: Store) -> AppointmentSettings:
    """The store's booking grid: its saved settings, else the defaults (an unsaved row)."""
    found = compiled_read(("appointment settings",), _settings_of, store_id=store.pk)
    if not found:
        return AppointmentSettings(store=store)
    AppointmentSettings.store.field.set_cached_value(found[0], store)
    return found[0]


def _settings_of(*, store_id: int) -> QuerySet[AppointmentSettings]:
    return AppointmentSettings.objects.filter(store_id=store_id)


@dataclass(frozen=True)
class SlotPlaces:
    """One slot of a day: the bookings holding a place, and whether a customer may still book it."""

    start: datetime.time
    capacity: int
    booked: int  # active bookings (booked, confirmed, arrived), walk-ins left out
    vip_booked: int

    @property
    def free(self) -> int:
        """Regular places left (a VIP's green-channel place stands beside the capacity)."""
        return max(0, self.capacity + min(1, self.vip_booked) - self.booked)

    def bookable(self, *, is_vip: bool) -> bool:
        return slot_has_room(capacity=self.capacity, booked=self.booked, vip_booked=self.vip_booked, is_vip=is_vip)


def slot_has_room(*, capacity: int, booked: int, vip_booked: int, is_vip: bool) -> bool:
    """Whether one more booking fits: a slot holds ``capacity`` bookings, and one more when a VIP is
    among them (the green channel), so never more than capacity + 1."""
    after = booked + 1
    vips_after = vip_booked + (1 if is_vip else 0)
    return after - min(1, vips_after) <= capacity


def _slot_counts(*, store: Store, first_day: datetime.date, last_day: datetime.date) -> dict:
    """Active bookings per (day, slot) of the store over the days (compiled once: the call panel and
    the booking pages ask for them on every request)."""
    rows = compiled_read(("slot counts",), _slot_rows, store_id=store.pk, first_day=first_day, last_day=last_day)
    return {(row["date"], row["slot"]): (row["booked"], row["vip_booked"]) for row in rows}


def _slot_rows(*, store_id: int, first_day: datetime.date, last_day: datetime.date):
    return (
        Appointment.objects.filter(
            store_id=store_id, date__range=(first_day, last_day), status__in=ACTIVE_APPOINTMENT_STATUSES
        )
        .exclude(source=AppointmentSource.WALK_IN)
        .values("date", "slot")
        .annotate(booked=Count("id"), vip_booked=Count("id", filter=Q(is_vip=True)))
    )


def appointment_day_slots(
    *, store: Store, day: datetime.date, settings: AppointmentSettings | None = None, calendar=None
):
    """(is_working_day, [SlotPlaces]): the day's slots with their places (none on a day off).
    ``calendar``: a working calendar already read with the official days around ``day``."""
    settings = settings or appointment_settings_for(store=store)
    calendar = calendar or working_calendar(first_day=day, last_day=day)
    if not calendar.is_working_day(day):
        return False, []
    counts = _slot_counts(store=store, first_day=day, last_day=day)
    slots = [
        SlotPlaces(start, settings.capacity, *counts.get((day, start), (0, 0))) for start in settings.slot_starts()
    ]
    return True, slots


def appointment_next_free_slots(
    *, store: Store, day: datetime.date, after: datetime.time | None, is_vip: bool, limit: int = 3
) -> list[tuple[datetime.date, datetime.time]]:
    """Up to ``limit`` bookable (day, slot) from ``day`` (slots after ``after`` on that day) over the
    next working days: what a refusal offers instead of a full slot."""
    settings = appointment_settings_for(store=store)
    last_day = day + datetime.timedelta(days=NEXT_FREE_SEARCH_DAYS)
    calendar = working_calendar(first_day=day, last_day=last_day)
    counts = _slot_counts(store=store, first_day=day, last_day=last_day)
    found = []
    current = day
    while current <= last_day and len(found) < limit:
        if calendar.is_working_day(current):
            for start in settings.slot_starts():
                if current == day and after is not None and start <= after:
                    continue
                booked, vip_booked = counts.get((current, start), (0, 0))
                if slot_has_room(capacity=settings.capacity, booked=booked, vip_booked=vip_booked, is_vip=is_vip):
                    found.append((current, start))
                    if len(found) == limit:
                        break
        current += datetime.timedelta(days=1)
    return found


# --- SQL fragments for set-based readers (the follow-up rules' reminders and no-show calls) ----------

APPOINTMENT_TABLE = Appointment._meta.db_table


def _require_alias(alias: str) -> str:
    if not alias.isidentifier():
        raise ValueError(f"not an SQL alias: {alias!r}")
    return alias


def appointment_is_open_sql(*, alias: str) -> str:
    """The condition that the appointment row ``alias`` (customers_appointment) is still to come:
    booked or confirmed (a reminder is due for it); no parameters."""
    alias = _require_alias(alias)
    return f"({alias}.status IN ('booked', 'confirmed'))"


def appointment_not_kept_sql(*, alias: str) -> str:
    """The condition that the appointment row ``alias`` is a booking the customer has not kept: a
    no-show (or one still open) neither checked in nor kept by a repair order; no parameters."""
    alias = _require_alias(alias)
    return (
        f"({alias}.kept_at IS NULL AND {alias}.status IN ('booked', 'confirmed', 'no_show')"
        f" AND {alias}.source <> 'walk_in')"
    )


def appointment_booked_from_task_sql(*, alias: str, task_id_sql: str) -> str:
    """The condition that the appointment row ``alias`` was booked from the call of the follow-up
    task whose ID is the SQL expression ``task_id_sql`` (``source = 'call'``, ``source_reference =
    'followuptask:<id>'``); no parameters."""
    alias = _require_alias(alias)
    return (
        f"({alias}.source = '{AppointmentSource.CALL}'"
        f" AND {alias}.source_reference = 'followuptask:' || ({task_id_sql})::text)"
    )


def appointment_queryset_for_user(user) -> QuerySet[Appointment]:
    """Appointments of the stores the user works in, on the cards the user may see: the card levels
    as "not one of the few restricted cards hidden from the user" (customer_visible_to, an
    indexed anti-join), as the call queue reads its tasks, not as ``customer IN (every card the
    user may see)``, whose plan rests on estimates (for the complaint and member lists of a group
    it hashed all million cards; for a day's bookings it looked them up one by one)."""
    return scope_to_user_stores(Appointment.objects.all(), user).filter(customer_visible_to(user))


def appointment_get_for_user(*, user, pk) -> Appointment:
    """The appointment, or 404 when it does not exist or is outside what the user may see."""
    try:
        return appointment_queryset_for_user(user).select_related(*LIST_RELATED).get(pk=pk)
    except (Appointment.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def arrivals_board(
    *, user, store: Store, day: datetime.date, advisor: User | None = None, search: str = ""
) -> QuerySet[Appointment]:
    """The day's bookings and walk-ins of a store, by slot, VIPs first within a slot."""
    queryset = appointment_queryset_for_user(user).filter(store=store, date=day)
    if advisor is not None:
        queryset = queryset.filter(advisor=advisor)
    if search:
        queryset = queryset.filter(
            Q(customer__name__icontains=search)
            | Q(customer__customer_no__iexact=search)
            | Q(vehicle__plate_no__icontains=search)
        )
    return (
        queryset.select_related("customer", "vehicle", "advisor")
        .only(*BOARD_FIELDS)
        .order_by("slot", "-is_vip", "created_at", "id")
    )


def customer_appointments(*, customer: Customer, limit: int = 20) -> list[Appointment]:
    """A card's latest bookings, newest day first."""

    def build(*, customer_id: int) -> QuerySet[Appointment]:
        appointments = Appointment.objects.filter(customer_id=customer_id).select_related("vehicle", "advisor", "store")
        return appointments.order_by("-date", "-slot", "-id")[:limit]

    appointments = compiled_read(("card appointments", limit), build, customer_id=customer.pk)
    for appointment in appointments:
        Appointment.customer.field.set_cached_value(appointment, customer)
    return appointments


def store_advisors(*, store: Store) -> QuerySet[User]:
    """The active service advisors and managers of a store: who may be named on a booking."""
    return (
        User.objects.filter(is_active=True, stores=store, groups__name__in=[Role.SERVICE_ADVISOR, Role.MANAGER])
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def appointment_stores_for_user(user) -> QuerySet[Store]:
    return stores_for_user(user).order_by("code")


@dataclass(frozen=True)
class DayBookings:
    day: datetime.date
    booked: int
    arrived: int
    no_show: int
    capacity: int  # 0 on a day off

    @property
    def share(self) -> int | None:
        return round(self.booked * 100 / self.capacity) if self.capacity else None


def bookings_per_day(*, store: Store, first_day: datetime.date, last_day: datetime.date) -> list[DayBookings]:
    """Per day of [first_day, last_day]: bookings holding a place (and of them arrived), no-shows, and
    the day's capacity (slots × places; 0 on a day off). Walk-ins are left out. One query."""
    settings = appointment_settings_for(store=store)
    calendar = working_calendar(first_day=first_day, last_day=last_day)
    rows = (
        Appointment.objects.filter(store=store, date__range=(first_day, last_day))
        .exclude(source=AppointmentSource.WALK_IN)
        .values("date")
        .annotate(
            booked=Count("id", filter=Q(status__in=ACTIVE_APPOINTMENT_STATUSES)),
            arrived=Count("id", filter=Q(status=AppointmentStatus.ARRIVED)),
            no_show=Count("id", filter=Q(status=AppointmentStatus.NO_SHOW)),
        )
    )
    by_day = {row["date"]: row for row in rows}
    day_capacity = settings.capacity * len(settings.slot_starts())
    result = []
    current = first_day
    while current <= last_day:
        row = by_day.get(current, {})
        result.append(
            DayBookings(
                day=current,
                booked=row.get("booked", 0),
                arrived=row.get("arrived", 0),
                no_show=row.get("no_show", 0),
                capacity=day_capacity if calendar.is_working_day(current) else 0,
            )
        )
        current += datetime.timedelta(days=1)
    return result


def desk_booking_source(*, vehicle: Vehicle | None, today: datetime.date) -> tuple[str, str]:
    """Where a booking made at the desk comes from: on the day of the handover, for the car the
    sales desk has just delivered, it is a booking at delivery (``delivery:<id>``); else the desk."""
    if vehicle is not None and vehicle.delivery_date == today:
        delivery_id = Delivery.objects.filter(vehicle=vehicle).values_list("pk", flat=True).first()
        if delivery_id is not None:
            return AppointmentSource.DELIVERY, f"delivery:{delivery_id}"
    return AppointmentSource.DESK, ""


def appointments_booked_contacts(store_ids: list[int] | None, start: datetime.datetime, end: datetime.datetime):
    """Contact source of "won back by" (customers/contacts.py): a visit booked with the customer (a
    call, the desk, a delivery, the API; not a walk-in, not one cancelled), at its booking time, by
    whoever booked it. Walk-ins are the return itself, not what brought it."""
    from customers.contacts import ContactSql

    store_filter = "AND a.store_id = ANY(%(store_ids)s)" if store_ids is not None else ""
    sql = f"""
        SELECT a.customer_id, a.created_at AS at, 'appointment' AS kind, '' AS rule_code,
               NULL::bigint AS campaign_id, a.created_by_id::bigint AS agent_id
        FROM {Appointment._meta.db_table} a
        WHERE a.source <> '{AppointmentSource.WALK_IN}' AND a.status <> '{AppointmentStatus.CANCELLED}'
          AND a.created_at >= %(start)s AND a.created_at < %(end)s {store_filter}
    """
    return ContactSql(sql, {"start": start, "end": end, "store_ids": store_ids})
