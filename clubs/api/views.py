"""The club's REST endpoints: members (read), their ledger and wallet (read), the desk's
redemptions, top-ups and spends (write, idempotent by reference), and referrals.

Every member is fetched through the caller's scoped queryset: another store's member is a 404. A
write sent again with the same reference answers 200 with the entry of the first call and changes
nothing; the same reference with another amount is a 409; a refused rule is a 400 with its message."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from clubs import services
from clubs.api.filters import MemberFilter
from clubs.api.serializers import (
    ClubEventCreateSerializer,
    ClubEventSerializer,
    EventRegistrationCreateSerializer,
    EventRegistrationSerializer,
    MemberDetailSerializer,
    MemberSerializer,
    PointsEntrySerializer,
    RedemptionSerializer,
    ReferralCreateSerializer,
    ReferralSerializer,
    WalletAmountSerializer,
    WalletEntrySerializer,
)
from clubs.selectors import (
    event_list_for_user,
    event_registrations,
    member_ledger,
    member_standing,
    membership_list_for_user,
    membership_wallet,
    referral_queryset_for_user,
    referrers_visible_to,
)
from crm.api.schema import ErrorSerializer
from crm.masking import phone_reveal_record


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("The reference was already used for something else.")
    default_code = "conflict"


class ActionPermission(BasePermission):
    """Authenticated, active staff holding every permission the view lists for the action
    (``required_permissions``; an action not listed needs those of ``default``)."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        required = view.required_permissions.get(view.action, view.required_permissions["default"])
        return user.has_perms(required)


VIEW_MEMBERS = ["clubs.view_membership"]


def _write_responses(entry_serializer) -> dict:
    return {
        201: OpenApiResponse(entry_serializer, description="Done: the new entry."),
        200: OpenApiResponse(
            entry_serializer, description="The reference was used before for the same amount: the first entry."
        ),
        409: OpenApiResponse(ErrorSerializer, description="The reference was used before for another amount."),
    }


class MemberViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Club members of the caller's stores: tier, labour discount, points and stored value."""

    permission_classes = [ActionPermission]
    required_permissions = {
        "default": VIEW_MEMBERS,
        "redemptions": [*VIEW_MEMBERS, "clubs.redeem_points"],
        "top_ups": [*VIEW_MEMBERS, "clubs.top_up_wallet"],
        "spends": [*VIEW_MEMBERS, "clubs.top_up_wallet"],
    }
    serializer_class = MemberSerializer
    filterset_class = MemberFilter
    search_fields = ["card_no", "customer__customer_no"]
    ordering_fields = ["card_no", "joined_on", "points_balance", "wallet_balance"]
    ordering = ["card_no", "id"]

    def get_queryset(self):
        return membership_list_for_user(self.request.user)

    @extend_schema(responses={200: MemberDetailSerializer})
    def retrieve(self, request, *args, **kwargs):
        member = self.get_object()
        standing = member_standing(membership=member)
        member.points_expiring = standing.points_expiring
        member.labour_discount = standing.labour_discount
        member.benefits = standing.benefits
        member.is_birthday_month = standing.is_birthday_month
        member.is_vip = standing.is_vip
        return Response(MemberDetailSerializer(member, context=self.get_serializer_context()).data)

    def _page(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @extend_schema(responses=PointsEntrySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def ledger(self, request, pk=None):
        """The member's points ledger, newest first."""
        return self._page(member_ledger(membership=self.get_object()), PointsEntrySerializer)

    @extend_schema(responses=WalletEntrySerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def wallet(self, request, pk=None):
        """The member's stored-value top-ups and spends, newest first."""
        return self._page(membership_wallet(membership=self.get_object()), WalletEntrySerializer)

    def _write(self, request, service, input_serializer, output_serializer, *, quantity: str) -> Response:
        """Validate, call the one service, answer 201 for a new entry and 200 for a replay."""
        member = self.get_object()
        serializer = input_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            entry, created = service(
                membership=member, reference=data["reference"], note=data["note"], user=request.user,
                **{quantity: data[quantity]},
            )  # fmt: skip
        except services.ReferenceReused as error:
            raise Conflict(error.message) from None
        answer = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(output_serializer(entry).data, status=answer)

    @extend_schema(
        request=RedemptionSerializer,
        responses=_write_responses(PointsEntrySerializer),
        filters=False,
    )
    @action(detail=True, methods=["post"])
    def redemptions(self, request, pk=None):
        """Redeem points at the desk (oldest lots first); refused beyond the points available today."""
        return self._write(
            request, services.points_redeem_by_reference, RedemptionSerializer, PointsEntrySerializer, quantity="points"
        )

    @extend_schema(
        request=WalletAmountSerializer,
        responses=_write_responses(WalletEntrySerializer),
        filters=False,
    )
    @action(detail=True, methods=["post"], url_path="top-ups")
    def top_ups(self, request, pk=None):
        """A stored-value top-up; one at or above the store's threshold makes the member 钻石."""
        return self._write(
            request,
            services.wallet_top_up_by_reference,
            WalletAmountSerializer,
            WalletEntrySerializer,
            quantity="amount",
        )

    @extend_schema(
        request=WalletAmountSerializer,
        responses=_write_responses(WalletEntrySerializer),
        filters=False,
    )
    @action(detail=True, methods=["post"])
    def spends(self, request, pk=None):
        """Pay from the stored value; refused beyond the balance."""
        return self._write(
            request,
            services.wallet_spend_by_reference,
            WalletAmountSerializer,
            WalletEntrySerializer,
            quantity="amount",
        )


class ReferralViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """保客转介绍 of the caller's stores: prospects referred by a customer or by a member of staff."""

    permission_classes = [ActionPermission]
    required_permissions = {
        "default": ["clubs.view_referral"],
        "create": ["clubs.view_referral", "clubs.add_referral"],
    }
    serializer_class = ReferralSerializer
    filterset_fields = {
        "store": ["exact"],
        "stage": ["exact"],
        "referrer": ["exact"],
        "consultant": ["exact"],
        "referred_on": ["gte", "lte"],
    }
    search_fields = ["prospect_name", "referrer__customer_no", "intended_model"]
    ordering_fields = ["referred_on", "prospect_name"]
    ordering = ["-referred_on", "-id"]

    def get_queryset(self):
        return referral_queryset_for_user(self.request.user).select_related("store", "referrer")

    def get_serializer(self, *args, **kwargs):
        # Which referrers' cards the caller may see, for the referrals answered (one query).
        answered = args[0] if args else kwargs.get("instance")
        referrals = [row for row in (answered if kwargs.get("many") else [answered]) if row is not None]
        visible = referrers_visible_to(user=self.request.user, referrals=referrals) if referrals else set()
        kwargs["context"] = {**self.get_serializer_context(), "visible_referrers": visible}
        return self.get_serializer_class()(*args, **kwargs)

    @extend_schema(request=ReferralCreateSerializer, responses={201: ReferralSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ReferralCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = {name: value for name, value in serializer.validated_data.items() if name != "store" or value}
        referral = services.referral_record(user=request.user, **data)
        referral = self.get_queryset().get(pk=referral.pk)
        return Response(self.get_serializer(referral).data, status=status.HTTP_201_CREATED)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code in (200, 201) and isinstance(response.data, dict):
            rows = response.data.get("results", [response.data] if "id" in response.data else [])
            # Whole prospects' numbers shown (only to staff who may see them): one audit row.
            phone_reveal_record(
                user=request.user,
                object_ids=[row["id"] for row in rows if row.get("prospect_mobile")],
                path=request.path,
                object_type="clubs.referral",
                via="api",
            )
        return response


class ClubEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Club events (车友会活动) of the caller's stores, how full they are, and their registrations."""

    permission_classes = [ActionPermission]
    required_permissions = {
        "default": ["clubs.view_clubevent"],
        "create": ["clubs.view_clubevent", "clubs.add_clubevent"],
        "registrations": ["clubs.view_clubevent", "clubs.view_eventregistration"],
        "register": ["clubs.view_clubevent", "clubs.add_eventregistration"],
    }
    serializer_class = ClubEventSerializer
    filterset_fields = {"store": ["exact"], "kind": ["exact"], "starts_at": ["gte", "lte"]}
    search_fields = ["title", "place"]
    ordering_fields = ["starts_at", "title"]
    ordering = ["-starts_at", "-id"]

    def get_queryset(self):
        return event_list_for_user(user=self.request.user, when="all")

    @extend_schema(request=ClubEventCreateSerializer, responses={201: ClubEventSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ClubEventCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        event = services.event_create(user=request.user, **serializer.validated_data)
        return Response(self.get_serializer(self.get_queryset().get(pk=event.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses=EventRegistrationSerializer(many=True), filters=False)
    @action(detail=True, methods=["get"])
    def registrations(self, request, pk=None):
        """The event's list (invited, registered, waiting, cancelled, attended), in the order people asked."""
        event = self.get_object()
        page = self.paginate_queryset(event_registrations(user=request.user, event=event))
        return self.get_paginated_response(EventRegistrationSerializer(page, many=True).data)

    @extend_schema(request=EventRegistrationCreateSerializer, responses={201: EventRegistrationSerializer},
                   filters=False)  # fmt: skip
    @registrations.mapping.post
    def register(self, request, pk=None):
        """Register a customer: a place while there is one, else the waiting list."""
        event = self.get_object()
        serializer = EventRegistrationCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        registration = services.event_register(user=request.user, event=event, **serializer.validated_data)
        return Response(EventRegistrationSerializer(registration).data, status=status.HTTP_201_CREATED)
