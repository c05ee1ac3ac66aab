from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from crm.scoping import scope_to_user_stores
from customers.models import Customer, RepairOrder, Vehicle


class StoreScopedAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        return scope_to_user_stores(super().get_queryset(request), request.user)


@admin.register(Customer)
class CustomerAdmin(StoreScopedAdmin, SimpleHistoryAdmin):
    list_display = ["customer_no", "name", "store", "member_tier", "is_key_customer", "confidentiality"]
    list_filter = ["store", "confidentiality", "is_key_customer", "member_tier"]
    search_fields = ["customer_no", "name"]
    list_select_related = ["store"]
    raw_id_fields = ["do_not_call_by", "sms_opt_out_by"]
    filter_horizontal = ["authorized_staff"]
    show_full_result_count = False


@admin.register(Vehicle)
class VehicleAdmin(StoreScopedAdmin, SimpleHistoryAdmin):
    list_display = ["vin", "plate_no", "customer", "brand", "series", "delivery_date", "status"]
    list_filter = ["store", "brand", "status"]
    search_fields = ["vin", "plate_no"]
    list_select_related = ["customer"]
    raw_id_fields = ["customer", "status_changed_by"]
    show_full_result_count = False


@admin.register(RepairOrder)
class RepairOrderAdmin(StoreScopedAdmin):
    list_display = ["ro_no", "vehicle", "settle_date", "repair_type", "total_amount"]
    list_filter = ["store", "repair_type"]
    search_fields = ["ro_no", "vehicle__vin"]
    list_select_related = ["vehicle"]
    raw_id_fields = ["vehicle"]
    date_hierarchy = "settle_date"
    show_full_result_count = False
