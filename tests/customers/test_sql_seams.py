"""The SQL fragments customers offers to set-based code in other apps, each written once."""

import datetime

import pytest
from django.db import connection

from customers.selectors import (
    CUSTOMER_TABLE,
    REPAIR_ORDER_TABLE,
    VEHICLE_TABLE,
    card_placeholder_sql,
    customer_has_active_vehicle_or_none_sql,
    customer_last_visit_sql,
    vehicle_is_active_sql,
)
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, VehicleFactory

pytestmark = pytest.mark.django_db
D = datetime.date


def _per_customer(expression: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cu.id, {expression} FROM {CUSTOMER_TABLE} cu ORDER BY cu.id")
        return dict(cursor.fetchall())


def test_table_names_come_from_the_models():
    assert (CUSTOMER_TABLE, VEHICLE_TABLE, REPAIR_ORDER_TABLE) == (
        "customers_customer",
        "customers_vehicle",
        "customers_repairorder",
    )


def test_last_visit_is_the_latest_delivery_or_settled_repair_order():
    store = StoreFactory()
    delivered_only = VehicleFactory(customer__store=store, store=store, delivery_date=D(2025, 3, 1)).customer
    repaired_later = VehicleFactory(customer__store=store, store=store, delivery_date=D(2024, 5, 1))
    RepairOrderFactory(vehicle=repaired_later, settle_date=D(2026, 2, 10))
    RepairOrderFactory(vehicle=repaired_later, settle_date=D(2025, 12, 1))
    delivered_after_repair = VehicleFactory(customer__store=store, store=store, delivery_date=D(2026, 6, 1))
    RepairOrderFactory(vehicle=delivered_after_repair, settle_date=D(2026, 1, 5))
    never = CustomerFactory(store=store)

    assert _per_customer(customer_last_visit_sql(alias="cu")) == {
        delivered_only.pk: D(2025, 3, 1),
        repaired_later.customer_id: D(2026, 2, 10),
        delivered_after_repair.customer_id: D(2026, 6, 1),
        never.pk: None,
    }


def test_a_customer_with_no_vehicle_or_an_active_one_is_still_an_owner():
    store = StoreFactory()
    without = CustomerFactory(store=store)
    active = VehicleFactory(customer__store=store, store=store).customer
    sold = VehicleFactory(customer__store=store, store=store, status="transferred").customer
    VehicleFactory(customer=sold, store=store, status="scrapped")
    mixed = VehicleFactory(customer__store=store, store=store, status="scrapped").customer
    VehicleFactory(customer=mixed, store=store)

    assert _per_customer(customer_has_active_vehicle_or_none_sql(alias="cu")) == {
        without.pk: True,
        active.pk: True,
        sold.pk: False,
        mixed.pk: True,
    }
    assert vehicle_is_active_sql(alias="v") == "v.status = 'active'"


@pytest.mark.parametrize(
    "fragment",
    [
        lambda: customer_last_visit_sql(alias="cu; DROP TABLE x"),
        lambda: vehicle_is_active_sql(alias="v.status"),
        lambda: card_placeholder_sql(customer_alias="cu", vehicle_alias="1v"),
    ],
)
def test_an_alias_that_is_not_an_identifier_is_refused(fragment):
    with pytest.raises(ValueError, match="not an SQL alias"):
        fragment()
