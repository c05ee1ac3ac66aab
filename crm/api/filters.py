"""The API's filters: django-filter's, with date-times PostgreSQL can store; DRF's ordering, with
its ties settled (StableOrderingFilter).

Python parses offsets up to ±23:59 and years 1–9999 in any offset; PostgreSQL refuses offsets past
±15:59 ("time zone displacement out of range") and a value that leaves years 1–9999 once in UTC
overflows. Either was a 500; each is now a 400 naming the parameter."""

import datetime

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from rest_framework.filters import OrderingFilter

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


class StableOrderingFilter(OrderingFilter):
    """DRF's ``?ordering=``, with the view's own order after the asked one to settle its ties.

    Ordered by a column that repeats (a name, a day, a balance: most members have none), the rows
    of a tie came in whatever order the plan gave, so that paging through the list could show a row
    twice and another never. The view's default order (``ordering``, ending with a unique column)
    now follows the asked one, in the direction of its first column, so that one index of the whole
    order, read either way, serves both directions (the models' indexes of the API's orders). An
    order by a unique column is left as asked: it has no ties."""

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        default = self.get_default_ordering(view)
        if not ordering or not default or list(ordering) == list(default):
            return ordering
        asked = {term.lstrip("-") for term in ordering}
        if any(_is_unique(queryset.model, name) for name in asked):
            return ordering
        direction = "-" if ordering[0].startswith("-") else ""
        ties = [direction + term.lstrip("-") for term in default if term.lstrip("-") not in asked]
        return [*ordering, *ties]


def _is_unique(model, name: str) -> bool:
    if name == "pk":  # not a field's name; a primary key field is unique by itself
        return True
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:  # a path through a relation, an annotation: not known to be unique
        return False
    return bool(getattr(field, "unique", False))
