"""The appointments API: list by day and store (scoped), book, cancel, check in."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from customers.api.appointment_serializers import (
    AppointmentCancelSerializer,
    AppointmentCreateSerializer,
    AppointmentSerializer,
)
from customers.selectors.appointments import LIST_RELATED, appointment_queryset_for_user
from customers.services.appointments import appointment_book, appointment_cancel, appointment_check_in


class AppointmentPermission(BasePermission):
    """Reading needs view_appointment; booking add_, cancelling change_, checking in check_in_appointment.
    Which appointments exist for the caller is decided by the scoped queryset (404 across stores)."""

    required = {
        "list": "customers.view_appointment",
        "retrieve": "customers.view_appointment",
        "create": "customers.add_appointment",
        "cancel": "customers.change_appointment",
        "check_in": "customers.check_in_appointment",
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        permission = self.required.get(view.action, "customers.view_appointment")
        return user.has_perm(permission)


class AppointmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Appointments of the caller's stores."""

    permission_classes = [AppointmentPermission]
    serializer_class = AppointmentSerializer
    filterset_fields = {
        "store": ["exact"],
        "customer": ["exact"],
        "vehicle": ["exact"],
        "status": ["exact"],
        "advisor": ["exact"],
        "date": ["exact", "gte", "lte"],
    }
    search_fields = ["customer__customer_no", "customer__name", "vehicle__plate_no"]
    ordering_fields = ["date", "slot", "created_at"]
    ordering = ["date", "slot", "-is_vip", "id"]

    def get_queryset(self):
        return appointment_queryset_for_user(self.request.user).select_related(*LIST_RELATED)

    def _respond(self, appointment, status_code=status.HTTP_200_OK) -> Response:
        appointment = self.get_queryset().get(pk=appointment.pk)
        return Response(
            AppointmentSerializer(appointment, context=self.get_serializer_context()).data, status=status_code
        )

    @extend_schema(request=AppointmentCreateSerializer, responses={201: AppointmentSerializer})
    def create(self, request, *args, **kwargs):
        serializer = AppointmentCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        appointment = appointment_book(
            user=request.user,
            customer=data["customer"],
            vehicle=data["vehicle"],
            date=data["date"],
            slot=data["slot"],
            purpose=data["purpose"],
            advisor=data.get("advisor"),
            source=data["source"],
            source_reference=data["source_reference"],
            notes=data["notes"],
        )
        return self._respond(appointment, status.HTTP_201_CREATED)

    @extend_schema(request=AppointmentCancelSerializer, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        appointment = self.get_object()
        serializer = AppointmentCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        appointment = appointment_cancel(user=request.user, appointment=appointment, **serializer.validated_data)
        return self._respond(appointment)

    @extend_schema(request=None, responses={200: AppointmentSerializer})
    @action(detail=True, methods=["post"], url_path="check-in")
    def check_in(self, request, pk=None):
        appointment = appointment_check_in(user=request.user, appointment=self.get_object())
        return self._respond(appointment)
