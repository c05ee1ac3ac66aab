"""Serializers of the appointments API (/api/appointments/)."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from crm.api.serializers import CrmModelSerializer, LocalTimeField
from crm.models import User
from customers.choices import AppointmentPurpose, AppointmentSource
from customers.models import Appointment, Customer, Vehicle
from customers.selectors import customer_queryset_for_user, vehicle_queryset_for_user

# What a caller of the API may name as the source (a walk-in is recorded at the desk, not booked).
API_SOURCES = [(value, label) for value, label in AppointmentSource.choices if value != AppointmentSource.WALK_IN]


class AppointmentSerializer(CrmModelSerializer):
    store_code = serializers.CharField(source="store.code", read_only=True)
    customer_no = serializers.CharField(source="customer.customer_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    plate_no = serializers.CharField(source="vehicle.plate_no", read_only=True, default="")

    class Meta:
        model = Appointment
        fields = [
            "id",
            "store",
            "store_code",
            "customer",
            "customer_no",
            "customer_name",
            "vehicle",
            "plate_no",
            "date",
            "slot",
            "purpose",
            "advisor",
            "source",
            "source_reference",
            "notes",
            "status",
            "is_vip",
            "is_over_capacity",
            "checked_in_at",
            "kept_at",
            "kept_by",
            "created_at",
        ]
        read_only_fields = fields


class AppointmentCreateSerializer(serializers.Serializer):
    """A booking through the API: the same rules as at the desk (working day, slot, places)."""

    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.none())
    vehicle = serializers.PrimaryKeyRelatedField(queryset=Vehicle.objects.none())
    date = serializers.DateField()
    slot = LocalTimeField()
    purpose = serializers.ChoiceField(choices=AppointmentPurpose.choices)
    advisor = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), required=False, allow_null=True)
    source = serializers.ChoiceField(choices=API_SOURCES, default=AppointmentSource.API)
    source_reference = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    notes = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")  # absent when the OpenAPI schema is generated
        if request is not None:
            self.fields["customer"].queryset = customer_queryset_for_user(request.user).select_related("store")
            self.fields["vehicle"].queryset = vehicle_queryset_for_user(request.user)
            self.fields["advisor"].queryset = User.objects.filter(is_active=True)

    def validate(self, attrs):
        if attrs["vehicle"].customer_id != attrs["customer"].pk:
            raise serializers.ValidationError({"vehicle": _("The vehicle does not belong to this customer.")})
        return attrs


class AppointmentCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
