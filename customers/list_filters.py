"""Filters of the customer list that other apps contribute ("has an open complaint"), without
customers depending on them (like the card's panels, customers/card.py).

An app lists dotted paths to functions in its AppConfig under ``customer_list_filters``:
``f(*, user) -> CustomerListFilter | None`` (None: not for this user). The list shows each as a
check box named ``name``; when ticked, the list keeps the customers matching ``condition``, a
``Q`` on ``Customer`` the app builds from its own indexed tables (an ``Exists`` subquery), so the
page stays one query however many filters there are.
"""

from dataclasses import dataclass

from django.db.models import Q

from customers.card import registered_functions


@dataclass(frozen=True)
class CustomerListFilter:
    name: str  # the GET parameter and the form field's name
    label: str
    condition: Q
    order: int = 100


def customer_list_filters(*, user) -> list[CustomerListFilter]:
    """The filters every app offers ``user``, in their order."""
    found = [
        list_filter
        for function in registered_functions("customer_list_filters")
        if (list_filter := function(user=user))
    ]
    return sorted(found, key=lambda list_filter: list_filter.order)
