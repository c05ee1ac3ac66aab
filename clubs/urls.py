from django.urls import include, path

app_name = "clubs"
# The members' pages and the desk (clubs/views.py) and the referrals (clubs/referral_views.py).
urlpatterns = [
    path("", include("clubs.member_urls")),
    path("referrals/", include("clubs.referral_urls")),
    path("events/", include("clubs.event_urls")),
]
