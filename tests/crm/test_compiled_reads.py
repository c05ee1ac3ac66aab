"""Reads compiled once (crm.compiled_reads): each gives what the ORM gives for any values, and a read
scoped to a user never serves one user's scope to another."""

import datetime

import pytest
from django.db import connection
from django.db.models import Count, F
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from crm import compiled_reads
from crm.compiled_reads import compiled_read
from customers.models import Customer, RepairOrder, Vehicle
from customers.selectors import customer_get_for_user
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_reads():
    compiled_reads._READS.clear()
    yield
    compiled_reads._READS.clear()


def _orders(*, customer_id):
    return (
        RepairOrder.objects.filter(vehicle__customer_id=customer_id)
        .select_related("vehicle__customer")
        .annotate(plate=F("vehicle__plate_no"))
        .order_by("-settle_date", "-ro_no")
    )


def _two_customers(store):
    customers = []
    for number in range(2):
        customer = CustomerFactory(store=store)
        vehicle = VehicleFactory(customer=customer, store=store, plate_no=f"苏A1234{number}")
        for day in range(number + 2):
            RepairOrderFactory(vehicle=vehicle, settle_date=datetime.date(2026, 5, 1) + datetime.timedelta(days=day))
        customers.append(customer)
    return customers


def test_a_compiled_model_read_gives_the_orms_instances_for_any_customer(store_a):
    first, second = _two_customers(store_a)
    compiled_read(("orders",), _orders, customer_id=first.pk)

    with CaptureQueriesContext(connection) as queries:
        found = compiled_read(("orders",), _orders, customer_id=second.pk)
        nothing = compiled_read(("orders",), _orders, customer_id=0)

    assert len(queries) == 2
    assert nothing == []
    expected = list(_orders(customer_id=second.pk))
    assert [order.pk for order in found] == [order.pk for order in expected]
    assert len(found) == 3
    with CaptureQueriesContext(connection) as related:
        assert [(order.ro_no, order.plate, order.vehicle.plate_no, order.vehicle.customer.name) for order in found] == [
            (order.ro_no, order.plate, order.vehicle.plate_no, order.vehicle.customer.name) for order in expected
        ]
    assert len(related) == 0  # the related rows came with the read


def test_values_values_list_and_flat_reads_give_what_the_orm_gives(store_a):
    first, second = _two_customers(store_a)

    def counted(*, customer_id):
        return (
            Vehicle.objects.filter(customer_id=customer_id)
            .values("plate_no")
            .annotate(orders=Count("repair_orders"))
            .order_by("plate_no")
        )

    def pairs(*, customer_id):
        return (
            RepairOrder.objects.filter(vehicle__customer_id=customer_id)
            .order_by("ro_no")
            .values_list("ro_no", "settle_date")
        )

    def flat(*, customer_id):
        return (
            RepairOrder.objects.filter(vehicle__customer_id=customer_id)
            .order_by("ro_no")
            .values_list("ro_no", flat=True)
        )

    for build in (counted, pairs, flat):
        for customer in (first, second):
            assert compiled_read((build.__name__,), build, customer_id=customer.pk) == list(
                build(customer_id=customer.pk)
            )
        assert (build.__name__,) in compiled_reads._READS
    assert compiled_read(("counted",), counted, customer_id=second.pk) == [{"plate_no": "苏A12341", "orders": 3}]


def test_prefetches_are_read_as_the_orm_reads_them(store_a):
    first, _second = _two_customers(store_a)

    def with_orders(*, customer_id):
        return Vehicle.objects.filter(customer_id=customer_id).prefetch_related("repair_orders")

    compiled_read(("prefetch",), with_orders, customer_id=first.pk)
    with CaptureQueriesContext(connection) as read:
        (vehicle,) = compiled_read(("prefetch",), with_orders, customer_id=first.pk)
    with CaptureQueriesContext(connection) as used:
        orders = list(vehicle.repair_orders.all())

    assert len(read) == 2  # the vehicles, then their orders
    assert len(used) == 0  # the orders came with the read
    assert sorted(order.pk for order in orders) == sorted(
        RepairOrder.objects.filter(vehicle__customer=first).values_list("pk", flat=True)
    )
    assert len(orders) == 2


def test_a_build_closing_over_what_its_key_does_not_name_is_refused(store_a, advisor_a):
    def orders_of_user(*, customer_id):
        return RepairOrder.objects.filter(vehicle__customer_id=customer_id, vehicle__store__in=advisor_a.stores.all())

    with pytest.raises(ValueError, match="does not name"):
        compiled_read(("orders of a user",), orders_of_user, customer_id=1)
    assert compiled_read(("orders of a user", advisor_a), orders_of_user, customer_id=1) == []


def test_a_read_django_answers_without_the_database_is_compiled_every_time(store_a):
    def in_no_store(*, customer_id):
        return Customer.objects.filter(pk=customer_id, store_id__in=[])

    with CaptureQueriesContext(connection) as queries:
        assert compiled_read(("no store",), in_no_store, customer_id=1) == []
    assert len(queries) == 0
    assert ("no store",) not in compiled_reads._READS


def test_one_compiled_card_read_serves_each_user_only_what_that_user_may_see(store_a):
    """Two advisors of the same store share one compiled statement (same stores, same levels);
    the named staff and the store's managers are read inside it, with each user's ID."""
    named, other = (UserFactory(username=name, role="service_advisor", stores=[store_a]) for name in ("named", "other"))
    manager = UserFactory(username="manager", role="manager", stores=[store_a])
    top_secret = CustomerFactory(store=store_a, confidentiality="top_secret")
    top_secret.authorized_staff.add(named)
    confidential = CustomerFactory(store=store_a, confidentiality="confidential")
    normal = CustomerFactory(store=store_a)

    def sees(user, customer) -> bool:
        try:
            return customer_get_for_user(user=user, pk=customer.pk) == customer
        except Http404:
            return False

    seen = {
        user.username: [sees(user, customer) for customer in (top_secret, confidential, normal)]
        for user in (named, other, manager, named)
    }

    assert seen == {
        "named": [True, False, True],
        "other": [False, False, True],
        "manager": [False, True, True],
    }
    scopes = [key for key in compiled_reads._READS if key[0] == "customer for user"]
    assert scopes == [("customer for user", (store_a.pk,), False)]  # one statement for all three


def test_a_card_read_follows_the_users_stores_as_they_change(store_a):
    store_b = StoreFactory(code="B1")
    advisor = UserFactory(username="moving", role="service_advisor", stores=[store_a])
    in_b = CustomerFactory(store=store_b)
    with pytest.raises(Http404):
        customer_get_for_user(user=advisor, pk=in_b.pk)

    advisor.stores.add(store_b)
    advisor = type(advisor).objects.get(pk=advisor.pk)  # the next request's user

    assert customer_get_for_user(user=advisor, pk=in_b.pk) == in_b
    assert customer_get_for_user(user=advisor, pk=in_b.pk).store.code == "B1"
    for bad in ("x", None, -1):
        with pytest.raises(Http404):
            customer_get_for_user(user=advisor, pk=bad)


def test_days_are_values_too(store_a):
    first, second = _two_customers(store_a)  # orders settled on 1, 2 (and 3) May 2026

    def settled(*, customer_id, first_day, last_day):
        orders = RepairOrder.objects.filter(vehicle__customer_id=customer_id, settle_date__range=(first_day, last_day))
        return orders.order_by("settle_date").values_list("settle_date", flat=True)

    may = datetime.date(2026, 5, 1)
    asked = [
        (second.pk, may, may),
        (second.pk, may, may + datetime.timedelta(days=1)),
        (first.pk, may, may.replace(day=9)),
    ]
    found = [compiled_read(("settled",), settled, customer_id=c, first_day=f, last_day=la) for c, f, la in asked]

    assert found == [list(settled(customer_id=c, first_day=f, last_day=la)) for c, f, la in asked]
    assert [len(days) for days in found] == [1, 2, 2]
    assert ("settled",) in compiled_reads._READS
