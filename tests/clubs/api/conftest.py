"""Started clubs in stores A and B, frozen on 10 December 2026, for the club's API tests."""

import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command

from clubs.models import Membership
from tests.factories import CustomerFactory, VehicleFactory

S = datetime.date(2026, 1, 1)
NOW = datetime.datetime(2026, 12, 10, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def club_start(store, day: datetime.date = S) -> None:
    call_command("club_start", "--store", store.code, "--date", day.isoformat(), stdout=io.StringIO())


def owner(store, customer_no: str, **fields):
    """A customer with a car delivered before S: a member once the store's club starts."""
    customer = CustomerFactory(store=store, customer_no=customer_no, **fields)
    VehicleFactory(customer=customer, delivery_date=datetime.date(2025, 6, 1))
    return customer


@pytest.fixture
def member_a(store_a):
    """李娜 of store A: 金卡 with 1,200 opening points from the DMS (expiring on 1 January 2027),
    born in December."""
    customer = owner(
        store_a, "A0001", name="李娜", member_tier="金卡", points_balance=1200, birthday=datetime.date(1990, 12, 5)
    )
    club_start(store_a)
    return Membership.objects.get(customer=customer)


@pytest.fixture
def member_b(store_b):
    customer = owner(store_b, "B0001", name="赵强", points_balance=300)
    club_start(store_b)
    return Membership.objects.get(customer=customer)
