from django.utils.translation import gettext as _
from rest_framework import serializers

from complaints.choices import ActionKind, Channel, Department, Severity
from complaints.models import Complaint, ComplaintAction, ComplaintType
from complaints.selectors import staff_concerned_choices
from crm.api.serializers import CrmModelSerializer
from crm.models import Store, User
from crm.scoping import stores_for_user
from customers.models import Customer, Vehicle
from customers.selectors import customer_queryset_for_user, vehicle_queryset_for_user


class ComplaintSerializer(CrmModelSerializer):
    store_code = serializers.CharField(source="store.code", read_only=True)
    customer_no = serializers.CharField(source="customer.customer_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    plate_no = serializers.CharField(source="vehicle.plate_no", read_only=True, default="")
    complaint_type_name = serializers.CharField(source="complaint_type.name", read_only=True)

    class Meta:
        model = Complaint
        fields = [
            "id",
            "store",
            "store_code",
            "customer",
            "customer_no",
            "customer_name",
            "vehicle",
            "plate_no",
            "channel",
            "department",
            "complaint_type",
            "complaint_type_name",
            "severity",
            "staff_concerned",
            "staff_concerned_name",
            "description",
            "status",
            "received_at",
            "assigned_manager",
            "response_due_at",
            "close_due_at",
            "first_response_at",
            "closed_at",
            "resolution",
            "customer_confirmation",
            "confirmation_note",
            "reopened_count",
            "followup_task_id",
            "origin",
            "origin_reference",
        ]
        read_only_fields = fields


class ComplaintCreateSerializer(serializers.Serializer):
    """What an integration (800 hotline, WeChat, e-mail gateway) or an agent sends to log a complaint."""

    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.none())
    vehicle = serializers.PrimaryKeyRelatedField(queryset=Vehicle.objects.none(), required=False, allow_null=True)
    store = serializers.PrimaryKeyRelatedField(queryset=Store.objects.none(), required=False, allow_null=True)
    channel = serializers.ChoiceField(choices=Channel.choices)
    department = serializers.ChoiceField(choices=Department.choices)
    complaint_type = serializers.PrimaryKeyRelatedField(queryset=ComplaintType.objects.filter(is_active=True))
    severity = serializers.ChoiceField(choices=Severity.choices, default=Severity.MEDIUM)
    staff_concerned = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), required=False, allow_null=True)
    staff_concerned_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    description = serializers.CharField(max_length=5000)
    followup_task_id = serializers.IntegerField(min_value=1, required=False, allow_null=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")  # absent when the OpenAPI schema is generated
        if request is not None:
            self.fields["customer"].queryset = customer_queryset_for_user(request.user).select_related("store")
            self.fields["store"].queryset = stores_for_user(request.user)
            self.fields["vehicle"].queryset = vehicle_queryset_for_user(request.user)
            self.fields["staff_concerned"].queryset = staff_concerned_choices(request.user)

    def validate(self, attrs):
        vehicle = attrs.get("vehicle")
        if vehicle is not None and vehicle.customer_id != attrs["customer"].pk:
            raise serializers.ValidationError({"vehicle": _("The vehicle does not belong to this customer.")})
        return attrs


class ComplaintActionSerializer(CrmModelSerializer):
    kind = serializers.ChoiceField(choices=[(kind, ActionKind(kind).label) for kind in ActionKind.working_kinds()])

    class Meta:
        model = ComplaintAction
        fields = ["id", "kind", "note", "actor", "at"]
        read_only_fields = ["id", "actor", "at"]


class ComplaintCloseSerializer(serializers.Serializer):
    resolution = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")
    # A plain string (the service checks it), so a missing answer gets the service's clear message.
    confirmation = serializers.CharField(
        max_length=20,
        required=False,
        allow_blank=True,
        default="",
        help_text="The customer's answer on the callback: satisfied or not_satisfied. Required to close.",
    )
    confirmation_note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")


class ComplaintReopenSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
