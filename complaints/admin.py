from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from complaints.models import Complaint, ComplaintAction, ComplaintType, Escalation, StoreComplaintSettings
from crm.scoping import scope_to_user_stores


@admin.register(ComplaintType)
class ComplaintTypeAdmin(admin.ModelAdmin):
    list_display = ["name", "department", "sort_order", "is_active"]
    list_editable = ["sort_order", "is_active"]
    list_filter = ["department", "is_active"]
    search_fields = ["name"]


@admin.register(StoreComplaintSettings)
class StoreComplaintSettingsAdmin(SimpleHistoryAdmin):
    list_display = ["store", "response_minutes", "close_hours", "clock_mode", "sales_manager", "service_manager"]
    list_select_related = ["store", "sales_manager", "service_manager"]
    raw_id_fields = ["sales_manager", "service_manager", "general_manager"]

    def get_queryset(self, request):
        return scope_to_user_stores(super().get_queryset(request), request.user)


class ComplaintActionInline(admin.TabularInline):
    model = ComplaintAction
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "note", "actor", "at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(SimpleHistoryAdmin):
    """Read-mostly: complaints are worked on their own page, where the rules are applied."""

    list_display = ["id", "store", "customer", "department", "complaint_type", "status", "received_at"]
    list_filter = ["store", "status", "department", "channel", "complaint_type"]
    search_fields = ["=id", "customer__customer_no", "customer__name"]
    list_select_related = ["store", "customer", "complaint_type"]
    raw_id_fields = ["customer", "vehicle", "staff_concerned", "assigned_manager", "created_by"]
    inlines = [ComplaintActionInline]
    show_full_result_count = False

    def get_queryset(self, request):
        return scope_to_user_stores(super().get_queryset(request), request.user)

    def has_add_permission(self, request):
        return False


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    list_display = ["complaint", "kind", "level", "cycle", "due_at", "created_at", "sent_at", "recipients"]
    list_filter = ["kind", "sent_at"]
    raw_id_fields = ["complaint"]

    def get_queryset(self, request):
        return scope_to_user_stores(super().get_queryset(request), request.user, store_field="complaint__store")
