"""Helpers for tests that need a customer's consent recorded (marketing SMS need it granted)."""

import datetime

from django.utils import timezone

from customers.models import CustomerConsent


def grant_marketing(*customers, at: datetime.datetime | None = None) -> list[CustomerConsent]:
    """Record that each customer granted consent to marketing messages (at the desk)."""
    at = at or timezone.now()
    return CustomerConsent.objects.bulk_create(
        [CustomerConsent(customer=customer, purpose="marketing", is_granted=True, at=at, source="desk")
         for customer in customers]
    )  # fmt: skip
