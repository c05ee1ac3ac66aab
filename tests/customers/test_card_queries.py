"""The customer card and the API's customer list cost a fixed number of queries (issue 16), whatever
the card holds: 1 or 5 vehicles, repair orders and notes; 3 or 30 customers."""

import datetime

import pytest
from django.urls import reverse

from customers.models import CustomerNote
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def card_with(store, *, items: int):
    customer = CustomerFactory(store=store, mobile="13812341234")
    for number in range(items):
        vehicle = VehicleFactory(customer=customer, store=store)
        RepairOrderFactory(vehicle=vehicle, settle_date=datetime.date(2026, 6, 1) - datetime.timedelta(days=number))
        CustomerNote.objects.create(customer=customer, text=f"备注{number}")
    return customer


# session, the user (with their groups, permissions and stores: crm/auth_backends.py), the card;
# then what the card shows: badge, dissatisfaction, consents, appointments, delivery interviews,
# vehicles (read once for the list, the interviews panel and the deliveries), referrals, complaints
# (panels), the timeline
# (visits, notes, the card's and consents' history, complaint actions, and for the desks calls,
# SMS, replies, complaint summaries and points), the advisors to hand a note to, the consents'
# records and the repair orders
CARD_QUERIES = 23


@pytest.mark.parametrize("items", [1, 5])
def test_the_card_costs_the_same_with_1_or_5_vehicles_orders_and_notes(
    client, advisor_a, store_a, items, django_assert_num_queries
):
    customer = card_with(store_a, items=items)
    client.force_login(advisor_a)
    client.get(reverse("customers:detail", args=[customer.pk]))

    with django_assert_num_queries(CARD_QUERIES):
        response = client.get(reverse("customers:detail", args=[customer.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert all(f"备注{number}" in html for number in range(items))
    # The card's history is read once for the history panel and the timeline (was twice).
    assert len(response.context["changes"]) >= 1


@pytest.mark.parametrize("customers", [3, 30])
def test_the_api_customer_list_costs_the_same_for_3_or_30_customers(
    api_client, agent_a, store_a, customers, django_assert_num_queries
):
    for _index in range(customers):
        card_with(store_a, items=1)
    api_client.force_authenticate(agent_a)

    # permissions (2), the user's stores, the capped count, the page
    with django_assert_num_queries(5):
        response = api_client.get("/api/customers/")

    assert response.json()["count"] == customers
    assert len(response.json()["results"]) == min(customers, 50)
