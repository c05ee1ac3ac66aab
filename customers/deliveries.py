"""Listeners after a delivery at the sales desk: a registry of functions called once a delivery has
committed (``customers.services.delivery_record``).

A listener is ``listener(event: DeliveryRecorded) -> None``. The listeners run on commit, in the
order they were registered, each in its own transaction (a savepoint inside an outer one): one that
raises is logged and rolled back, and neither undoes the delivery nor stops the listeners after it
(the same pattern as ``customers.import_listeners``). The domain apps register theirs in their
``AppConfig.ready()`` (the club issues the membership card and records the referral):

    from customers.deliveries import delivery_listener_register
    delivery_listener_register("clubs.membership_at_delivery", join_at_delivery)
"""

import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryRecorded:
    """One delivery as committed: its row, the car, the buyer, the store, the consultant, how the
    buyer came (``customers.choices.DeliverySource``) and who referred them (a customer or a member
    of staff, or neither)."""

    delivery_id: int
    vehicle_id: int
    customer_id: int
    store_id: int
    consultant_id: int
    source: str
    referrer_customer_id: int | None
    referrer_staff_id: int | None
    delivered_on: datetime.date
    recorded_by_id: int | None = None


DeliveryListener = Callable[[DeliveryRecorded], None]

_listeners: dict[str, DeliveryListener] = {}


def delivery_listener_register(name: str, listener: DeliveryListener) -> None:
    """Call ``listener`` after every committed delivery (registering a name again replaces it and
    keeps its place)."""
    _listeners[name] = listener


def delivery_listener_unregister(name: str) -> None:
    _listeners.pop(name, None)


def delivery_listeners() -> list[tuple[str, DeliveryListener]]:
    return list(_listeners.items())


def _call_listeners(event: DeliveryRecorded) -> None:
    for name, listener in delivery_listeners():
        try:
            with transaction.atomic():
                listener(event)
        except Exception:
            logger.exception("delivery listener %s failed for delivery %s", name, event.delivery_id)


def delivery_listeners_notify(event: DeliveryRecorded) -> None:
    """Call every listener once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(lambda: _call_listeners(event))
