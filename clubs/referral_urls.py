from django.urls import path

from clubs import referral_views

# Mounted at /club/referrals/ in the "clubs" namespace (clubs/urls.py).
urlpatterns = [
    path("", referral_views.referral_list, name="referral_list"),
    path("new/", referral_views.referral_create, name="referral_create"),
    path("report/", referral_views.referral_report, name="referral_report"),
    path("<int:pk>/stage/", referral_views.referral_stage, name="referral_stage"),
    path("<int:pk>/assign/", referral_views.referral_assign, name="referral_assign"),
    path("<int:pk>/dial/", referral_views.referral_dial, name="referral_dial"),
]
