"""What the project's management commands share to read their arguments."""

import datetime

from django.core.management.base import CommandError


def parse_date(value: str) -> datetime.date:
    """A ``--date YYYY-MM-DD`` argument; anything else stops the command with a message."""
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date: use YYYY-MM-DD.") from None
