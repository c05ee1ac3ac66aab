from django.urls import path

from crm import views

app_name = "crm"
urlpatterns = [
    path("audit/", views.audit_log, name="audit_log"),
    path("exports/", views.export_requests, name="export_requests"),
    path("exports/<int:pk>/decide/", views.export_request_decide, name="export_request_decide"),
]
