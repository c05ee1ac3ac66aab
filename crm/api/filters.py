"""The API's filters: django-filter's, with date-times PostgreSQL can store.

Python parses offsets up to ±23:59 and years 1–9999 in any offset; PostgreSQL refuses offsets past
±15:59 ("time zone displacement out of range") and a value that leaves years 1–9999 once in UTC
overflows. Either was a 500; each is now a 400 naming the parameter."""

import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField

# PostgreSQL's limit for a time zone offset (and the real world's: UTC-12 to UTC+14).
MAX_UTC_OFFSET = datetime.timedelta(hours=15, minutes=59)


class StorableIsoDateTimeField(IsoDateTimeField):
    default_error_messages = {
        "offset": _("The time zone offset must be between -15:59 and +15:59."),
        "range": _("The date and time must fall between the years 1 and 9999 in UTC."),
    }

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        offset = parsed.utcoffset()
        if offset is not None and abs(offset) > MAX_UTC_OFFSET:
            raise ValidationError(self.error_messages["offset"], code="offset")
        try:
            parsed.astimezone(datetime.UTC)
        except OverflowError:
            raise ValidationError(self.error_messages["range"], code="range") from None
        return parsed


class StorableIsoDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = StorableIsoDateTimeField


class CrmFilterSet(filters.FilterSet):
    FILTER_DEFAULTS = {
        **filters.FilterSet.FILTER_DEFAULTS,
        models.DateTimeField: {"filter_class": StorableIsoDateTimeFilter},
    }


class CrmFilterBackend(filters.DjangoFilterBackend):
    """DEFAULT_FILTER_BACKENDS' django-filter backend, building filter sets from CrmFilterSet."""

    filterset_base = CrmFilterSet
