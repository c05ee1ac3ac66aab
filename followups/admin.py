from django.contrib import admin

from crm.admin_base import ReadOnlyModelAdmin, ScopedSimpleHistoryAdmin, StoreFixedOnChangeMixin
from customers.selectors import customer_queryset_for_user
from followups.forms import unused_rule_parameters
from followups.models import (
    CallAttempt,
    Campaign,
    FollowupRule,
    FollowupTask,
    GenerationRun,
    InboundSms,
    SmsMessage,
)


@admin.register(FollowupRule)
class FollowupRuleAdmin(StoreFixedOnChangeMixin, ScopedSimpleHistoryAdmin):
    list_display = ["store", "code", "is_enabled", "channel", "offset_days", "priority", "worked_by"]
    list_filter = ["store", "code", "channel", "is_enabled", "worked_by"]
    list_select_related = ["store"]

    def get_exclude(self, request, obj=None):
        # Only the parameters the rule's builder reads (customers.rule_builders); a new rule shows all.
        excluded = list(super().get_exclude(request, obj) or [])
        if obj is not None:
            excluded.extend(unused_rule_parameters(obj.code))
        return excluded


class CustomerRecordAdmin(ReadOnlyModelAdmin):
    """Records of a customer's calls, tasks and SMS, written by the follow-up services: read-only here,
    scoped to the user's stores and never showing a top-secret card's records to staff not named on it."""

    customer_field = "customer"

    def scoped_queryset(self, request, queryset):
        queryset = super().scoped_queryset(request, queryset)
        if request.user.is_superuser:
            return queryset
        visible_customers = customer_queryset_for_user(request.user)
        lookup = self.customer_field
        # A record matched to no customer stays visible to whoever sees its store.
        return queryset.filter(**{f"{lookup}__isnull": True}) | queryset.filter(**{f"{lookup}__in": visible_customers})


@admin.register(FollowupTask)
class FollowupTaskAdmin(CustomerRecordAdmin):
    list_display = [
        "id", "code", "store", "customer", "rule_date", "queue_date", "work_date", "status", "attempts", "assignee",
    ]  # fmt: skip
    list_filter = ["store", "code", "channel", "status"]
    date_hierarchy = "queue_date"
    raw_id_fields = ["rule", "customer", "vehicle", "claimed_by", "assignee"]
    list_select_related = ["store", "customer", "assignee"]
    show_full_result_count = False


@admin.register(CallAttempt)
class CallAttemptAdmin(CustomerRecordAdmin):
    store_field = "task__store"
    list_display = ["at", "customer", "agent", "outcome", "satisfaction", "is_dissatisfied"]
    list_filter = ["outcome", "is_dissatisfied"]
    raw_id_fields = ["task", "customer", "agent"]
    list_select_related = ["customer", "agent"]


@admin.register(SmsMessage)
class SmsMessageAdmin(CustomerRecordAdmin):
    phone_fields = ("mobile",)
    list_display = ["send_date", "store", "mobile", "code", "status", "delivery_status", "sent_at"]
    list_filter = ["store", "status", "delivery_status", "code"]
    search_fields = ["mobile", "idempotency_key"]
    raw_id_fields = ["task", "customer", "campaign"]
    show_full_result_count = False


@admin.register(InboundSms)
class InboundSmsAdmin(CustomerRecordAdmin):
    # A reply matched to no customer belongs to no store: only group-wide staff see it.
    store_field = "customer__store"
    phone_fields = ("mobile",)
    list_display = ["received_at", "mobile", "text", "action", "satisfaction", "customer"]
    list_filter = ["action"]
    search_fields = ["mobile"]
    raw_id_fields = ["customer", "in_reply_to"]
    list_select_related = ["customer"]


@admin.register(GenerationRun)
class GenerationRunAdmin(ReadOnlyModelAdmin):
    list_display = ["date", "store", "code", "created_count", "finished_at"]
    list_filter = ["store", "code"]


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyModelAdmin):
    """SMS campaigns are written by their pages (followups.campaigns: placeholders, four-eyes
    approval, the recipients fixed set-based): read-only here."""

    list_display = ["send_at", "store", "name", "kind", "status", "holdout_percent", "created_by", "approved_by"]
    list_filter = ["store", "kind", "status"]
    search_fields = ["name"]
    raw_id_fields = ["segment", "created_by", "approved_by"]
    list_select_related = ["store", "created_by", "approved_by"]
