from rest_framework.routers import DefaultRouter

from clubs.api.views import ClubEventViewSet, MemberViewSet, ReferralViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("members", MemberViewSet, basename="member")
router.register("referrals", ReferralViewSet, basename="referral")
router.register("events", ClubEventViewSet, basename="club-event")
urlpatterns = router.urls
