from django.urls import path

from complaints import views

app_name = "complaints"
urlpatterns = [
    path("", views.complaint_list, name="list"),
    path("new/", views.complaint_create, name="create"),
    path("dashboard/", views.complaint_dashboard, name="dashboard"),
    path("export/", views.complaint_export, name="export"),
    path("export/request/", views.complaint_export_request, name="export_request"),
    path("exports/<int:pk>/download/", views.export_request_download, name="export_request_download"),
    path("<int:pk>/", views.complaint_detail, name="detail"),
    path("<int:pk>/actions/", views.complaint_action, name="action"),
    path("<int:pk>/close/", views.complaint_close, name="close"),
    path("<int:pk>/department/", views.complaint_department, name="department"),
    path("<int:pk>/reopen/", views.complaint_reopen, name="reopen"),
    path("<int:pk>/attachments/", views.complaint_attachment_add, name="attachment_add"),
    path("<int:pk>/attachments/<int:attachment_pk>/", views.complaint_attachment_download, name="attachment"),
]
