"""The club's part of a delivery at the sales desk (customers.deliveries): the buyer joins at once
(the card the DMS gave, else the next one the CRM issues, as the nightly run does for DMS
deliveries), and the referrer the buyer named gets a referral that the nightly run wins."""

import logging

from clubs.services import membership_join, referral_record_at_delivery
from crm.exceptions import ApplicationError
from crm.models import User
from customers.deliveries import DeliveryRecorded
from customers.models import Customer, Vehicle

logger = logging.getLogger(__name__)


def join_at_delivery(event: DeliveryRecorded) -> None:
    """The buyer becomes a member on the delivery day; nothing while the store's club has not started
    (the nightly run joins them once it has)."""
    customer = Customer.objects.select_related("store").get(pk=event.customer_id)
    user = User.objects.filter(pk=event.recorded_by_id).first() if event.recorded_by_id else None
    try:
        membership_join(customer=customer, on=event.delivered_on, user=user)
    except ApplicationError:
        logger.info("club of store %s not started: customer %s joins later", event.store_id, event.customer_id)


def referral_at_delivery(event: DeliveryRecorded) -> None:
    """The referral the buyer named (a customer or a member of staff), dated the delivery day."""
    if event.referrer_customer_id is None and event.referrer_staff_id is None:
        return
    buyer = Customer.objects.get(pk=event.customer_id)
    vehicle = Vehicle.objects.get(pk=event.vehicle_id)
    referral_record_at_delivery(
        user=User.objects.filter(pk=event.recorded_by_id).first() if event.recorded_by_id else None,
        buyer=buyer,
        vehicle=vehicle,
        referrer=Customer.objects.filter(pk=event.referrer_customer_id).first() if event.referrer_customer_id else None,
        referrer_staff=User.objects.filter(pk=event.referrer_staff_id).first() if event.referrer_staff_id else None,
        delivered_on=event.delivered_on,
        consultant=User.objects.filter(pk=event.consultant_id).first(),
    )
