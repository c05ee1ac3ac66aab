"""Contacts of the domain apps for the "won back by" tests, made directly (the tests are about the
attribution, not about how a call or a message is recorded)."""

import datetime
import uuid
import zoneinfo

from clubs.models import ClubEvent, EventRegistration
from followups.models import Campaign, SmsMessage
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date


def at(day: datetime.date, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


def lost_owner(customer_no, *, store, returned_on=None, total="880.00", name="车主"):
    """An owner whose only visit is a delivery in 2020 (lost since), back with a repair order
    settled on ``returned_on`` when given."""
    customer = CustomerFactory(customer_no=customer_no, store=store, name=name)
    vehicle = VehicleFactory(customer=customer, store=store, delivery_date=D(2020, 1, 10))
    if returned_on:
        RepairOrderFactory(vehicle=vehicle, store=store, open_date=returned_on, settle_date=returned_on,
                           total_amount=total)  # fmt: skip
    return customer


def call(customer, when, *, agent=None, outcome="reached", code="lost_customer"):
    task = FollowupTaskFactory(store=customer.store, customer=customer, code=code, rule_date=when.date())
    return CallAttemptFactory(task=task, customer=customer, agent=agent, at=when, outcome=outcome)


def sms(customer, when, *, code="maintenance_due", campaign=None, delivered=True):
    return SmsMessage.objects.create(
        idempotency_key=uuid.uuid4().hex, store=customer.store, customer=customer, code=code, mobile="13800001111",
        body="您好", send_date=when.date(), status="sent", sent_at=when, campaign=campaign,
        delivery_status="delivered" if delivered else "undelivered",
    )  # fmt: skip


def campaign(store, name="春季保养季"):
    return Campaign.objects.create(store=store, name=name, template="{name}您好", send_at=at(D(2026, 3, 1)))


def attended(customer, when):
    event = ClubEvent.objects.create(
        store=customer.store, title="保养讲座", starts_at=when, ends_at=when + datetime.timedelta(hours=2),
        place="二楼", capacity=10,
    )  # fmt: skip
    return EventRegistration.objects.create(
        event=event, customer=customer, status="attended", source="door", checked_in_at=when
    )
