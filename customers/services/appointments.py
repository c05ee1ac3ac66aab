"""Writes of service appointments (预约): booking under a slot lock, confirming, cancelling,
rescheduling, the one-tap check-in, walk-ins, the end-of-day no-shows and the bookings kept by a
repair order. Every change keeps its history (simple_history) and tells the appointment listeners
(customers/appointment_events.py) once it commits."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from crm.audit import audit_log_record
from crm.bulk import id_array
from crm.choices import AuditAction
from crm.exceptions import ApplicationError
from crm.selectors import working_calendar
from customers.appointment_events import AppointmentEventKind, appointment_event_notify
from customers.choices import AppointmentSource, AppointmentStatus, ImportKind
from customers.membership import membership_badge
from customers.models import ACTIVE_APPOINTMENT_STATUSES, Appointment, AppointmentSettings, Customer, Vehicle
from customers.selectors.appointments import (
    appointment_next_free_slots,
    appointment_settings_for,
    slot_has_room,
    store_advisors,
)

OPEN_STATUSES = (AppointmentStatus.BOOKED, AppointmentStatus.CONFIRMED)
KEPT_BY_CHECK_IN = "check_in"
KEPT_BY_REPAIR_ORDER = "repair_order:"
SETTINGS_FIELDS = ("slot_minutes", "opens_at", "closes_at", "capacity")


def _raise_validation(error: ValidationError) -> None:
    raise ApplicationError(" ".join(error.messages)) from None


def _lock_slot(*, store_id: int, day: datetime.date, slot: datetime.time) -> None:
    """Serialise the bookings of one slot of one store until the transaction ends: two staff booking
    the last place at once queue here, and the second counts the first's booking."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"customers.appointment:{store_id}:{day.isoformat()}:{slot:%H:%M}"],
        )


def _slot_label(day: datetime.date, slot: datetime.time) -> str:
    return f"{formats.date_format(day, 'SHORT_DATE_FORMAT')} {slot:%H:%M}"


def _require_bookable_time(*, settings: AppointmentSettings, day: datetime.date, slot: datetime.time) -> None:
    if day < timezone.localdate():
        raise ApplicationError(_("This day has passed: choose today or a later day."))
    if not working_calendar(first_day=day, last_day=day).is_working_day(day):
        raise ApplicationError(
            _("%(day)s is not a working day: bookings are taken on working days only.")
            % {"day": formats.date_format(day, "SHORT_DATE_FORMAT")}
        )
    starts = settings.slot_starts()
    if slot not in starts:
        raise ApplicationError(
            _("%(slot)s is not a booking slot: slots start every %(minutes)s minutes from %(first)s to %(last)s.")
            % {
                "slot": f"{slot:%H:%M}",
                "minutes": settings.slot_minutes,
                "first": f"{starts[0]:%H:%M}" if starts else "",
                "last": f"{starts[-1]:%H:%M}" if starts else "",
            }
        )


def _slot_bookings(*, store_id: int, day: datetime.date, slot: datetime.time, exclude_pk=None):
    queryset = Appointment.objects.filter(
        store_id=store_id, date=day, slot=slot, status__in=ACTIVE_APPOINTMENT_STATUSES
    ).exclude(source=AppointmentSource.WALK_IN)
    if exclude_pk is not None:
        queryset = queryset.exclude(pk=exclude_pk)
    return list(queryset.values_list("pk", "is_vip", "is_over_capacity"))


def _take_place(*, appointment: Appointment, settings: AppointmentSettings, exclude_pk=None) -> None:
    """Under the slot's lock: refuse a full slot (naming the next free ones), and mark the VIP who
    holds the green-channel place when the slot goes over its capacity."""
    rows = _slot_bookings(store_id=appointment.store_id, day=appointment.date, slot=appointment.slot,
                          exclude_pk=exclude_pk)  # fmt: skip
    vip_booked = sum(1 for _pk, is_vip, _over in rows if is_vip)
    if not slot_has_room(capacity=settings.capacity, booked=len(rows), vip_booked=vip_booked,
                         is_vip=appointment.is_vip):  # fmt: skip
        free = appointment_next_free_slots(
            store=appointment.store, day=appointment.date, after=appointment.slot, is_vip=appointment.is_vip
        )
        offered = "、".join(_slot_label(day, slot) for day, slot in free) or _("none in the next two weeks")
        raise ApplicationError(
            _("This slot is fully booked. Next free slots: %(slots)s") % {"slots": offered},
            extra={"next_free_slots": [f"{day.isoformat()}T{slot:%H:%M}" for day, slot in free]},
        )
    appointment.is_over_capacity = False
    if len(rows) + 1 > settings.capacity and not any(over for _pk, _vip, over in rows):
        if appointment.is_vip:
            appointment.is_over_capacity = True
        else:  # a VIP already in the slot holds the green-channel place
            vip_pk = next(pk for pk, is_vip, _over in rows if is_vip)
            Appointment.objects.filter(pk=vip_pk).update(is_over_capacity=True)


def _require_advisor(*, advisor, store) -> None:
    if advisor is not None and not store_advisors(store=store).filter(pk=advisor.pk).exists():
        raise ApplicationError(_("%(name)s is not a service advisor of this store.") % {"name": advisor})


def _save(appointment: Appointment, *, user, reason: str = "") -> None:
    try:
        appointment.full_clean()
    except ValidationError as error:
        _raise_validation(error)
    appointment._history_user = user if getattr(user, "pk", None) else None
    if reason:
        appointment._change_reason = reason[:100]
    appointment.save()


@transaction.atomic
def appointment_book(
    *,
    user,
    customer: Customer,
    vehicle: Vehicle | None,
    date: datetime.date,
    slot: datetime.time,
    purpose: str,
    advisor=None,
    source: str,
    source_reference: str = "",
    notes: str = "",
) -> Appointment:
    """Book ``customer`` (and ``vehicle``, one of theirs) into a slot of their store. Refused with a
    clear message on a day off, outside the slots, for a day that has passed, or when the slot is
    full (naming the next free slots); a VIP may take one place over the capacity."""
    if vehicle is None:
        raise ApplicationError(_("Choose the vehicle (only a walk-in may come without a known car)."))
    if vehicle.customer_id != customer.pk:
        raise ApplicationError(_("The vehicle does not belong to this customer."))
    if source == AppointmentSource.WALK_IN:
        raise ApplicationError(_("A walk-in is recorded on the arrivals board, not booked."))
    store = customer.store
    settings = appointment_settings_for(store=store)
    _require_bookable_time(settings=settings, day=date, slot=slot)
    _require_advisor(advisor=advisor, store=store)
    if Appointment.objects.filter(vehicle=vehicle, date=date, status__in=OPEN_STATUSES).exists():
        raise ApplicationError(_("This vehicle is already booked on that day: reschedule that booking instead."))
    appointment = Appointment(
        store=store,
        customer=customer,
        vehicle=vehicle,
        date=date,
        slot=slot,
        purpose=purpose,
        advisor=advisor,
        source=source,
        source_reference=str(source_reference or "")[:60],
        notes=notes,
        status=AppointmentStatus.BOOKED,
        is_vip=membership_badge(customer).is_vip,
        created_by=user if getattr(user, "pk", None) else None,
    )
    _lock_slot(store_id=store.pk, day=date, slot=slot)
    _take_place(appointment=appointment, settings=settings)
    _save(appointment, user=user)
    appointment_event_notify(kind=AppointmentEventKind.BOOKED, appointment=appointment)
    return appointment


def _locked(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_for_update().select_related("store", "customer").get(pk=appointment.pk)


@transaction.atomic
def appointment_confirm(*, user, appointment: Appointment) -> Appointment:
    """The customer confirmed (a reply Y, a call). Confirming twice changes nothing."""
    appointment = _locked(appointment)
    if appointment.status == AppointmentStatus.CONFIRMED:
        return appointment
    if appointment.status != AppointmentStatus.BOOKED:
        raise ApplicationError(
            _("Only a booked appointment can be confirmed (this one is %(status)s).")
            % {"status": appointment.get_status_display()}
        )
    appointment.status = AppointmentStatus.CONFIRMED
    _save(appointment, user=user)
    appointment_event_notify(kind=AppointmentEventKind.CONFIRMED, appointment=appointment)
    return appointment


@transaction.atomic
def appointment_cancel(*, user, appointment: Appointment, reason: str = "") -> Appointment:
    """Cancel a booking that has not happened yet: its place is free again. Cancelling twice changes nothing."""
    appointment = _locked(appointment)
    if appointment.status == AppointmentStatus.CANCELLED:
        return appointment
    if appointment.status not in OPEN_STATUSES:
        raise ApplicationError(
            _("Only a booked or confirmed appointment can be cancelled (this one is %(status)s).")
            % {"status": appointment.get_status_display()}
        )
    appointment.status = AppointmentStatus.CANCELLED
    appointment.is_over_capacity = False
    _save(appointment, user=user, reason=reason)
    appointment_event_notify(kind=AppointmentEventKind.CANCELLED, appointment=appointment)
    return appointment


@transaction.atomic
def appointment_reschedule(*, user, appointment: Appointment, date: datetime.date, slot: datetime.time) -> Appointment:
    """Move a booking to another slot (same rules as booking it there); it needs confirming again."""
    appointment = _locked(appointment)
    if appointment.status not in OPEN_STATUSES:
        raise ApplicationError(
            _("Only a booked or confirmed appointment can be moved (this one is %(status)s).")
            % {"status": appointment.get_status_display()}
        )
    if (appointment.date, appointment.slot) == (date, slot):
        return appointment
    settings = appointment_settings_for(store=appointment.store)
    _require_bookable_time(settings=settings, day=date, slot=slot)
    appointment.date, appointment.slot = date, slot
    _lock_slot(store_id=appointment.store_id, day=date, slot=slot)
    _take_place(appointment=appointment, settings=settings, exclude_pk=appointment.pk)
    appointment.status = AppointmentStatus.BOOKED
    _save(appointment, user=user)
    appointment_event_notify(kind=AppointmentEventKind.RESCHEDULED, appointment=appointment)
    return appointment


@transaction.atomic
def appointment_check_in(*, user, appointment: Appointment) -> Appointment:
    """The customer is here (one tap on the arrivals board): arrived and kept. A second tap changes nothing."""
    appointment = _locked(appointment)
    if appointment.status == AppointmentStatus.ARRIVED:
        return appointment
    if appointment.status not in OPEN_STATUSES:
        raise ApplicationError(
            _("This appointment is %(status)s: it cannot be checked in.") % {"status": appointment.get_status_display()}
        )
    if appointment.date != timezone.localdate():
        raise ApplicationError(_("Only today's appointments can be checked in."))
    now = timezone.now()
    appointment.status = AppointmentStatus.ARRIVED
    appointment.checked_in_at = now
    appointment.checked_in_by = user
    if appointment.kept_at is None:
        appointment.kept_at, appointment.kept_by = now, KEPT_BY_CHECK_IN
    _save(appointment, user=user)
    appointment_event_notify(kind=AppointmentEventKind.ARRIVED, appointment=appointment)
    return appointment


def _current_slot(settings: AppointmentSettings, now: datetime.time) -> datetime.time:
    starts = settings.slot_starts()
    earlier = [start for start in starts if start <= now]
    return earlier[-1] if earlier else starts[0]


@transaction.atomic
def walk_in_record(*, user, customer: Customer, vehicle: Vehicle | None, purpose: str, advisor=None) -> Appointment:
    """A customer who came without a booking: arrived now, in the slot of the hour, taking no place."""
    if vehicle is not None and vehicle.customer_id != customer.pk:
        raise ApplicationError(_("The vehicle does not belong to this customer."))
    store = customer.store
    _require_advisor(advisor=advisor, store=store)
    settings = appointment_settings_for(store=store)
    now = timezone.localtime()
    appointment = Appointment(
        store=store,
        customer=customer,
        vehicle=vehicle,
        date=now.date(),
        slot=_current_slot(settings, now.time()),
        purpose=purpose,
        advisor=advisor,
        source=AppointmentSource.WALK_IN,
        status=AppointmentStatus.ARRIVED,
        is_vip=membership_badge(customer).is_vip,
        checked_in_at=now,
        checked_in_by=user,
        kept_at=now,
        kept_by=KEPT_BY_CHECK_IN,
        created_by=user,
    )
    _save(appointment, user=user)
    appointment_event_notify(kind=AppointmentEventKind.ARRIVED, appointment=appointment)
    return appointment


@transaction.atomic
def appointments_mark_no_shows(*, day: datetime.date) -> int:
    """End of ``day``: every booking of that day or before still booked or confirmed, neither checked in
    nor kept, becomes a no-show. Safe twice: the second run finds none. Returns how many it marked."""
    appointments = list(
        Appointment.objects.select_for_update(skip_locked=True).filter(
            date__lte=day, status__in=OPEN_STATUSES, kept_at__isnull=True
        )
    )
    if not appointments:
        return 0
    Appointment.objects.filter(pk__in=[row.pk for row in appointments]).update(status=AppointmentStatus.NO_SHOW)
    for appointment in appointments:
        appointment.status = AppointmentStatus.NO_SHOW
    Appointment.history.bulk_history_create(appointments, default_change_reason="no_show")
    for appointment in appointments:
        appointment_event_notify(kind=AppointmentEventKind.NO_SHOW, appointment=appointment)
    return len(appointments)


KEPT_BY_REPAIR_ORDER_SQL = """
    WITH kept AS (
        SELECT a.id,
               (SELECT r.ro_no FROM customers_repairorder r
                 WHERE r.vehicle_id = a.vehicle_id AND r.open_date BETWEEN a.date - 1 AND a.date + 1
                 ORDER BY r.open_date, r.ro_no LIMIT 1) AS ro_no
          FROM customers_appointment a
         WHERE a.kept_at IS NULL
           AND a.vehicle_id IS NOT NULL
           AND a.status IN ('booked', 'confirmed', 'arrived', 'no_show')
           {customer_filter}
    )
    UPDATE customers_appointment a
       SET kept_at = now(), kept_by = 'repair_order:' || kept.ro_no
      FROM kept
     WHERE a.id = kept.id AND kept.ro_no IS NOT NULL AND a.kept_at IS NULL
 RETURNING a.id
"""


@transaction.atomic
def appointments_mark_kept_by_repair_orders(*, customer_ids=None) -> int:
    """Set-based: a booking (a no-show too) not kept yet is kept when a repair order of its vehicle
    opened within one day of its date (the day before, the day, or the day after). ``customer_ids``
    limits it to the customers an import touched. Safe twice. Returns how many it marked."""
    params: list = []
    customer_filter = ""
    if customer_ids is not None:
        customer_ids = [int(pk) for pk in customer_ids]
        if not customer_ids:
            return 0
        customer_filter = "AND a.customer_id = ANY(%s::bigint[])"
        params.append(id_array(customer_ids))
    with connection.cursor() as cursor:
        cursor.execute(KEPT_BY_REPAIR_ORDER_SQL.format(customer_filter=customer_filter), params)
        ids = [row[0] for row in cursor.fetchall()]
    if ids:
        Appointment.history.bulk_history_create(
            list(Appointment.objects.filter(pk__in=ids)), default_change_reason="kept_by_repair_order"
        )
    return len(ids)


def appointments_kept_after_import(event) -> None:
    """The import listener (customers/import_listeners.py): after repair orders arrive, mark the
    bookings of the touched customers that they kept."""
    if event.kind == ImportKind.REPAIR_ORDERS and event.customer_ids:
        appointments_mark_kept_by_repair_orders(customer_ids=event.customer_ids)


@transaction.atomic
def appointment_settings_update(*, user, store, **values) -> AppointmentSettings:
    """A manager changes the store's booking grid (audited, kept in history). Bookings already made
    keep their slot."""
    unknown = set(values) - set(SETTINGS_FIELDS)
    if unknown:
        raise ValueError(f"not editable here: {sorted(unknown)}")
    settings, _created = AppointmentSettings.objects.select_for_update().get_or_create(store=store)
    changed = [name for name, value in values.items() if getattr(settings, name) != value]
    for name in changed:
        setattr(settings, name, values[name])
    try:
        settings.full_clean()
    except ValidationError as error:
        _raise_validation(error)
    if not changed:
        return settings
    settings._history_user = user
    settings.save()
    audit_log_record(
        actor=user, action=AuditAction.CHANGE_SETTINGS, object_type="customers.appointmentsettings",
        object_ids=[store.pk], detail={name: str(getattr(settings, name)) for name in changed},
    )  # fmt: skip
    return settings
