from django.urls import path

from clubs import event_views

# Mounted at /club/events/ in the "clubs" namespace (clubs/urls.py).
urlpatterns = [
    path("", event_views.event_list, name="event_list"),
    path("new/", event_views.event_create, name="event_create"),
    path("<int:pk>/", event_views.event_detail, name="event_detail"),
    path("<int:pk>/edit/", event_views.event_edit, name="event_edit"),
    path("<int:pk>/registrations/", event_views.event_registration_add, name="event_registration_add"),
    path(
        "<int:pk>/registrations/<int:registration_pk>/cancel/",
        event_views.event_registration_cancel,
        name="event_registration_cancel",
    ),
    path("<int:pk>/door/", event_views.event_door, name="event_door"),
    path("<int:pk>/door/check-in/", event_views.event_check_in, name="event_check_in"),
    path("<int:pk>/report/", event_views.event_report, name="event_report"),
]
