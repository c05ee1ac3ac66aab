"""The API's page counts: exact up to the cap, PostgreSQL's estimate past it (never a full count of
a big list on every page); the rows of a page stay exact."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.api import pagination
from customers.models import Customer
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_a_short_list_is_counted_exactly(api_client, manager_a, store_a):
    CustomerFactory.create_batch(3, store=store_a)
    api_client.force_authenticate(manager_a)

    body = api_client.get("/api/customers/").json()

    assert (body["count"], body["count_is_estimate"], len(body["results"])) == (3, False, 3)


def test_past_the_cap_the_count_is_the_databases_estimate_and_every_row_stays_reachable(
    api_client, manager_a, store_a, monkeypatch
):
    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    customers = CustomerFactory.create_batch(5, store=store_a)
    api_client.force_authenticate(manager_a)

    pages, url = [], "/api/customers/?page_size=2"
    while url:
        body = api_client.get(url).json()
        pages.append(body)
        url = body["next"]

    assert {page["count_is_estimate"] for page in pages} == {True}
    assert [len(page["results"]) for page in pages] == [2, 2, 1]
    assert sorted(row["id"] for page in pages for row in page["results"]) == sorted(c.pk for c in customers)
    assert api_client.get("/api/customers/", {"page_size": 2, "page": 9}).json()["results"] == []


def test_the_estimate_is_asked_of_the_list_without_its_order():
    # A sorted list of a whole group is planned as a parallel sort whose top node counts 5/6 of the
    # rows (the workers', not the leader's): the size is asked of the same rows, unsorted.
    with CaptureQueriesContext(connection) as queries:
        pagination.planner_row_estimate(Customer.objects.order_by("name", "customer_no"))

    [explain] = [query["sql"] for query in queries.captured_queries]
    assert explain.startswith("EXPLAIN (FORMAT json) SELECT")
    assert "ORDER BY" not in explain
