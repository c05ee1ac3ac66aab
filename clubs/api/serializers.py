from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clubs.choices import TIER_NAMES, EventKind, Tier
from clubs.models import ClubEvent, EventRegistration, Membership, PointsEntry, Referral, WalletEntry
from clubs.selectors import referral_staff_choices
from clubs.services import MAX_POINTS_PER_ENTRY
from crm.api.serializers import CrmModelSerializer
from crm.models import Store, User
from crm.scoping import stores_for_user
from customers.api.serializers import MaskedPhoneField
from customers.models import Customer, Segment
from customers.selectors import customer_queryset_for_user, segment_queryset_for_user


class MemberSerializer(CrmModelSerializer):
    """A member as a list shows it: card, tier, discount and balances (points expiring in 30 days)."""

    customer_no = serializers.CharField(source="customer.customer_no", read_only=True)
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    store_code = serializers.CharField(source="store.code", read_only=True)
    tier_label = serializers.CharField(source="get_tier_display", read_only=True)
    tier_name = serializers.SerializerMethodField()
    labour_discount = serializers.DecimalField(
        max_digits=3,
        decimal_places=2,
        read_only=True,
        allow_null=True,
        help_text="The share of the labour price the member pays: 0.95 is 9.5折, 0.70 is 7折.",
    )
    points_expiring = serializers.IntegerField(read_only=True, help_text="Points of lots expiring in the next 30 days.")

    class Meta:
        model = Membership
        fields = [
            "id",
            "card_no",
            "customer",
            "customer_no",
            "customer_name",
            "store",
            "store_code",
            "joined_on",
            "tier",
            "tier_label",
            "tier_name",
            "labour_discount",
            "points_balance",
            "points_expiring",
            "wallet_balance",
            "credit_card_bank",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(help_text="The tier's Chinese name (普通, 银卡, 金卡, 钻石, 终身VIP)."))
    def get_tier_name(self, membership: Membership) -> str:
        return TIER_NAMES[Tier(membership.tier)]


class MemberDetailSerializer(MemberSerializer):
    """A member's standing (clubs.selectors.member_standing): also the benefits and the badges."""

    benefits = serializers.CharField(read_only=True)
    is_birthday_month = serializers.BooleanField(read_only=True, help_text="Birthday-month labour at 5折.")
    is_vip = serializers.BooleanField(read_only=True)

    class Meta(MemberSerializer.Meta):
        fields = [*MemberSerializer.Meta.fields, "benefits", "is_birthday_month", "is_vip"]
        read_only_fields = fields


class PointsEntrySerializer(CrmModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = PointsEntry
        fields = [
            "id",
            "on",
            "kind",
            "kind_label",
            "points",
            "expires_on",
            "repair_order",
            "reference",
            "note",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class WalletEntrySerializer(CrmModelSerializer):
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)

    class Meta:
        model = WalletEntry
        fields = [
            "id",
            "kind",
            "kind_label",
            "amount",
            "balance_after",
            "reference",
            "repair_order",
            "note",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class RedemptionSerializer(serializers.Serializer):
    points = serializers.IntegerField(min_value=1, max_value=MAX_POINTS_PER_ENTRY)
    reference = serializers.CharField(
        max_length=80, help_text=("The voucher or order number; the same reference never redeems twice.")
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class WalletAmountSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reference = serializers.CharField(
        max_length=80,
        help_text=("The payment reference, repair order or receipt; the same reference never pays twice."),
    )
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReferralSerializer(CrmModelSerializer):
    store_code = serializers.CharField(source="store.code", read_only=True)
    referrer_customer_no = serializers.CharField(
        source="referrer.customer_no", read_only=True, allow_null=True, default=None
    )
    referrer_name = serializers.CharField(source="referrer.name", read_only=True, allow_null=True, default=None)
    prospect_mobile = MaskedPhoneField()

    def to_representation(self, referral: Referral) -> dict:
        data = super().to_representation(referral)
        # A 绝密 or 机密 referrer's name and number are not shown to the rest of the store.
        if referral.referrer_id and referral.referrer_id not in self.context.get("visible_referrers", ()):
            data["referrer_customer_no"] = data["referrer_name"] = None
        return data

    class Meta:
        model = Referral
        fields = [
            "id",
            "store",
            "store_code",
            "referrer",
            "referrer_customer_no",
            "referrer_name",
            "referrer_staff",
            "prospect_name",
            "prospect_mobile",
            "intended_model",
            "referred_on",
            "consultant",
            "stage",
            "lost_reason",
            "won_vehicle",
            "won_customer",
            "won_on",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


class ReferralCreateSerializer(serializers.Serializer):
    """A referral by a customer (``referrer``, earns points when the prospect buys) or by a member of
    staff (``referrer_staff``, no points): exactly one of the two. A staff referral goes to ``store``,
    or to the one store of the caller's where the referring member of staff works."""

    referrer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.none(), required=False, allow_null=True)
    referrer_staff = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), required=False, allow_null=True)
    prospect_name = serializers.CharField(max_length=100)
    prospect_mobile = serializers.CharField(max_length=30, help_text=("A mainland mobile number."))
    intended_model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    consultant = serializers.PrimaryKeyRelatedField(queryset=User.objects.none(), required=False, allow_null=True)
    store = serializers.PrimaryKeyRelatedField(queryset=Store.objects.none(), required=False, allow_null=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")  # absent when the OpenAPI schema is generated
        if request is not None:
            self.fields["referrer"].queryset = customer_queryset_for_user(request.user)
            self.fields["referrer_staff"].queryset = referral_staff_choices(request.user)
            self.fields["consultant"].queryset = referral_staff_choices(request.user)
            self.fields["store"].queryset = stores_for_user(request.user)


# --- club events ---------------------------------------------------------------------------------


class ClubEventSerializer(CrmModelSerializer):
    """A club event with how full it is (places taken, waiting)."""

    store_code = serializers.CharField(source="store.code", read_only=True)
    places_taken = serializers.IntegerField(read_only=True, default=None)
    waiting = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = ClubEvent
        fields = [
            "id", "store", "store_code", "title", "kind", "starts_at", "ends_at", "place", "capacity", "segment",
            "points_for_attending", "invitation_template", "places_taken", "waiting", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


class ClubEventCreateSerializer(serializers.Serializer):
    """A new event of one of the caller's stores (``segment`` is invited by SMS 7 days before)."""

    store = serializers.PrimaryKeyRelatedField(queryset=Store.objects.none())
    title = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=EventKind.choices)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()
    place = serializers.CharField(max_length=200)
    capacity = serializers.IntegerField(min_value=1, max_value=100_000)
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.none(), required=False, allow_null=True)
    points_for_attending = serializers.IntegerField(min_value=0, max_value=MAX_POINTS_PER_ENTRY, default=0)
    invitation_template = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")  # absent when the OpenAPI schema is generated
        if request is not None:
            self.fields["store"].queryset = stores_for_user(request.user)
            self.fields["segment"].queryset = segment_queryset_for_user(request.user)


class EventRegistrationSerializer(CrmModelSerializer):
    customer_no = serializers.CharField(source="customer.customer_no", read_only=True)

    class Meta:
        model = EventRegistration
        fields = [
            "id", "event", "customer", "customer_no", "status", "source", "invited_at", "registered_at",
            "cancelled_at", "checked_in_at",
        ]  # fmt: skip
        read_only_fields = fields


class EventRegistrationCreateSerializer(serializers.Serializer):
    """Register a customer of the event's store (a place while there is one, else the waiting list)."""

    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.objects.none())
    source = serializers.ChoiceField(choices=[("phone", "phone"), ("desk", "desk")], default="phone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["customer"].queryset = customer_queryset_for_user(request.user)
