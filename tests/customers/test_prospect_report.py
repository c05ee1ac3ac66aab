"""Prospects won and lost, per source and per sales consultant (customers:prospect_report)."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from crm.choices import Role
from customers.models import Prospect
from customers.selectors.prospects import prospect_report
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db
D = datetime.date
NOVEMBER = {"start": D(2026, 11, 1), "end": D(2026, 11, 30)}
_mobiles = iter(range(13900000000, 13999999999))


def prospect(store, *, source="showroom", consultant=None, status="new", reason="", day=None):
    day = day or D(2026, 11, 10)
    fields = {}
    if status == "won":
        customer = CustomerFactory(store=store)
        fields = {"won_vehicle": VehicleFactory(customer=customer), "won_customer": customer, "won_on": day}
    return Prospect.objects.create(
        store=store, name="潜客", mobile=str(next(_mobiles)), source=source, consultant=consultant, status=status,
        lost_reason=reason, recorded_on=day, **fields,
    )  # fmt: skip


@pytest.fixture
def prospects(store_a, store_b, sales_a):
    sales_c = UserFactory(
        username="sales_c", role=Role.SALES_CONSULTANT, stores=[store_a], last_name="赵", first_name="敏"
    )
    prospect(store_a, consultant=sales_a, status="won")
    prospect(store_a, consultant=sales_a, status="lost", reason="price")
    prospect(store_a, consultant=sales_a, status="contacted")
    prospect(store_a, source="online", consultant=sales_c, status="won")
    prospect(store_a, source="online", consultant=sales_c, status="lost", reason="other_brand")
    prospect(store_a, source="online", consultant=sales_c, status="lost", reason="price")
    prospect(store_a, source="online", status="new")
    prospect(store_a, consultant=sales_a, status="won", day=D(2026, 10, 31))  # recorded before the period
    prospect(store_b, source="auto_show", status="won")  # another store
    return sales_c


def lost(row):
    return {item["reason"]: item["count"] for item in row["lost_by_reason"] if item["count"]}


def test_the_report_per_source_and_per_consultant(manager_a, prospects, django_assert_num_queries):
    with django_assert_num_queries(3):  # the manager's stores, per source, per consultant
        report = prospect_report(user=manager_a, **NOVEMBER)

    assert [(row["key"], row["new"], row["won"], row["lost"], lost(row), row["conversion"])
            for row in report["by_source"]] == [
        ("online", 4, 1, 2, {"other_brand": 1, "price": 1}, 25.0),
        ("showroom", 3, 1, 1, {"price": 1}, 33.3),
    ]  # fmt: skip
    assert [(row["key"], row["label"], row["new"], row["won"], row["lost"], row["conversion"])
            for row in report["by_consultant"]] == [
        ("sales_a", "王明", 3, 1, 1, 33.3),
        ("sales_c", "赵敏", 3, 1, 2, 33.3),
        ("", "", 1, 0, 0, 0.0),
    ]  # fmt: skip
    assert report["totals"] == {"new": 7, "won": 2, "lost": 3, "conversion": 28.6}


def test_the_report_of_store_b_names_nothing_of_store_a(manager_b, prospects):
    report = prospect_report(user=manager_b, **NOVEMBER)

    assert [(row["key"], row["new"], row["won"]) for row in report["by_source"]] == [("auto_show", 1, 1)]
    assert [row["key"] for row in report["by_consultant"]] == [""]


@pytest.fixture
def in_december():
    with time_machine.travel(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=datetime.UTC), tick=False):
        yield


def test_the_page_shows_the_figures_and_costs_fixed_queries(
    client, manager_a, prospects, in_december, django_assert_num_queries
):
    client.force_login(manager_a)
    client.get(reverse("customers:prospect_report"))  # warm the session

    with django_assert_num_queries(5):
        response = client.get(reverse("customers:prospect_report"), {"start": "2026-11-01", "end": "2026-11-30"})

    html = response.content.decode()
    assert response.status_code == 200
    assert '<span class="figure-value" data-figure="conversion">28.6%</span>' in html
    assert 'data-cell="lost-price">1</td>' in html
    assert response.context["chart"]["won"] == [1, 1]
    assert response.context["chart"]["open"] == [1, 1]


def test_the_page_defaults_to_this_month(client, manager_a, prospects, in_december):
    client.force_login(manager_a)

    response = client.get(reverse("customers:prospect_report"))

    assert (response.context["start"], response.context["end"]) == (D(2026, 12, 1), D(2026, 12, 2))
    assert response.context["report"]["totals"] == {"new": 0, "won": 0, "lost": 0, "conversion": None}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-11-30", "end": "2026-11-01"}, "结束日期早于开始日期"),
        ({"start": "yesterday"}, "YYYY-MM-DD"),
    ],
)
def test_a_bad_period_is_explained(client, manager_a, in_december, query, message):
    client.force_login(manager_a)

    response = client.get(reverse("customers:prospect_report"), query)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_sales_consultant_may_not_read_the_report(client, sales_a, prospects):
    client.force_login(sales_a)

    assert client.get(reverse("customers:prospect_report")).status_code == 403


def test_managers_find_the_report_under_more(client, manager_a):
    client.force_login(manager_a)

    assert reverse("customers:prospect_report") in client.get(reverse("home")).content.decode()
