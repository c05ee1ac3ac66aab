"""Factories of complaints; customers, vehicles and staff come from tests/factories.py."""

import datetime

import factory
from django.utils import timezone

from complaints.choices import Channel, Department, Severity
from complaints.models import Complaint, ComplaintType, StoreComplaintSettings
from tests.factories import CustomerFactory, StoreFactory

SHANGHAI = datetime.timezone(datetime.timedelta(hours=8))


def local(year, month, day, hour=0, minute=0) -> datetime.datetime:
    """An aware instant in Asia/Shanghai (UTC+8, no daylight saving)."""
    return datetime.datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


class ComplaintTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ComplaintType
        django_get_or_create = ["name"]

    name = factory.Sequence(lambda n: f"类型{n}")


class StoreComplaintSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StoreComplaintSettings
        django_get_or_create = ["store"]

    store = factory.SubFactory(StoreFactory)


class ComplaintFactory(factory.django.DjangoModelFactory):
    """A complaint row as it is stored (no service: clocks given explicitly, default 1 h / 24 h)."""

    class Meta:
        model = Complaint

    customer = factory.SubFactory(CustomerFactory)
    store = factory.LazyAttribute(lambda complaint: complaint.customer.store)
    channel = Channel.PHONE
    department = Department.SERVICE
    complaint_type = factory.SubFactory(ComplaintTypeFactory, name="服务态度")
    severity = Severity.MEDIUM
    description = "保养后异响"
    received_at = factory.LazyFunction(timezone.now)
    response_due_at = factory.LazyAttribute(lambda complaint: complaint.received_at + datetime.timedelta(hours=1))
    close_due_at = factory.LazyAttribute(lambda complaint: complaint.received_at + datetime.timedelta(hours=24))
