from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

from crm.api.views import ApiNotFoundView

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("token/", obtain_auth_token, name="api-token"),
    path("", include("crm.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("complaints.api.urls")),
    # Last: a path no operation matches (an id that is not a number…) is a JSON 404 like the API's.
    # Only paths ending in a slash, so a missing slash is still redirected by APPEND_SLASH.
    re_path(r"^.*/\Z", ApiNotFoundView.as_view(), name="api-not-found"),
]
