"""The customers behind a figure on a big database (issue 16): the same customers, order and count
whichever way a page is read (sorting the matches or walking the cards in customer no. order), and
a page's query count that does not grow with the figure."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.db.models import OuterRef, Q, Subquery
from django.urls import reverse

from crm.calendar import add_months
from customers.choices import Confidentiality
from customers.models import CustomerMonthState, CustomerWinBack
from customers.selectors import customer_queryset_for_user
from customers.state_selectors import NONE, FigureCustomers
from customers.states import customer_states_refresh
from tests.customers.test_retention_views import owner
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = datetime.datetime(2025, 6, 18, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
MAY = D(2025, 5, 1)
WON_BACK = {"month": "2025-05", "to": "active", "previous": ["dormant", "lost"]}
LOST = {"month": "2025-05", "to": "lost", "previous": ["lost"]}


def _owners(store, count, *, hidden_every=0, prefix=""):
    for n in range(count):
        card = {"confidentiality": Confidentiality.TOP_SECRET} if hidden_every and n % hidden_every == 0 else {}
        # Won back (lost -> active) and lost -> lost, in an order of customer no. unlike their ids.
        owner(f"{prefix}W{(n * 7) % count:03d}", store=store, delivered=D(2023, 1, 10), settled=[D(2025, 5, 5)], **card)
        owner(f"{prefix}L{(n * 11) % count:03d}", store=store, delivered=D(2022, 1, 1), **card)


def _reference(user, store_ids, month, previous_states, state):
    """The rule as the page read it before (a sort of every match through the visibility rule)."""
    before_month = add_months(month, -1)
    if sorted(previous_states) == ["dormant", "lost"] and state == "active":
        ids = CustomerWinBack.objects.filter(month=month, store_id__in=store_ids).values("customer_id")
        customers = customer_queryset_for_user(user).filter(pk__in=ids)
    else:
        now = CustomerMonthState.objects.filter(month=month, state=state, store_id__in=store_ids)
        before = Q(pk__in=CustomerMonthState.objects.filter(
            month=before_month, state__in=[value for value in previous_states if value != NONE]
        ).values("customer_id"))  # fmt: skip
        customers = customer_queryset_for_user(user).filter(pk__in=now.values("customer_id")).filter(before)
    last_visit = CustomerMonthState.objects.filter(customer_id=OuterRef("pk"), month=month).values("last_visit")
    customers = customers.annotate(month_last_visit=Subquery(last_visit)).order_by("customer_no")
    return [(customer.customer_no, customer.month_last_visit) for customer in customers]


@pytest.mark.parametrize(("previous", "state"), [(["dormant", "lost"], "active"), (["lost"], "lost")])
def test_walking_the_cards_and_sorting_the_matches_give_the_same_page(
    store_a, store_b, manager_a, admin_user, previous, state
):
    _owners(store_a, 30, hidden_every=7)
    _owners(store_b, 5, prefix="B")
    customer_states_refresh(today=TODAY.date())
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")  # the planner's row count decides the way
    for user, store_ids in [(manager_a, [store_a.pk]), (admin_user, [store_a.pk, store_b.pk])]:
        expected = _reference(user, store_ids, MAY, previous, state)
        figure = FigureCustomers(user=user, store_ids=store_ids, month=MAY, previous_states=previous, state=state)
        pages = [figure[start : start + 5] for start in range(0, 40, 5)]  # the first pages walk

        assert figure.count() == len(expected)
        assert not figure.count_is_estimate
        assert [(c.customer_no, c.month_last_visit) for page in pages for c in page] == expected


def _page(client, query, django_assert_num_queries, queries):
    with time_machine.travel(TODAY, tick=False), django_assert_num_queries(queries):
        response = client.get(reverse("customers:retention_customers"), query)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize(("query", "queries"), [(WON_BACK, 9), (LOST, 9)])
def test_a_page_of_a_figure_costs_the_same_queries_for_few_and_many_customers(
    client, store_a, store_b, manager_a, manager_b, django_assert_num_queries, query, queries
):
    _owners(store_a, 2, prefix="A")
    _owners(store_b, 40, prefix="B")
    customer_states_refresh(today=TODAY.date())
    client.force_login(manager_a)
    few = _page(client, query, django_assert_num_queries, queries)
    client.force_login(manager_b)
    many = _page(client, query, django_assert_num_queries, queries)

    assert len(re.findall(r"data-customer-no=", few)) == 2
    assert len(re.findall(r"data-customer-no=", many)) == 25
    assert 'data-count="40"' in many


def test_a_group_manager_gets_the_figure_less_the_hidden_cards(client, store_a, store_b, django_assert_num_queries):
    manager = UserFactory(username="group_manager", role="manager", stores=[store_a, store_b], sees_all_stores=True)
    client.force_login(manager)
    _owners(store_a, 30, hidden_every=7)
    customer_states_refresh(today=TODAY.date())
    won_back = _page(client, WON_BACK, django_assert_num_queries, 10)
    lost = _page(client, LOST, django_assert_num_queries, 11)

    assert 'data-count="25"' in won_back  # 30 less the 5 top secret cards
    assert 'data-count="25"' in lost
    assert re.findall(r'data-customer-no="(\w+)"', won_back)[:3] == ["W001", "W002", "W003"]


def test_past_the_cap_the_count_is_the_figures_and_says_so(
    client, store_b, manager_b, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr("customers.state_selectors.FIGURE_COUNT_CAP", 10)
    _owners(store_b, 40, prefix="B")
    customer_states_refresh(today=TODAY.date())
    client.force_login(manager_b)
    page = _page(client, {**WON_BACK, "page": 2}, django_assert_num_queries, 10)  # and the figure's sum

    assert 'data-count="40" data-count-estimate>约 40 位客户<' in page
    assert re.findall(r'data-customer-no="(\w+)"', page) == [f"BW{n:03d}" for n in range(25, 40)]
