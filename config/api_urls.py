from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from crm.api.views import ApiNotFoundView, TokenView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("token/", TokenView.as_view(), name="api-token"),
    path("", include("crm.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("complaints.api.urls")),
    path("", include("clubs.api.urls")),
    path("", include("followups.api.urls")),
    # Last: a path no operation matches (an id that is not a number…) is a JSON 404 like the API's.
    # Only paths ending in a slash, so a missing slash is still redirected by APPEND_SLASH.
    re_path(r"^.*/\Z", ApiNotFoundView.as_view(), name="api-not-found"),
]
