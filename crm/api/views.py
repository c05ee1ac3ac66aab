from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, viewsets
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.authentication import TokenRequestSerializer, token_issue
from crm.api.schema import ErrorSerializer
from crm.api.serializers import StoreSerializer
from crm.scoping import stores_for_user
from crm.views import login_locked_out


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(read_only=True)


class StoreViewSet(viewsets.ReadOnlyModelViewSet):
    """The stores the caller works in (every store for staff granted the dealer group)."""

    serializer_class = StoreSerializer
    search_fields = ["code", "name", "brand"]
    filterset_fields = ["brand", "is_active"]
    ordering_fields = ["code", "name"]

    def get_queryset(self):
        return stores_for_user(self.request.user).order_by("code")


class TokenView(ObtainAuthToken):
    """Exchange a username and password (and, for managers and administrators, the current code of
    their authenticator app) for an API token that expires after ``API_TOKEN_TTL_HOURS``. Repeated
    failures lock the username out of this endpoint like the login page (429)."""

    serializer_class = TokenRequestSerializer
    authentication_classes = []
    throttle_classes = []

    @extend_schema(
        request=TokenRequestSerializer,
        auth=[],
        responses={
            200: TokenResponseSerializer,
            400: OpenApiResponse(description="Wrong username, password or authenticator code (per field)."),
            429: OpenApiResponse(ErrorSerializer, description="Locked out after repeated failures, or too many tries."),
        },
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            if getattr(request, "axes_locked_out", False) or getattr(request._request, "axes_locked_out", False):
                request._request.axes_locked_out = False  # answered here, not again by AxesMiddleware
                return login_locked_out(request._request)
            raise ValidationError(serializer.errors)
        token = token_issue(user=serializer.validated_data["user"])
        return Response({"token": token.key})


class ApiNotFoundView(APIView):
    """Any path under /api/ that names no operation (``/api/customers/abc/``): a JSON 404 like the
    API's own, never the site's HTML page."""

    authentication_classes = []
    permission_classes = []
    schema = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        raise exceptions.NotFound()
