"""The retention dashboard's "won back by": a month's returns and revenue per rule, campaign, club
events, agent and "no contact", each figure leading to the customers behind it; scoped to the
manager's stores."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from customers.states import customer_states_build
from tests.customers.win_back_helpers import D, at, attended, call, campaign, lost_owner, sms

pytestmark = pytest.mark.django_db

TODAY = datetime.datetime(2026, 4, 10, 10, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
RETURN = D(2026, 3, 15)


@pytest.fixture
def history(store_a, store_b, agent_a):
    agent_a.last_name, agent_a.first_name = "李", "娜"
    agent_a.save()
    for number in (1, 2):  # two returns after a reached lost-customer call
        call(lost_owner(f"R{number}", store=store_a, returned_on=RETURN, total="1000.00"), at(D(2026, 3, 1)),
             agent=agent_a)  # fmt: skip
    spring = campaign(store_a)
    sms(lost_owner("S1", store=store_a, returned_on=RETURN, total="500.50"), at(D(2026, 3, 2)), code="",
        campaign=spring)  # fmt: skip
    attended(lost_owner("E1", store=store_a, returned_on=RETURN, total="200.00"), at(D(2026, 3, 3)))
    lost_owner("N1", store=store_a, returned_on=RETURN, total="300.00")
    call(lost_owner("N2", store=store_a, returned_on=RETURN, total="0.00"), at(D(2026, 3, 4)), agent=agent_a,
         outcome="no_answer")  # fmt: skip
    lost_owner("B1", store=store_b, returned_on=RETURN, total="9999.00")  # store B, no contact
    customer_states_build(first=D(2026, 2, 1), last=D(2026, 4, 1))
    return spring


def _rows(page, table):
    body = re.search(rf'data-table="{table}">(.*?)</table>', page, re.S)[1]
    return re.findall(
        r'<tr data-by="([^"]+)"><th[^>]*>([^<]+)</th>.*?data-cell="returns"><a href="([^"]+)">(\d+)</a>'
        r'.*?data-cell="revenue">([\d.,]+)<',
        body,
        re.S,
    )


def test_a_manager_sees_the_returns_and_revenue_by_what_brought_them_back(
    client, manager_a, agent_a, history, django_assert_num_queries
):
    client.force_login(manager_a)
    # The dashboard's 10, the two "won back by" sums and the campaigns' names.
    with time_machine.travel(TODAY, tick=False), django_assert_num_queries(9):
        response = client.get(reverse("customers:retention"), {"month": "2026-03"})
    page = response.content.decode()

    assert response.status_code == 200
    assert 'data-figure="won_back">6<' in page
    sources = [(key, label, returns, revenue) for key, label, _url, returns, revenue in _rows(page, "won-back-by")]
    assert sources == [
        ("rule:lost_customer", "规则：流失客户招揽", "2", "2000.00"),
        ("kind:event", "参加车主俱乐部活动", "1", "200.00"),  # the same count: by name
        (f"campaign:{history.pk}", "营销短信：春季保养季", "1", "500.50"),
        ("none", "未联系", "2", "300.00"),
    ]
    assert 'data-total="returns">6<' in page
    assert 'data-total="revenue">3000.50<' in page
    agents = [(key, label, returns, revenue) for key, label, _url, returns, revenue in _rows(page, "won-back-agents")]
    assert agents == [(f"agent:{agent_a.pk}", "李娜", "2", "2000.00")]
    assert 'id="won-back-chart"' in page


def test_each_figure_leads_to_the_customers_behind_it(client, manager_a, agent_a, history):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("customers:retention"), {"month": "2026-03"}).content.decode()
    links = {key: url.replace("&amp;", "&") for key, _label, url, _r, _v in _rows(page, "won-back-by")}
    links.update({key: url.replace("&amp;", "&") for key, _label, url, _r, _v in _rows(page, "won-back-agents")})

    behind = {}
    with time_machine.travel(TODAY, tick=False):
        for key, url in links.items():
            response = client.get(url)
            assert response.status_code == 200
            behind[key] = re.findall(r'data-customer-no="(\w+)"', response.content.decode())
    assert links["none"] == (
        "/customers/retention/customers/?month=2026-03&to=active&previous=dormant&previous=lost&by=none"
    )
    assert behind == {
        "rule:lost_customer": ["R1", "R2"],
        f"campaign:{history.pk}": ["S1"],
        "kind:event": ["E1"],
        "none": ["N1", "N2"],
        f"agent:{agent_a.pk}": ["R1", "R2"],
    }
    with time_machine.travel(TODAY, tick=False):
        described = client.get(links["none"]).content.decode()
    assert "挽回方式：未联系" in described
    assert 'name="by" value="none"' in described


def test_another_stores_manager_sees_nothing_of_store_a(client, manager_b, store_a, history):
    client.force_login(manager_b)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("customers:retention"), {"month": "2026-03"}).content.decode()
        foreign = client.get(
            reverse("customers:retention_customers"),
            {"month": "2026-03", "to": "active", "previous": ["dormant", "lost"], "by": "rule:lost_customer"},
        ).content.decode()

    assert [(key, returns, revenue) for key, _l, _u, returns, revenue in _rows(page, "won-back-by")] == [
        ("none", "1", "9999.00")
    ]
    assert "won-back-agents" not in page
    assert "春季保养季" not in page
    assert re.findall(r'data-customer-no="(\w+)"', foreign) == []


def test_a_bad_figure_key_is_a_clear_message(client, manager_a, history):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        response = client.get(
            reverse("customers:retention_customers"),
            {"month": "2026-03", "to": "active", "previous": ["dormant", "lost"], "by": "campaign:abc"},
        )

    assert response.status_code == 400
    assert "这不是看板上“挽回方式”中的一项。" in response.content.decode()
    assert "data-customer-no" not in response.content.decode()


def test_a_month_nobody_was_won_back_says_so(client, manager_a, history):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("customers:retention"), {"month": "2026-02"}).content.decode()

    assert "本月没有挽回的客户。" in page
    assert 'id="won-back-chart"' not in page
