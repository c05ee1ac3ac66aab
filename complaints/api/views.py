from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from complaints import services
from complaints.api.serializers import (
    ComplaintActionSerializer,
    ComplaintCloseSerializer,
    ComplaintCreateSerializer,
    ComplaintReopenSerializer,
    ComplaintSerializer,
)
from complaints.selectors import LIST_RELATED, complaint_queryset_for_user

VIEW_ANY = ("complaints.view_complaint", "complaints.view_open_complaints")


class ComplaintPermission(BasePermission):
    """Agents create, managers work and close, advisors read the open ones of their store.
    Which complaints exist for the caller is decided by the scoped queryset (404 across stores)."""

    required = {
        "create": "complaints.add_complaint",
        "actions": "complaints.change_complaint",
        "close": "complaints.close_complaint",
        "reopen": "complaints.close_complaint",
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if not any(user.has_perm(permission) for permission in VIEW_ANY) and view.action != "create":
            return False
        permission = self.required.get(view.action)
        return permission is None or user.has_perm(permission)


class ComplaintViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Complaints of the caller's stores (advisors: only the open ones)."""

    permission_classes = [ComplaintPermission]
    serializer_class = ComplaintSerializer
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    filterset_fields = {
        "store": ["exact"],
        "customer": ["exact"],
        "status": ["exact"],
        "department": ["exact"],
        "channel": ["exact"],
        "received_at": ["gte", "lt"],
    }
    search_fields = ["customer__customer_no", "customer__name", "vehicle__plate_no"]
    ordering_fields = ["received_at", "close_due_at"]
    ordering = ["-received_at", "-id"]

    def get_queryset(self):
        return complaint_queryset_for_user(self.request.user).select_related(*LIST_RELATED)

    def _respond(self, complaint, status_code=status.HTTP_200_OK) -> Response:
        complaint = self.get_queryset().get(pk=complaint.pk)
        return Response(ComplaintSerializer(complaint, context=self.get_serializer_context()).data, status=status_code)

    @extend_schema(request=ComplaintCreateSerializer, responses={201: ComplaintSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ComplaintCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        complaint = services.complaint_create(
            actor=request.user,
            customer=data["customer"],
            store=data.get("store"),
            vehicle=data.get("vehicle"),
            channel=data["channel"],
            department=data["department"],
            complaint_type=data["complaint_type"],
            severity=data["severity"],
            description=data["description"],
            staff_concerned=data.get("staff_concerned"),
            staff_concerned_name=data["staff_concerned_name"],
            followup_task_id=data.get("followup_task_id"),
            attachments=request.FILES.getlist("attachments"),
        )
        return self._respond(complaint, status.HTTP_201_CREATED)

    @extend_schema(request=ComplaintActionSerializer, responses={201: ComplaintActionSerializer})
    @action(detail=True, methods=["post"])
    def actions(self, request, pk=None):
        complaint = self.get_object()
        serializer = ComplaintActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        entry = services.complaint_record_action(
            actor=request.user,
            complaint=complaint,
            kind=serializer.validated_data["kind"],
            note=serializer.validated_data.get("note", ""),
        )
        return Response(ComplaintActionSerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ComplaintCloseSerializer, responses={200: ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def close(self, request, pk=None):
        complaint = self.get_object()
        serializer = ComplaintCloseSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        complaint = services.complaint_close(actor=request.user, complaint=complaint, **serializer.validated_data)
        return self._respond(complaint)

    @extend_schema(request=ComplaintReopenSerializer, responses={200: ComplaintSerializer})
    @action(detail=True, methods=["post"])
    def reopen(self, request, pk=None):
        complaint = self.get_object()
        serializer = ComplaintReopenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        complaint = services.complaint_reopen(actor=request.user, complaint=complaint, **serializer.validated_data)
        return self._respond(complaint)
