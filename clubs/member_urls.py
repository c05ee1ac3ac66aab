from django.urls import path

from clubs import difference_views, views

urlpatterns = [
    path("", views.member_list, name="members"),
    path("members/<int:pk>/", views.member_detail, name="member"),
    path("members/<int:pk>/redeem/", views.member_redeem, name="redeem"),
    path("members/<int:pk>/top-up/", views.member_top_up, name="top_up"),
    path("members/<int:pk>/spend/", views.member_spend, name="spend"),
    path("members/<int:pk>/adjust/", views.member_adjust, name="adjust"),
    path("members/<int:pk>/tier/", views.member_tier_set, name="tier"),
    path("members/<int:pk>/lifetime-fee/", views.member_lifetime_fee, name="lifetime_fee"),
    path("settings/", views.club_settings, name="settings"),
    path("settings/<int:store_pk>/", views.club_settings_store, name="store_settings"),
    path("settings/<int:store_pk>/start/", views.club_start, name="start"),
    path("settings/<int:store_pk>/rules/", views.club_rules_update, name="rules"),
    path("settings/<int:store_pk>/tiers/<int:tier>/", views.tier_rule_update, name="tier_rule"),
    # The DMS-differences report (clubs/difference_views.py).
    path("differences/", difference_views.dms_differences, name="differences"),
]
