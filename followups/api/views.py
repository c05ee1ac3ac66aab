"""SMS campaigns in the API: read them, create a draft, approve another manager's draft (four eyes).
Store-scoped like every list: another store's campaign is a 404; a refused rule is a 400 with its
message."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from followups.api.serializers import CampaignApprovalSerializer, CampaignCreateSerializer, CampaignSerializer
from followups.campaigns import campaign_approve, campaign_create, campaigns_for_user


class CampaignPermission(BasePermission):
    """Authenticated, active staff who may see campaigns; creating and approving need their own."""

    required = {
        "create": ["followups.view_campaign", "followups.add_campaign"],
        "approve": ["followups.view_campaign", "followups.approve_campaign"],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        return user.has_perms(self.required.get(view.action, ["followups.view_campaign"]))


class CampaignViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """营销短信 of the caller's stores."""

    permission_classes = [CampaignPermission]
    serializer_class = CampaignSerializer
    filterset_fields = {"store": ["exact"], "status": ["exact"], "kind": ["exact"]}
    search_fields = ["name"]
    ordering_fields = ["send_at", "created_at", "name"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self):
        return campaigns_for_user(user=self.request.user).select_related("store")

    @extend_schema(request=CampaignCreateSerializer, responses={201: CampaignSerializer})
    def create(self, request, *args, **kwargs):
        serializer = CampaignCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        campaign = campaign_create(user=request.user, **serializer.validated_data)
        return Response(
            self.get_serializer(self.get_queryset().get(pk=campaign.pk)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses={200: CampaignApprovalSerializer}, filters=False)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Approve another manager's draft: the recipients and the holdout are fixed and the messages
        queued for the send time (inside the SMS window)."""
        recipients, messages = campaign_approve(user=request.user, campaign=self.get_object())
        return Response({"recipients": recipients, "messages": messages})
