"""The delivery interview's pages, inside the customers namespace (customers/urls.py adds them)."""

from django.urls import path

from customers import interview_views

urlpatterns = [
    path("vehicles/<int:pk>/interview/", interview_views.delivery_interview_view, name="delivery-interview"),
    path("interviews/", interview_views.delivery_interview_list_view, name="delivery-interview-list"),
    path("interviews/<int:pk>/", interview_views.delivery_interview_detail, name="delivery-interview-detail"),
    path("interviews/factors/", interview_views.interview_factors_view, name="interview-factors"),
]
