from django.urls import path

from followups import campaign_views

# Mounted at /followups/campaigns/ in the "followups" namespace (followups/urls.py).
urlpatterns = [
    path("", campaign_views.campaign_list, name="campaign_list"),
    path("new/", campaign_views.campaign_create, name="campaign_create"),
    path("count/", campaign_views.campaign_count, name="campaign_count"),
    path("care/", campaign_views.quick_care, name="quick_care"),
    path("<int:pk>/", campaign_views.campaign_detail, name="campaign_detail"),
    path("<int:pk>/edit/", campaign_views.campaign_edit, name="campaign_edit"),
    path("<int:pk>/test/", campaign_views.campaign_test, name="campaign_test"),
    path("<int:pk>/approve/", campaign_views.campaign_approve, name="campaign_approve"),
    path("<int:pk>/cancel/", campaign_views.campaign_cancel, name="campaign_cancel"),
    path("<int:pk>/report/", campaign_views.campaign_report, name="campaign_report"),
]
