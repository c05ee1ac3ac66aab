from django.urls import include, path

from followups import views

app_name = "followups"
urlpatterns = [
    path("queue/", views.queue, name="queue"),
    path("queue/next/", views.queue_next, name="queue_next"),
    path("queue/call/<int:customer_id>/", views.call, name="call"),
    path("queue/call/<int:customer_id>/outcome/", views.call_outcome, name="call_outcome"),
    path("queue/call/<int:customer_id>/release/", views.call_release, name="call_release"),
    path("queue/call/<int:customer_id>/dial/", views.call_dial, name="call_dial"),
    path("mine/", views.mine, name="mine"),
    path("mine/<int:customer_id>/open/", views.mine_open, name="mine_open"),
    path("rules/", views.rules, name="rules"),
    path("rules/<int:pk>/", views.rule_edit, name="rule_edit"),
    path("preview/", views.preview, name="preview"),
    path("preview/progress/", views.preview_progress, name="preview_progress"),
    path("preview/recount/", views.preview_recount, name="preview_recount"),
    path("reports/", views.reports, name="reports"),
    path("sms/", views.sms_list, name="sms"),
    path("sms/export-request/", views.sms_export_request, name="sms_export_request"),
    path("exports/<int:pk>/download/", views.export_request_download, name="export_request_download"),
    path("sms/inbound/", views.sms_inbound, name="sms_inbound"),
    path("sms/delivery/", views.sms_delivery, name="sms_delivery"),
    path("campaigns/", include("followups.campaign_urls")),
]
