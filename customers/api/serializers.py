from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.api.serializers import CrmModelSerializer
from crm.masking import phone_for_user
from customers.models import Customer, RepairOrder, Vehicle


class MaskedPhoneField(serializers.Field):
    """The phone as the caller may see it: whole with the unmask permission, else 138****1234."""

    def __init__(self, **kwargs):
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return getattr(instance, self.source or self.field_name)

    def to_representation(self, value):
        return phone_for_user(self.context["request"].user, value)


extend_schema_field({"type": "string", "example": "138****1234"})(MaskedPhoneField)


class CustomerSerializer(CrmModelSerializer):
    mobile = MaskedPhoneField()
    landline = MaskedPhoneField()
    store_code = serializers.CharField(source="store.code", read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "customer_no",
            "store",
            "store_code",
            "name",
            "gender",
            "birthday",
            "mobile",
            "landline",
            "employer",
            "job_title",
            "province",
            "city",
            "district",
            "address",
            "source",
            "member_card_no",
            "member_tier",
            "points_balance",
            "confidentiality",
            "is_key_customer",
            "do_not_call",
            "sms_opt_out",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class VehicleSerializer(CrmModelSerializer):
    customer_no = serializers.CharField(source="customer.customer_no", read_only=True)

    class Meta:
        model = Vehicle
        fields = [
            "id",
            "vin",
            "customer",
            "customer_no",
            "store",
            "plate_no",
            "brand",
            "series",
            "model",
            "color",
            "delivery_date",
            "sales_consultant",
            "invoice_price",
            "warranty_end",
            "insurer",
            "insurance_expiry",
            "inspection_due",
            "status",
        ]
        read_only_fields = fields


class RepairOrderSerializer(CrmModelSerializer):
    vin = serializers.CharField(source="vehicle.vin", read_only=True)

    class Meta:
        model = RepairOrder
        fields = [
            "id",
            "ro_no",
            "vehicle",
            "vin",
            "store",
            "open_date",
            "settle_date",
            "repair_type",
            "mileage",
            "service_advisor",
            "labor_amount",
            "parts_amount",
            "total_amount",
        ]
        read_only_fields = fields
