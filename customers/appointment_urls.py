from django.urls import path

from customers import appointment_views

urlpatterns = [
    path("<int:pk>/appointments/new/", appointment_views.appointment_book_view, name="appointment_book"),
    path("appointments/<int:pk>/cancel/", appointment_views.appointment_cancel_view, name="appointment_cancel"),
    path("arrivals/", appointment_views.arrivals_view, name="arrivals"),
    path("arrivals/<int:pk>/check-in/", appointment_views.arrival_check_in_view, name="arrival_check_in"),
    path("arrivals/walk-ins/", appointment_views.walk_in_view, name="walk_in"),
    path("appointments/settings/", appointment_views.appointment_settings_view, name="appointment_settings"),
    path("appointments/report/", appointment_views.appointment_report_view, name="appointment_report"),
]
