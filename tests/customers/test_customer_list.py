"""The customer list: a store filter, three orders, the vehicle a plate or VIN search matched shown
in its row, the pages' query count pinned, and nothing of another store's customers."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from crm.models import Role
from customers.models import CustomerStats
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def numbers(response) -> list[str]:
    return [customer.customer_no for customer in response.context["page"].object_list]


@pytest.fixture
def two_store_advisor(store_a, store_b):
    return UserFactory(username="advisor_ab", role=Role.SERVICE_ADVISOR, stores=[store_a, store_b])


def visited(customer, day: datetime.date | None) -> None:
    CustomerStats.objects.create(customer=customer, store=customer.store, last_visit=day, as_of=TODAY)


TODAY = datetime.date(2026, 11, 20)


@time_machine.travel(datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC), tick=False)
def test_the_list_sorts_by_number_name_pinyin_and_last_visit(client, advisor_a, store_a):
    visited(CustomerFactory(store=store_a, customer_no="C003", name="安娜"), datetime.date(2026, 10, 1))
    visited(CustomerFactory(store=store_a, customer_no="C001", name="赵磊"), None)
    visited(CustomerFactory(store=store_a, customer_no="C002", name="李娜"), datetime.date(2026, 11, 1))
    CustomerFactory(store=store_a, customer_no="C004", name="周杰")  # no figures yet
    client.force_login(advisor_a)

    assert 'id="id_store"' not in client.get(reverse("customers:list")).content.decode()  # one store: no menu
    assert numbers(client.get(reverse("customers:list"))) == ["C001", "C002", "C003", "C004"]
    assert numbers(client.get(reverse("customers:list"), {"order": "name"})) == ["C003", "C002", "C001", "C004"]
    assert numbers(client.get(reverse("customers:list"), {"order": "-last_visit"})) == ["C002", "C003", "C001", "C004"]


@time_machine.travel(datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC), tick=False)
def test_the_last_visit_filter_uses_the_segments_periods(client, advisor_a, store_a):
    visited(CustomerFactory(store=store_a, customer_no="ACTIVE"), datetime.date(2026, 5, 20))
    visited(CustomerFactory(store=store_a, customer_no="DORMANT"), datetime.date(2026, 5, 19))
    visited(CustomerFactory(store=store_a, customer_no="LOST"), datetime.date(2025, 11, 19))
    visited(CustomerFactory(store=store_a, customer_no="NEVER"), None)
    CustomerFactory(store=store_a, customer_no="NOFIGURES")
    client.force_login(advisor_a)

    found = {visit: numbers(client.get(reverse("customers:list"), {"visit": visit}))
             for visit in ("active", "dormant", "lost", "never")}  # fmt: skip

    assert found == {"active": ["ACTIVE"], "dormant": ["DORMANT"], "lost": ["LOST"], "never": ["NEVER", "NOFIGURES"]}


def test_the_store_filter_narrows_to_one_of_the_users_stores(client, two_store_advisor, store_a, store_b):
    CustomerFactory(store=store_a, customer_no="A001")
    CustomerFactory(store=store_b, customer_no="B001")
    client.force_login(two_store_advisor)

    response = client.get(reverse("customers:list"))
    assert numbers(response) == ["A001", "B001"]
    assert 'id="id_store"' in response.content.decode()  # a menu only for staff of several stores
    assert numbers(client.get(reverse("customers:list"), {"store": store_b.pk})) == ["B001"]


def test_a_store_outside_the_users_is_refused_with_a_message_and_shows_nothing_of_it(
    client, manager_b, store_a, store_b
):
    CustomerFactory(store=store_a, customer_no="A001", name="王芳")
    CustomerFactory(store=store_b, customer_no="B001")
    client.force_login(manager_b)

    response = client.get(reverse("customers:list"), {"store": store_a.pk})

    assert response.status_code == 400
    assert numbers(response) == ["B001"]
    assert "A001" not in response.content.decode()
    assert "王芳" not in response.content.decode()
    assert [str(message) for message in response.context["messages"]] == ["请选择您的门店之一。"]


def test_a_plate_or_vin_search_shows_the_matching_vehicle_in_the_row(client, advisor_a, store_a):
    owner = CustomerFactory(store=store_a, customer_no="C001")
    VehicleFactory(customer=owner, vin="LGBH52E0000000001", plate_no="苏A11111")
    VehicleFactory(customer=owner, vin="LGBH52E0000000002", plate_no="苏A22222")
    client.force_login(advisor_a)

    by_plate = client.get(reverse("customers:list"), {"q": "苏A22222"})
    by_vin_tail = client.get(reverse("customers:list"), {"q": "000001"})
    by_name = client.get(reverse("customers:list"), {"q": "张伟"})

    assert by_plate.context["page"].object_list[0].matched_vin == "LGBH52E0000000002"
    assert 'data-matched-vehicle="LGBH52E0000000002"' in by_plate.content.decode()
    assert by_vin_tail.context["page"].object_list[0].matched_plate == "苏A11111"
    assert by_name.context["page"].object_list[0].matched_vin is None
    assert "data-matched-vehicle" not in by_name.content.decode()


@pytest.mark.parametrize("customers", [3, 30])
def test_the_query_count_of_a_filtered_sorted_searched_page_does_not_grow(
    client, advisor_a, store_a, customers, django_assert_num_queries
):
    for number in range(customers):
        VehicleFactory(customer=CustomerFactory(store=store_a, customer_no=f"C{number:03d}"),
                       plate_no=f"苏A9{number:04d}")  # fmt: skip
    client.force_login(advisor_a)
    client.get(reverse("customers:list"))  # the session and the user's stores, once

    with django_assert_num_queries(QUERIES):
        response = client.get(reverse("customers:list"), {"q": "苏A9", "store": store_a.pk, "order": "-last_visit"})

    assert len(numbers(response)) == min(customers, 25)


# customers/test_views.py's 5, the store checked, the search's IDs (the matched vehicle is in the page's query)
QUERIES = 7


def test_past_the_cap_the_list_shows_the_databases_estimate_and_every_card_stays_reachable(
    client, manager_a, store_a, monkeypatch, django_assert_num_queries
):
    """A group's million cards are not counted on every page: exact up to the cap, then
    PostgreSQL's estimate (one EXPLAIN more), said to be one."""
    from crm.api import pagination
    from customers import views

    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    created = [CustomerFactory(store=store_a, customer_no=f"C{number}").customer_no for number in range(3)]
    client.force_login(manager_a)
    client.get(reverse("customers:list"))

    with django_assert_num_queries(8):  # the list's 7 for a manager (a TOTP device), + the estimate
        first = client.get(reverse("customers:list"))
    second = client.get(reverse("customers:list"), {"page": 2})

    assert first.context["page"].paginator.count_is_estimate is True
    assert "data-count-estimate" in first.content.decode()
    assert numbers(first) + numbers(second) == sorted(created)
    assert second.context["page"].has_next() is False
