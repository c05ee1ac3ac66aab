"""``?ordering=`` settles its ties by the view's own order (crm.api.filters.StableOrderingFilter):
paging through a list ordered by a column that repeats shows every row once."""

import pytest
from rest_framework.request import Request

from crm.api.filters import StableOrderingFilter
from customers.api.views import CustomerViewSet, RepairOrderViewSet
from customers.models import Customer, RepairOrder
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def numbers(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["customer_no"] for row in response.json()["results"]]


def test_a_repeated_name_is_ordered_by_number_in_the_direction_asked(api_client, manager_a, store_a):
    for number, name in [("C3", "王伟"), ("C1", "王伟"), ("C4", "李娜"), ("C2", "王伟")]:
        CustomerFactory(store=store_a, customer_no=number, name=name)
    api_client.force_authenticate(manager_a)

    assert numbers(api_client.get("/api/customers/", {"ordering": "name"})) == ["C4", "C1", "C2", "C3"]
    assert numbers(api_client.get("/api/customers/", {"ordering": "-name"})) == ["C3", "C2", "C1", "C4"]
    # Page by page: each row once, in the same order.
    pages = [numbers(api_client.get("/api/customers/", {"ordering": "name", "page_size": 1, "page": page}))
             for page in range(1, 5)]  # fmt: skip
    assert pages == [["C4"], ["C1"], ["C2"], ["C3"]]


@pytest.mark.parametrize(
    ("view", "model", "asked", "ordered"),
    [
        (CustomerViewSet, Customer, "name", ["name", "customer_no"]),
        (CustomerViewSet, Customer, "-updated_at", ["-updated_at", "-customer_no"]),
        (CustomerViewSet, Customer, "customer_no", ["customer_no"]),  # unique: no ties
        (RepairOrderViewSet, RepairOrder, "settle_date", ["settle_date", "ro_no"]),
        (RepairOrderViewSet, RepairOrder, "-settle_date", ["-settle_date", "-ro_no"]),
    ],
)
def test_the_tie_break_is_the_views_order_in_the_direction_of_the_first_column(rf, view, model, asked, ordered):
    request = Request(rf.get("/", {"ordering": asked}))

    assert StableOrderingFilter().get_ordering(request, model.objects.all(), view()) == ordered


def test_no_ordering_asked_is_the_views_own(rf):
    request = Request(rf.get("/"))

    assert StableOrderingFilter().get_ordering(request, RepairOrder.objects.all(), RepairOrderViewSet()) == [
        "-settle_date",
        "ro_no",
    ]
