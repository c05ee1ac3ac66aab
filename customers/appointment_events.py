"""Listeners of appointments: a registry of functions told about every booking's change once it commits.

A listener is ``listener(event: AppointmentEvent) -> None``, registered in an app's
``AppConfig.ready()`` (the follow-ups app sends the confirmation SMS and the reminders from it):

    from customers.appointment_events import appointment_listener_register
    appointment_listener_register("followups.appointment_messages", send_appointment_messages)

The listeners run on commit, in registration order, each in its own savepoint: one that raises is
logged and rolled back and neither undoes the booking nor stops the others.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

logger = logging.getLogger(__name__)


class AppointmentEventKind:
    BOOKED = "booked"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"
    NO_SHOW = "no_show"
    ARRIVED = "arrived"


@dataclass(frozen=True)
class AppointmentEvent:
    """What happened to one appointment (``kind``: one of ``AppointmentEventKind``)."""

    kind: str
    appointment_id: int
    store_id: int
    customer_id: int


AppointmentListener = Callable[[AppointmentEvent], None]
_listeners: dict[str, AppointmentListener] = {}


def appointment_listener_register(name: str, listener: AppointmentListener) -> None:
    """Tell ``listener`` about every appointment event (registering a name again replaces it in place)."""
    _listeners[name] = listener


def appointment_listener_unregister(name: str) -> None:
    _listeners.pop(name, None)


def appointment_listeners() -> list[tuple[str, AppointmentListener]]:
    return list(_listeners.items())


def _call_listeners(event: AppointmentEvent) -> None:
    for name, listener in appointment_listeners():
        try:
            with transaction.atomic():
                listener(event)
        except Exception:
            logger.exception("appointment listener %s failed for %s of %s", name, event.kind, event.appointment_id)


def appointment_event_notify(*, kind: str, appointment) -> None:
    """Tell every listener once the current transaction commits (at once outside a transaction)."""
    event = AppointmentEvent(
        kind=kind, appointment_id=appointment.pk, store_id=appointment.store_id, customer_id=appointment.customer_id
    )
    transaction.on_commit(lambda: _call_listeners(event))
