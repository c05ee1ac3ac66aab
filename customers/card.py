"""The customer card's extension points: other apps add panels (due follow-ups, open complaints,
membership) and timeline events (calls, SMS, complaints) without customers depending on them.

An app lists dotted paths to functions in its AppConfig:

- ``customer_card_panels``: ``f(*, user, customer) -> CardPanel | None``
- ``customer_timeline_sources``: ``f(*, user, customer) -> Iterable[TimelineEvent]``
- ``customer_alerts``: ``f(*, user, customer) -> Iterable[CustomerAlert]`` — what whoever talks
  to the customer next must know first (an open complaint, a dissatisfied customer): the call
  panel shows them above the script.

The personal-data registries (a customer's data on request, erasure) work the same way: see
customers/privacy.py.
"""

import datetime
from dataclasses import dataclass, field

from django.apps import apps
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class CardPanel:
    """A block at the top of the card (``position='top'``) or beside the facts (``'side'``)."""

    template: str
    context: dict = field(default_factory=dict)
    order: int = 100
    position: str = "top"


@dataclass(frozen=True)
class CustomerAlert:
    """A warning about the customer for whoever is about to talk to them (``kind`` names it for
    pages and tests: ``open_complaint``, ``dissatisfied``…)."""

    kind: str
    text: str
    url: str = ""


@dataclass(frozen=True)
class TimelineEvent:
    """One entry of the card's contact timeline, newest first."""

    at: datetime.datetime
    kind: str  # visit, delivery, note, call, sms, complaint, import, change, ...
    title: str
    detail: str = ""
    url: str = ""
    actor: str = ""
    # A day without a time (a delivery, a settled repair order): ``at`` is the start of that day for
    # the order of the timeline, and the card shows the date only (not a made-up 00:00).
    date_only: bool = False

    @classmethod
    def on_day(cls, day: datetime.date, **fields) -> "TimelineEvent":
        return cls(at=as_datetime(day), date_only=True, **fields)


def registered_functions(attribute: str) -> list:
    """The functions every app lists (dotted paths) under ``attribute`` in its AppConfig, in app order."""
    found = []
    for app_config in apps.get_app_configs():
        found.extend(import_string(path) for path in getattr(app_config, attribute, []))
    return found


def card_panels(*, user, customer) -> list[CardPanel]:
    panels = [
        panel
        for function in registered_functions("customer_card_panels")
        if (panel := function(user=user, customer=customer))
    ]
    return sorted(panels, key=lambda panel: panel.order)


def timeline_events(*, user, customer, limit: int = 200) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []
    for function in registered_functions("customer_timeline_sources"):
        events.extend(function(user=user, customer=customer))
    return sorted(events, key=lambda event: event.at, reverse=True)[:limit]


def as_datetime(day: datetime.date) -> datetime.datetime:
    """A date-only event (a delivery, a settled repair order) placed at the start of its day."""
    from django.utils import timezone

    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


def customer_alerts(*, user, customer) -> list[CustomerAlert]:
    """Every app's alerts about ``customer`` for ``user``, in app order."""
    alerts: list[CustomerAlert] = []
    for function in registered_functions("customer_alerts"):
        alerts.extend(function(user=user, customer=customer))
    return alerts
