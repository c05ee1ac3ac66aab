from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.authtoken.views import obtain_auth_token

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("token/", obtain_auth_token, name="api-token"),
    path("", include("crm.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("complaints.api.urls")),
]
