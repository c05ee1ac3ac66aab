"""The customer list's "has an open complaint" filter, contributed by complaints through the
customers' list-filter registry (customers/list_filters.py): one Exists subquery in the page's own
query, so the list's query count stays pinned."""

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.choices import Confirmation, Status
from tests.complaints.factories import ComplaintFactory
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CLOSED = {"status": Status.CLOSED, "closed_at": timezone.now(), "customer_confirmation": Confirmation.SATISFIED}


def numbers(response) -> list[str]:
    return [customer.customer_no for customer in response.context["page"].object_list]


def test_the_filter_keeps_only_customers_with_an_open_complaint(client, advisor_a, store_a, store_b):
    ComplaintFactory(customer=CustomerFactory(store=store_a, customer_no="C001"))
    ComplaintFactory(customer=CustomerFactory(store=store_a, customer_no="C002"), status=Status.IN_PROGRESS)
    ComplaintFactory(customer=CustomerFactory(store=store_a, customer_no="C003"), **CLOSED)
    CustomerFactory(store=store_a, customer_no="C004")
    ComplaintFactory(customer=CustomerFactory(store=store_b, customer_no="C005"))  # another store's
    client.force_login(advisor_a)

    everyone = client.get(reverse("customers:list"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    filtered = client.get(reverse("customers:list"), {"open_complaint": "on"}, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert numbers(everyone) == ["C001", "C002", "C003", "C004"]
    assert numbers(filtered) == ["C001", "C002"]
    html = everyone.content.decode()
    assert '<label class="check" data-list-filter="open_complaint">' in html
    assert 'name="open_complaint" id="id_open_complaint"> 有未结投诉</label>' in html
    assert 'name="open_complaint" id="id_open_complaint" checked> 有未结投诉' in filtered.content.decode()


@pytest.mark.parametrize("customers", [3, 30])
def test_the_filtered_list_runs_the_list_s_pinned_queries(
    client, advisor_a, store_a, customers, django_assert_num_queries
):
    for number in range(customers):
        customer = CustomerFactory(store=store_a, customer_no=f"C{number:03d}")
        ComplaintFactory(customer=customer)
        ComplaintFactory(customer=customer, **CLOSED)
    client.force_login(advisor_a)
    client.get(reverse("customers:list"))  # the session and the user's stores, once

    with django_assert_num_queries(QUERIES):
        response = client.get(reverse("customers:list"), {"open_complaint": "on", "order": "name"})

    assert len(numbers(response)) == min(customers, 25)


# tests/customers/test_views.py's unfiltered list: the filter is a subquery of the page's own query
QUERIES = 5
