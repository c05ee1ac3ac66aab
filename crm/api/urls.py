from rest_framework.routers import DefaultRouter

from crm.api.views import StoreViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("stores", StoreViewSet, basename="store")
urlpatterns = router.urls
