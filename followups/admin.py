from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from crm.scoping import scope_to_user_stores
from followups.models import CallAttempt, FollowupRule, FollowupTask, GenerationRun, InboundSms, SmsMessage


class StoreScopedAdmin(admin.ModelAdmin):
    def get_queryset(self, request):
        return scope_to_user_stores(super().get_queryset(request), request.user)


@admin.register(FollowupRule)
class FollowupRuleAdmin(StoreScopedAdmin, SimpleHistoryAdmin):
    list_display = ["store", "code", "is_enabled", "channel", "offset_days", "priority"]
    list_filter = ["store", "code", "channel", "is_enabled"]
    list_select_related = ["store"]


@admin.register(FollowupTask)
class FollowupTaskAdmin(StoreScopedAdmin):
    list_display = ["id", "code", "store", "customer", "rule_date", "queue_date", "work_date", "status", "attempts"]
    list_filter = ["store", "code", "channel", "status"]
    date_hierarchy = "queue_date"
    raw_id_fields = ["rule", "customer", "vehicle", "claimed_by"]
    list_select_related = ["store", "customer"]
    show_full_result_count = False


@admin.register(CallAttempt)
class CallAttemptAdmin(admin.ModelAdmin):
    list_display = ["at", "customer", "agent", "outcome", "satisfaction", "is_dissatisfied"]
    list_filter = ["outcome", "is_dissatisfied"]
    raw_id_fields = ["task", "customer", "agent"]
    list_select_related = ["customer", "agent"]

    def get_queryset(self, request):
        return scope_to_user_stores(super().get_queryset(request), request.user, store_field="task__store")


@admin.register(SmsMessage)
class SmsMessageAdmin(StoreScopedAdmin):
    list_display = ["send_date", "store", "mobile", "code", "status", "delivery_status", "sent_at"]
    list_filter = ["store", "status", "delivery_status", "code"]
    search_fields = ["mobile", "idempotency_key"]
    raw_id_fields = ["task", "customer"]
    show_full_result_count = False


@admin.register(InboundSms)
class InboundSmsAdmin(admin.ModelAdmin):
    list_display = ["received_at", "mobile", "text", "action", "satisfaction", "customer"]
    list_filter = ["action"]
    search_fields = ["mobile"]
    raw_id_fields = ["customer", "in_reply_to"]
    list_select_related = ["customer"]

    def get_queryset(self, request):
        # A reply matched to no customer belongs to no store: only group-wide staff see it.
        return scope_to_user_stores(super().get_queryset(request), request.user, store_field="customer__store")


@admin.register(GenerationRun)
class GenerationRunAdmin(StoreScopedAdmin):
    list_display = ["date", "store", "code", "created_count", "finished_at"]
    list_filter = ["store", "code"]
