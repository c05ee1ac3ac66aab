from rest_framework.routers import DefaultRouter

from complaints.api.views import ComplaintViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("complaints", ComplaintViewSet, basename="complaint")
urlpatterns = router.urls
