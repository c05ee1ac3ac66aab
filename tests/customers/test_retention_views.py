"""The retention dashboard: a month's movement, churn and win-back rates, 24 months of states, the
customers behind a figure; for managers and administrators, scoped to their stores and cards."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from customers.choices import Confidentiality
from customers.states import customer_states_refresh
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = datetime.datetime(2025, 6, 18, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


def owner(customer_no, *, store, delivered, settled=(), **card):
    customer = CustomerFactory(customer_no=customer_no, store=store, **card)
    vehicle = VehicleFactory(customer=customer, delivery_date=delivered)
    for day in settled:
        RepairOrderFactory(vehicle=vehicle, settle_date=day)
    return customer


@pytest.fixture
def history(store_a, store_b):
    owner("W1", store=store_a, delivered=D(2023, 1, 10), settled=[D(2025, 5, 5)])  # lost -> active
    owner("W2", store=store_a, delivered=D(2024, 6, 15), settled=[D(2025, 5, 20)])  # dormant -> active
    owner("W3", store=store_a, delivered=D(2023, 1, 10), settled=[D(2025, 5, 6)],
          confidentiality=Confidentiality.TOP_SECRET)  # fmt: skip
    owner("C1", store=store_a, delivered=D(2024, 11, 20))  # active -> dormant
    owner("A1", store=store_a, delivered=D(2025, 1, 5))  # active -> active
    owner("N1", store=store_a, delivered=D(2025, 5, 9))  # none -> new
    owner("L1", store=store_a, delivered=D(2022, 1, 1))  # lost -> lost
    owner("B1", store=store_b, delivered=D(2023, 1, 10), settled=[D(2025, 5, 5)])  # lost -> active, store B
    customer_states_refresh(today=TODAY.date())


def _cell(page, previous, state):
    row = re.search(rf'<tr data-previous="{previous}">(.*?)</tr>', page, re.S)[1]
    return re.search(rf'data-cell="{state}">(?:<a href="[^"]*">)?(\d+)<', row)[1]


def test_a_manager_sees_the_movement_of_the_last_whole_month_and_its_rates(
    client, manager_a, history, django_assert_num_queries
):
    client.force_login(manager_a)
    # 10, and the two "won back by" sums (by contact, by agent).
    with time_machine.travel(TODAY, tick=False), django_assert_num_queries(8):
        response = client.get(reverse("customers:retention"))
    page = response.content.decode()

    assert response.status_code == 200
    assert 'data-movement-month="2025-05"' in page
    assert 'name="month" value="2025-05"' in page
    assert 'data-figure="won_back">3<' in page
    assert 'data-figure="churn_rate">50.0%<' in page
    assert 'data-figure="win_back_rate">75.0%<' in page
    assert [_cell(page, "none", state) for state in ("new", "active", "dormant", "lost")] == ["1", "0", "0", "0"]
    assert [_cell(page, "active", state) for state in ("new", "active", "dormant", "lost")] == ["0", "1", "1", "0"]
    assert [_cell(page, "dormant", state) for state in ("new", "active", "dormant", "lost")] == ["0", "1", "0", "0"]
    assert [_cell(page, "lost", state) for state in ("new", "active", "dormant", "lost")] == ["0", "2", "0", "1"]
    may = re.search(r'<tr data-month="2025-05">(.*?)</tr>', page, re.S)[1]
    assert re.findall(r'data-cell="(\w+)">(\d+)<', may) == [
        ("new", "1"),
        ("active", "4"),
        ("dormant", "1"),
        ("lost", "1"),
    ]
    june = re.search(r'<tr data-month="2025-06">(.*?)</tr>', page, re.S)[1]
    assert "badge partial" in june
    assert re.findall(r'data-cell="(\w+)">(\d+)<', june) == [
        ("new", "0"),
        ("active", "5"),
        ("dormant", "1"),
        ("lost", "1"),
    ]
    assert page.count("<tr data-month=") == 24
    assert "vendor/chart-4.6.1.umd.min.js" in page


def test_the_month_in_progress_is_marked_partial_and_a_group_adds_its_stores(client, admin_user, history):
    client.force_login(admin_user)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("customers:retention"), {"month": "2025-06"}).content.decode()

    assert 'data-movement-month="2025-06"' in page
    assert "data-partial" in page
    assert 'data-figure="won_back">0<' in page
    assert [_cell(page, "active", state) for state in ("new", "active", "dormant", "lost")] == ["0", "5", "0", "0"]
    with time_machine.travel(TODAY, tick=False):
        may = client.get(reverse("customers:retention"), {"month": "2025-05"}).content.decode()
    assert 'data-figure="won_back">4<' in may
    assert "data-partial" not in may


def test_staff_without_the_permission_are_refused(client, agent_a, advisor_a, sales_a, history):
    for user in (agent_a, advisor_a, sales_a):
        client.force_login(user)
        assert client.get(reverse("customers:retention")).status_code == 403
        assert client.get(reverse("customers:retention_customers")).status_code == 403


def test_a_manager_sees_only_their_stores(client, manager_b, store_a, history):
    client.force_login(manager_b)
    with time_machine.travel(TODAY, tick=False):
        own = client.get(reverse("customers:retention")).content.decode()
        foreign = client.get(reverse("customers:retention"), {"store": store_a.pk})

    assert 'data-figure="won_back">1<' in own
    assert foreign.status_code == 400
    assert "选择一个有效的选项： 该选择不在可用的选项中。" in foreign.content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"month": "2025-13"}, "请按YYYY-MM格式输入月份，例如2026-03。"),
        ({"month": "2025-07"}, "请选择本月或更早的月份。"),
    ],
)
def test_a_bad_month_is_a_clear_message(client, manager_a, query, message):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        response = client.get(reverse("customers:retention"), query)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_won_back_leads_to_the_customers_behind_it_without_cards_the_manager_may_not_see(
    client, manager_a, history, django_assert_num_queries
):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        dashboard = client.get(reverse("customers:retention")).content.decode()
    url = re.search(r'href="([^"]+)" data-link="won-back"', dashboard)[1].replace("&amp;", "&")
    with time_machine.travel(TODAY, tick=False), django_assert_num_queries(9):
        response = client.get(url)
    page = response.content.decode()

    assert url == "/customers/retention/customers/?month=2025-05&to=active&previous=dormant&previous=lost"
    assert re.findall(r'data-customer-no="(\w+)"', page) == ["W1", "W2"]
    assert 'data-count="2"' in page
    assert ">2025-05-05<" in page
    assert ">2025-05-20<" in page
    with time_machine.travel(TODAY, tick=False):
        searched = client.get(url + "&q=W2").content.decode()
        new = client.get(reverse("customers:retention_customers"), {"month": "2025-05", "to": "new",
                                                                   "previous": "none"}).content.decode()  # fmt: skip
    assert re.findall(r'data-customer-no="(\w+)"', searched) == ["W2"]
    assert re.findall(r'data-customer-no="(\w+)"', new) == ["N1"]


def test_the_customers_behind_a_figure_are_of_the_managers_stores_only(client, manager_b, store_a, history):
    client.force_login(manager_b)
    query = {"month": "2025-05", "to": "active", "previous": ["dormant", "lost"]}
    with time_machine.travel(TODAY, tick=False):
        own = client.get(reverse("customers:retention_customers"), query).content.decode()
        foreign = client.get(reverse("customers:retention_customers"), {**query, "store": store_a.pk})

    assert re.findall(r'data-customer-no="(\w+)"', own) == ["B1"]
    assert foreign.status_code == 400
    assert "data-customer-no" not in foreign.content.decode()


def test_a_bad_figure_is_a_clear_message(client, manager_a):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        response = client.get(reverse("customers:retention_customers"), {"month": "2025-05", "to": "gone"})

    page = response.content.decode()
    assert response.status_code == 400
    assert "选择一个有效的选项。 gone 不在可用的选项中。" in page
    assert "该字段是必填项。" in page
