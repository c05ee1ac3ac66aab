from django.urls import path

from clubs import difference_views

urlpatterns = []

# The DMS-differences report (clubs/difference_views.py).
urlpatterns += [path("differences/", difference_views.dms_differences, name="differences")]
