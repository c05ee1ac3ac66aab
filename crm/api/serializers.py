from django.db import models
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.models import Store


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$", "example": "08:30:00"})
class LocalTimeField(serializers.TimeField):
    """A wall-clock time of the store's day ("08:30:00"). OpenAPI's ``format: time`` is RFC 3339's
    time with an offset, which these times have not; the pattern says what is sent."""


class CrmModelSerializer(serializers.ModelSerializer):
    """The API's model serializers, documented as they answer: wall-clock times as ``08:30:00``, and a
    read-only choice of a ``blank=True`` field may be "" (DRF drops ``allow_blank`` from read-only
    fields, so the schema's enum would leave "" out)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.TimeField: LocalTimeField,
    }

    def include_extra_kwargs(self, kwargs, extra_kwargs):
        allow_blank = kwargs.get("allow_blank", False)
        kwargs = super().include_extra_kwargs(kwargs, extra_kwargs)
        if allow_blank and kwargs.get("read_only"):
            kwargs["allow_blank"] = True
        return kwargs


class StoreSerializer(CrmModelSerializer):
    class Meta:
        model = Store
        fields = [
            "id",
            "code",
            "name",
            "brand",
            "phone",
            "address",
            "is_active",
            "morning_call_start",
            "morning_call_end",
            "afternoon_call_start",
            "afternoon_call_end",
        ]
