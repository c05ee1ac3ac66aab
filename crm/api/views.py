from rest_framework import exceptions, viewsets
from rest_framework.views import APIView

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


class ApiNotFoundView(APIView):
    """Any path under /api/ that names no operation (``/api/customers/abc/``): a JSON 404 like the
    API's own, never the site's HTML page."""

    authentication_classes = []
    permission_classes = []
    schema = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound()
