"""Shared set-up of the appointment tests: a frozen working day and booking shortcuts."""

import datetime

from customers.choices import AppointmentPurpose, AppointmentSource
from customers.services.appointments import appointment_book
from tests.factories import CustomerFactory, VehicleFactory

TODAY = datetime.date(2026, 12, 2)  # a Wednesday, a working day
NOW = "2026-12-02 09:10 +0800"
TOMORROW = datetime.date(2026, 12, 3)
SATURDAY = datetime.date(2026, 12, 5)
NINE = datetime.time(9, 0)


def owner(store, *, vip: bool = False, name: str = "张伟"):
    """A customer of ``store`` with one vehicle; a VIP holds the DMS tier 金卡."""
    customer = CustomerFactory(store=store, name=name, member_tier="金卡" if vip else "")
    return customer, VehicleFactory(customer=customer)


def book(user, store, *, day=TOMORROW, slot=NINE, vip=False, name="张伟", **extra):
    customer, vehicle = owner(store, vip=vip, name=name)
    values = {"purpose": AppointmentPurpose.MAINTENANCE, "source": AppointmentSource.DESK, **extra}
    return appointment_book(user=user, customer=customer, vehicle=vehicle, date=day, slot=slot, **values)
