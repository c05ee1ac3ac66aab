from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from crm import views as crm_views

urlpatterns = [
    path("", crm_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/verify/", crm_views.mfa_verify, name="mfa_verify"),
    path("accounts/verify/setup/", crm_views.mfa_enrol, name="mfa_enrol"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("config.api_urls")),
    path("customers/", include("customers.urls")),
    path("followups/", include("followups.urls")),
    path("complaints/", include("complaints.urls")),
    path("club/", include("clubs.urls")),
    path("crm/", include("crm.urls")),
    path("healthz", crm_views.healthz, name="healthz"),
    # Uploads, with DEBUG on or off: only to users the owning app lets read them (crm/files.py).
    path(f"{settings.MEDIA_URL.strip('/')}/<path:name>", crm_views.media_file, name="media_file"),
]
