from rest_framework import viewsets

from crm.api.serializers import StoreSerializer
from crm.scoping import stores_for_user


class StoreViewSet(viewsets.ReadOnlyModelViewSet):
    """The stores the caller works in (every store for staff granted the dealer group)."""

    serializer_class = StoreSerializer
    search_fields = ["code", "name", "brand"]
    filterset_fields = ["brand", "is_active"]
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        return stores_for_user(self.request.user).order_by("code")
