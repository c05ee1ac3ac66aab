"""Two staff booking the last place at once: exactly one succeeds. Real PostgreSQL, real threads,
each with its own connection and transaction (the slot's advisory lock serialises them)."""

import threading

import pytest
import time_machine
from django.db import connection

from crm.exceptions import ApplicationError
from customers.choices import AppointmentPurpose, AppointmentSource
from customers.models import Appointment
from customers.services.appointments import appointment_book
from tests.customers.appointment_helpers import NINE, NOW, TOMORROW, owner

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 20


def race(user, owners) -> tuple[list, list]:
    """Every owner books 09:00 tomorrow at the same moment; returns (booked ids, refusals)."""
    start = threading.Barrier(len(owners))
    booked, refused, lock = [], [], threading.Lock()

    def attempt(customer, vehicle):
        try:
            start.wait()
            appointment = appointment_book(
                user=user,
                customer=customer,
                vehicle=vehicle,
                date=TOMORROW,
                slot=NINE,
                purpose=AppointmentPurpose.MAINTENANCE,
                source=AppointmentSource.CALL,
            )
            with lock:
                booked.append(appointment.pk)
        except ApplicationError as error:
            with lock:
                refused.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=pair) for pair in owners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return booked, refused


def test_twenty_bookings_racing_for_four_places_book_exactly_four(store_a, advisor_a):
    owners = [owner(store_a, name=f"客户{number}") for number in range(RACERS)]

    with time_machine.travel(NOW, tick=True):
        booked, refused = race(advisor_a, owners)

    assert (len(booked), len(refused)) == (4, 16)
    assert all(message.startswith("该时段已约满") for message in refused)
    assert Appointment.objects.filter(date=TOMORROW, slot=NINE).count() == 4


def test_with_a_vip_among_them_the_fifth_place_is_the_vips(store_a, advisor_a):
    owners = [owner(store_a, name=f"客户{number}") for number in range(RACERS - 1)]
    vip_customer, vip_vehicle = owner(store_a, vip=True, name="贵宾")
    owners.insert(RACERS // 2, (vip_customer, vip_vehicle))

    with time_machine.travel(NOW, tick=True):
        booked, refused = race(advisor_a, owners)

    assert (len(booked), len(refused)) == (5, 15)
    slot = Appointment.objects.filter(date=TOMORROW, slot=NINE)
    assert slot.count() == 5
    assert slot.filter(customer=vip_customer).count() == 1
    assert list(slot.filter(is_over_capacity=True).values_list("customer", flat=True)) == [vip_customer.pk]
