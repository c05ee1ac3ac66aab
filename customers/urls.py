from django.urls import path

from customers import appointment_urls, desk_views, interview_urls, prospect_views, retention_views, views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("lookup/", views.customer_phone_lookup, name="phone_lookup"),
    path("new/", desk_views.customer_create_view, name="create"),
    path("<int:pk>/vehicles/new/", desk_views.vehicle_create_view, name="vehicle_create"),
    path("desk/delivery/", desk_views.delivery_record_view, name="delivery_record"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/notes/", views.customer_note_create, name="note_add"),
    path("<int:pk>/consent/", views.customer_consent_record, name="consent_record"),
    path("<int:pk>/personal-data.json", views.customer_personal_data_download, name="personal_data"),
    path("<int:pk>/erase/", views.customer_erase, name="erase"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_create, name="segment_create"),
    path("segments/count/", views.segment_count, name="segment_count"),
    path("segments/<int:pk>/", views.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/edit/", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/export.<str:file_format>", views.segment_export, name="segment_export"),
    path(
        "segments/<int:pk>/export.<str:file_format>/request/",
        views.segment_export_request,
        name="segment_export_request",
    ),
    path("exports/<int:pk>/download/", views.export_request_download, name="export_request_download"),
]
urlpatterns += [
    path("imports/<int:pk>/progress/", views.import_progress, name="import_progress"),
    path("imports/<int:pk>/rejected.csv", views.import_errors_download, name="import_errors"),
]
urlpatterns += [
    path("retention/", retention_views.retention_dashboard_view, name="retention"),
    path("retention/customers/", retention_views.retention_customers_view, name="retention_customers"),
    path("satisfaction/", retention_views.satisfaction_trend_view, name="satisfaction"),
]
urlpatterns += interview_urls.urlpatterns
urlpatterns += [
    path("prospects/", prospect_views.prospect_list, name="prospect_list"),
    path("prospects/new/", prospect_views.prospect_create_view, name="prospect_create"),
    path("prospects/report/", prospect_views.prospect_report_view, name="prospect_report"),
    path("prospects/<int:pk>/", prospect_views.prospect_detail, name="prospect_detail"),
    path("prospects/<int:pk>/status/", prospect_views.prospect_status, name="prospect_status"),
    path("prospects/<int:pk>/assign/", prospect_views.prospect_assign_view, name="prospect_assign"),
    path("prospects/<int:pk>/dial/", prospect_views.prospect_dial, name="prospect_dial"),
]
urlpatterns += appointment_urls.urlpatterns
