"""Listeners after a DMS import: a registry of functions called once an import batch has committed.

A listener is ``listener(event: ImportCommitted) -> None``. ``import_listeners_notify`` is called by
the import service after a batch is applied (never for a preview, nor for a failed or rolled-back
import); the listeners run on commit, in the order they were registered, each in its own
transaction (a savepoint inside an outer one): one that raises is logged and rolled back, and
neither undoes the import nor stops the listeners after it.

The customers app's own step after an import (the segment facts of the touched customers) is the
first listener, registered here. Other apps register theirs in their ``AppConfig.ready()`` (the
owners' club will earn points once repair orders arrive):

    from customers.import_listeners import import_listener_register
    import_listener_register("clubs.points_from_repair_orders", earn_points_after_import)
"""

import datetime
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction

from crm.tasks import enqueue, registered_task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportCommitted:
    """What an import batch did: its ``kind`` (``ImportKind``: customers, vehicles, repair orders…),
    its ``batch_id`` (``customers.ImportBatch``) and the ids of the customers whose rows, vehicles
    or repair orders it inserted or changed; ``days``: the days (repair orders' settle dates,
    vehicles' delivery dates) it changed, when the import read them, else None (look them up)."""

    kind: str
    batch_id: int
    customer_ids: tuple[int, ...]
    days: tuple[datetime.date, ...] | None = None


ImportListener = Callable[[ImportCommitted], None]

_listeners: dict[str, ImportListener] = {}


def import_listener_register(name: str, listener: ImportListener) -> None:
    """Call ``listener`` after every committed import (registering a name again replaces it and
    keeps its place)."""
    _listeners[name] = listener


def import_listener_unregister(name: str) -> None:
    """Remove the listener registered under ``name`` (nothing happens for an unknown name)."""
    _listeners.pop(name, None)


def import_listeners() -> list[tuple[str, ImportListener]]:
    """The registered listeners, in the order they are called."""
    return list(_listeners.items())


def _call_listeners(event: ImportCommitted) -> None:
    for name, listener in import_listeners():
        try:
            with transaction.atomic():
                listener(event)
        except Exception:
            logger.exception("import listener %s failed for %s batch %s", name, event.kind, event.batch_id)


def import_listeners_notify(
    *, kind: str, batch_id: int, customer_ids: Iterable[int], days: Iterable[datetime.date] | None = None
) -> None:
    """Call every listener once the current transaction commits (at once outside a transaction)."""
    event = ImportCommitted(
        kind=kind,
        batch_id=batch_id,
        customer_ids=tuple(sorted({int(pk) for pk in customer_ids})),
        days=None if days is None else tuple(sorted(set(days))),
    )
    transaction.on_commit(lambda: _call_listeners(event))


# --- customers' own listener ---------------------------------------------------------------------


def refresh_segment_facts(event: ImportCommitted) -> None:
    """Queue the refresh of the touched customers' segment facts. With the broker down, the nightly
    customers-refresh-customer-stats catches these up."""
    if not event.customer_ids:
        return
    # Queued by name: customers.tasks imports the import service, which imports this module.
    # argsrepr: Celery would otherwise write a repr of the whole list for its logs (0.3 s of CPU
    # for a first import's 100,000 customers) and then cut it to 1,024 characters.
    enqueue(registered_task("customers.tasks.refresh_customer_stats_after_import"), (list(event.customer_ids),),
            argsrepr=f"([{len(event.customer_ids)} customer ids],)")  # fmt: skip


import_listener_register("customers.segment_facts", refresh_segment_facts)
