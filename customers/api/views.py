from rest_framework import viewsets

from crm.audit import audit_log_record
from crm.choices import AuditAction
from crm.masking import can_see_full_phone
from customers.api.serializers import CustomerSerializer, RepairOrderSerializer, VehicleSerializer
from customers.selectors import (
    customer_queryset_for_user,
    repair_order_queryset_for_user,
    vehicle_queryset_for_user,
)


class CustomerViewSet(viewsets.ReadOnlyModelViewSet):
    """Customer cards of the caller's stores; phones masked unless the role may see them whole."""

    serializer_class = CustomerSerializer
    filterset_fields = {
        "store": ["exact"],
        "gender": ["exact"],
        "district": ["exact"],
        "member_tier": ["exact"],
        "is_key_customer": ["exact"],
        "confidentiality": ["exact"],
        "updated_at": ["gte", "lte"],
    }
    search_fields = ["customer_no", "name", "name_initials", "name_pinyin"]
    ordering_fields = ["customer_no", "name", "updated_at"]
    ordering = ["customer_no"]

    def get_queryset(self):
        return customer_queryset_for_user(self.request.user).select_related("store")

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code == 200 and can_see_full_phone(request.user):
            data = response.data if isinstance(response.data, dict) else {}
            rows = data.get("results", [data] if "id" in data else [])
        else:
            rows = []
        if rows:  # an empty page shows no number: nothing to log
            audit_log_record(
                actor=request.user,
                action=AuditAction.VIEW_UNMASKED_PHONE,
                object_type="customers.customer",
                object_ids=[row["id"] for row in rows],
                detail={"path": request.path, "via": "api"},
            )
        return response


class VehicleViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = VehicleSerializer
    filterset_fields = {
        "store": ["exact"],
        "customer": ["exact"],
        "brand": ["exact"],
        "series": ["exact"],
        "status": ["exact"],
        "delivery_date": ["gte", "lte"],
        "insurance_expiry": ["gte", "lte"],
    }
    search_fields = ["vin", "plate_no", "customer__customer_no"]
    ordering_fields = ["vin", "delivery_date", "insurance_expiry"]
    ordering = ["vin"]

    def get_queryset(self):
        return vehicle_queryset_for_user(self.request.user).select_related("customer")


class RepairOrderViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = RepairOrderSerializer
    filterset_fields = {
        "store": ["exact"],
        "vehicle": ["exact"],
        "repair_type": ["exact"],
        "settle_date": ["gte", "lte"],
    }
    search_fields = ["ro_no", "vehicle__vin", "vehicle__plate_no"]
    ordering_fields = ["ro_no", "settle_date"]
    ordering = ["-settle_date", "ro_no"]

    def get_queryset(self):
        return repair_order_queryset_for_user(self.request.user).select_related("vehicle")
