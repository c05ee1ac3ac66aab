from rest_framework.routers import DefaultRouter

from customers.api.appointment_views import AppointmentViewSet
from customers.api.views import CustomerViewSet, RepairOrderViewSet, VehicleViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("customers", CustomerViewSet, basename="customer")
router.register("vehicles", VehicleViewSet, basename="vehicle")
router.register("repair-orders", RepairOrderViewSet, basename="repair-order")
router.register("appointments", AppointmentViewSet, basename="appointment")
urlpatterns = router.urls
