"""The club in the admin: store clubs and tier rules are edited (through the services, with history);
members, ledgers, tier changes, stored value and referrals are read-only (their services keep the rules)."""

from django.contrib import admin

from clubs import services
from clubs.models import (
    ClubEvent,
    EventRegistration,
    Membership,
    PointsEntry,
    Referral,
    StoreClub,
    TierChange,
    TierRule,
    WalletEntry,
)
from clubs.selectors import membership_queryset_for_user
from crm.admin_base import ReadOnlyModelAdmin, ScopedSimpleHistoryAdmin, StoreFixedOnChangeMixin
from crm.exceptions import ApplicationError
from customers.selectors import customer_queryset_for_user


class _ServiceSavedAdmin(StoreFixedOnChangeMixin, ScopedSimpleHistoryAdmin):
    """A store's club settings: changed through the service (validation, audit), never added (a club
    starts on the settings page or with ``club_start``) nor deleted here."""

    editable_fields: tuple[str, ...] = ()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        fields = [field.name for field in self.model._meta.fields if field.name not in self.editable_fields]
        return (*super().get_readonly_fields(request, obj), *fields)

    def update(self, obj, request, values):
        raise NotImplementedError

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in self.editable_fields if name in form.cleaned_data}
        try:
            self.update(obj, request, values)
        except ApplicationError as error:
            self.message_user(request, error.message, level="error")


@admin.register(StoreClub)
class StoreClubAdmin(_ServiceSavedAdmin):
    list_display = ["store", "started_on", "run_through", "points_per_amount", "silver_spend", "gold_spend",
                    "diamond_topup"]  # fmt: skip
    list_select_related = ["store"]
    editable_fields = services.STORE_CLUB_RULE_FIELDS

    def update(self, obj, request, values):
        services.store_club_update(store_club=StoreClub.objects.get(pk=obj.pk), user=request.user, **values)


@admin.register(TierRule)
class TierRuleAdmin(_ServiceSavedAdmin):
    list_display = ["store", "tier", "points_rate", "labour_discount"]
    list_filter = ["store", "tier"]
    list_select_related = ["store"]
    editable_fields = services.TIER_RULE_FIELDS

    def update(self, obj, request, values):
        services.tier_rule_update(tier_rule=TierRule.objects.get(pk=obj.pk), user=request.user, **values)


class _MemberScopedReadOnlyAdmin(ReadOnlyModelAdmin):
    """Rows of a member: scoped like the member's card (stores and confidentiality)."""

    store_field = "membership__store"

    def scoped_queryset(self, request, queryset):
        return (
            super().scoped_queryset(request, queryset).filter(membership__in=membership_queryset_for_user(request.user))
        )


@admin.register(Membership)
class MembershipAdmin(ReadOnlyModelAdmin):
    list_display = ["card_no", "customer", "store", "tier", "points_balance", "wallet_balance", "joined_on"]
    list_filter = ["store", "tier"]
    search_fields = ["=card_no", "=customer__customer_no"]
    list_select_related = ["customer", "store"]
    raw_id_fields = ["customer"]
    show_full_result_count = False

    def scoped_queryset(self, request, queryset):
        return super().scoped_queryset(request, queryset).filter(pk__in=membership_queryset_for_user(request.user))


@admin.register(PointsEntry)
class PointsEntryAdmin(_MemberScopedReadOnlyAdmin):
    list_display = ["membership", "on", "kind", "points", "expires_on", "reference", "created_by"]
    list_filter = ["kind"]
    search_fields = ["=membership__card_no", "=reference"]
    list_select_related = ["membership", "created_by"]
    raw_id_fields = ["membership", "repair_order", "lot"]
    show_full_result_count = False


@admin.register(TierChange)
class TierChangeAdmin(_MemberScopedReadOnlyAdmin):
    list_display = ["membership", "effective_on", "tier", "kind", "reference", "created_by"]
    list_filter = ["kind", "tier"]
    search_fields = ["=membership__card_no"]
    list_select_related = ["membership", "created_by"]
    raw_id_fields = ["membership", "repair_order"]


@admin.register(WalletEntry)
class WalletEntryAdmin(_MemberScopedReadOnlyAdmin):
    list_display = ["membership", "kind", "amount", "balance_after", "reference", "created_at", "created_by"]
    list_filter = ["kind"]
    search_fields = ["=membership__card_no", "=reference"]
    list_select_related = ["membership", "created_by"]
    raw_id_fields = ["membership", "repair_order"]


@admin.register(Referral)
class ReferralAdmin(ScopedSimpleHistoryAdmin):
    """Read-only here: referrals are recorded on the referrer's card and won by the nightly run."""

    list_display = ["prospect_name", "store", "referrer", "referrer_staff", "stage", "referred_on", "won_on"]
    list_filter = ["store", "stage"]
    list_select_related = ["store", "referrer", "referrer_staff"]
    raw_id_fields = ["referrer", "referrer_staff", "consultant", "won_vehicle", "won_customer", "recorded_by"]
    phone_fields = ("prospect_mobile",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ClubEvent)
class ClubEventAdmin(ScopedSimpleHistoryAdmin):
    """Read-only here, with its history: events are planned and edited on /club/events/ (the service
    keeps the waiting list moving when the capacity changes)."""

    list_display = ["title", "store", "kind", "starts_at", "capacity", "points_for_attending"]
    list_filter = ["store", "kind"]
    list_select_related = ["store"]
    search_fields = ["title"]
    raw_id_fields = ["segment", "created_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EventRegistration)
class EventRegistrationAdmin(ReadOnlyModelAdmin):
    """An event's list, scoped like the customers' cards; written by the event services only."""

    store_field = "event__store"
    list_display = ["event", "customer", "status", "source", "registered_at", "checked_in_at"]
    list_filter = ["status", "source"]
    list_select_related = ["event", "customer"]
    raw_id_fields = ["event", "customer", "points_entry", "updated_by"]
    show_full_result_count = False

    def scoped_queryset(self, request, queryset):
        visible = customer_queryset_for_user(request.user).values("pk")
        return super().scoped_queryset(request, queryset).filter(customer__in=visible)
