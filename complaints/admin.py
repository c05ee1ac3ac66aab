from django.contrib import admin

from complaints.models import Complaint, ComplaintAction, ComplaintType, Escalation, StoreComplaintSettings
from complaints.selectors import complaint_queryset_for_user
from crm.admin_base import (
    GroupWideModelAdmin,
    ReadOnlyModelAdmin,
    ScopedSimpleHistoryAdmin,
    StoreFixedOnChangeMixin,
)


@admin.register(ComplaintType)
class ComplaintTypeAdmin(GroupWideModelAdmin):
    list_display = ["name", "department", "sort_order", "is_active"]
    list_editable = ["sort_order", "is_active"]
    list_filter = ["department", "is_active"]
    search_fields = ["name"]


@admin.register(StoreComplaintSettings)
class StoreComplaintSettingsAdmin(StoreFixedOnChangeMixin, ScopedSimpleHistoryAdmin):
    list_display = ["store", "response_minutes", "close_hours", "clock_mode", "sales_manager", "service_manager"]
    list_select_related = ["store", "sales_manager", "service_manager"]
    raw_id_fields = ["sales_manager", "service_manager", "general_manager"]


class ComplaintActionInline(admin.TabularInline):
    model = ComplaintAction
    extra = 0
    can_delete = False
    readonly_fields = ["kind", "note", "actor", "at"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Complaint)
class ComplaintAdmin(ScopedSimpleHistoryAdmin):
    """Read-only: complaints are worked on their own page, where the rules are applied (a complaint
    is closed only through complaint_close, with the customer's confirmation)."""

    list_display = ["id", "store", "customer", "department", "complaint_type", "status", "received_at"]
    list_filter = ["store", "status", "department", "channel", "complaint_type"]
    search_fields = ["=id", "customer__customer_no", "customer__name"]
    list_select_related = ["store", "customer", "complaint_type"]
    raw_id_fields = ["customer", "vehicle", "staff_concerned", "assigned_manager", "created_by"]
    inlines = [ComplaintActionInline]
    show_full_result_count = False

    def scoped_queryset(self, request, queryset):
        # The store scope, the top-secret rule and the advisors' "open complaints only" of the pages.
        return queryset & complaint_queryset_for_user(request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyModelAdmin):
    store_field = "complaint__store"
    list_display = ["complaint", "kind", "level", "cycle", "due_at", "created_at", "sent_at", "recipients"]
    list_filter = ["kind", "sent_at"]
    raw_id_fields = ["complaint"]

    def scoped_queryset(self, request, queryset):
        visible_complaints = complaint_queryset_for_user(request.user)
        return super().scoped_queryset(request, queryset).filter(complaint__in=visible_complaints)
