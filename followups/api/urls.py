from rest_framework.routers import DefaultRouter

from followups.api.views import CampaignViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("campaigns", CampaignViewSet, basename="campaign")
urlpatterns = router.urls
