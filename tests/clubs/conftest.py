import datetime
import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from clubs.models import Membership
from crm.calendar import add_months
from tests.factories import CustomerFactory, VehicleFactory


def club_start_day() -> datetime.date:
    """S such that the opening lot (earned on S, valid 12 months) expires in about 20 days."""
    return add_months(timezone.localdate(), -12) + datetime.timedelta(days=20)


def start_club(store, day=None):
    day = day or club_start_day()
    call_command("club_start", "--store", store.code, "--date", day.isoformat(), stdout=io.StringIO())


@pytest.fixture
def member_a(store_a):
    customer = CustomerFactory(
        store=store_a, customer_no="CA0001", name="张伟", member_tier="金卡", points_balance=1200,
        birthday=datetime.date(1985, timezone.localdate().month, 1),
    )  # fmt: skip
    VehicleFactory(customer=customer, plate_no="苏A12345", delivery_date=club_start_day() - datetime.timedelta(days=90))
    start_club(store_a)
    return Membership.objects.get(customer=customer)


@pytest.fixture
def member_b(store_b):
    customer = CustomerFactory(store=store_b, customer_no="CB0001", name="李娜", member_tier="", points_balance=300)
    VehicleFactory(customer=customer, delivery_date=club_start_day() - datetime.timedelta(days=30))
    start_club(store_b)
    return Membership.objects.get(customer=customer)
