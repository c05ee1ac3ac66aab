"""Satisfaction over time: the monthly average score and share dissatisfied per rule, store,
service advisor and sales consultant of record, the distribution of scores; for managers, scoped to
their stores, results without a score counted in the share only."""

import datetime
import re
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from customers.models import SatisfactionResult
from customers.satisfaction import satisfaction_result_record
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
TODAY = datetime.datetime(2026, 4, 10, 10, 0, tzinfo=SHANGHAI)


def at(day, hour=10, minute=0):
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


def result(customer, when, score, *, source="call", rule_code="post_repair_callback", verdict=None):
    """Recorded through the service, after the customer's cars and repair orders: credited then."""
    return satisfaction_result_record(
        customer=customer, at=when, score=score, verdict=verdict, department="service", source=source,
        rule_code=rule_code, reference=f"test:{SatisfactionResult.objects.count()}",
    )[0]  # fmt: skip


@pytest.fixture
def history(store_a, store_b):
    x = CustomerFactory(customer_no="X1", store=store_a)
    car = VehicleFactory(customer=x, store=store_a, delivery_date=D(2025, 1, 5), sales_consultant="王销售")
    RepairOrderFactory(vehicle=car, store=store_a, settle_date=D(2026, 1, 10), service_advisor="张顾问")
    RepairOrderFactory(vehicle=car, store=store_a, settle_date=D(2026, 3, 5), service_advisor="李顾问")
    y = CustomerFactory(customer_no="Y1", store=store_a)
    VehicleFactory(customer=y, store=store_a, delivery_date=D(2024, 5, 1), sales_consultant="王销售")
    VehicleFactory(customer=y, store=store_a, delivery_date=D(2026, 2, 1), sales_consultant="赵销售")
    z = CustomerFactory(customer_no="Z1", store=store_b)
    VehicleFactory(customer=z, store=store_b, delivery_date=D(2025, 1, 5), sales_consultant="钱销售")

    result(x, at(D(2025, 4, 1)), 1)  # before the default 12 months
    result(x, at(D(2026, 1, 20)), 5)
    result(x, at(D(2026, 3, 5), 20), 2, source="sms_reply")  # the repair order of that day is of record
    result(x, at(D(2026, 4, 2)), None, rule_code="dissatisfied_followup", verdict="dissatisfied")
    result(y, at(D(2026, 2, 1), 15), 4, source="delivery_interview", rule_code="")
    result(y, at(D(2026, 1, 31), 23, 30), 3, rule_code="delivery_thanks")  # January in Beijing time
    result(z, at(D(2026, 3, 10)), 1)


def _groups(page):
    rows = re.findall(r'<tr data-group="([^"]*)"><th[^>]*>([^<]*)</th>(.*?)</tr>', page, re.S)
    return {
        key: tuple(re.search(rf'data-cell="{cell}">([^<]*)<', cells)[1] for cell in ("results", "average", "share"))
        for key, _label, cells in rows
    }


def _months(page):
    body = re.search(r'data-table="satisfaction-months">(.*?)</table>', page, re.S)[1]
    rows = re.findall(r'<tr data-month="([\d-]+)">(.*?)</tr>', body, re.S)
    return {
        month: tuple(re.search(rf'data-cell="{cell}">([^<]*)<', cells)[1] for cell in ("results", "average", "share"))
        for month, cells in rows
    }


def test_a_manager_sees_the_monthly_trend_per_rule_and_the_distribution(
    client, manager_a, history, django_assert_num_queries
):
    client.force_login(manager_a)
    # Pinned: the reads every page makes, the store choices and the trend's two sums, whatever the data.
    with time_machine.travel(TODAY, tick=False), django_assert_num_queries(6):
        response = client.get(reverse("customers:satisfaction"))
    page = response.content.decode()

    assert response.status_code == 200
    assert 'name="first" value="2025-05"' in page
    assert 'name="last" value="2026-04"' in page
    assert 'data-figure="results">5<' in page
    assert 'data-figure="average">3.50<' in page
    assert 'data-figure="share">40.0%<' in page
    months = _months(page)
    assert len(months) == 12
    assert {month: figures for month, figures in months.items() if figures[0] != "0"} == {
        "2026-01": ("2", "4.00", "0.0%"),
        "2026-02": ("1", "4.00", "0.0%"),
        "2026-03": ("1", "2.00", "100.0%"),
        "2026-04": ("1", "—", "100.0%"),
    }
    assert months["2025-05"] == ("0", "—", "—")
    assert re.search(r'<tr data-month="2026-04">.*?data-partial', page, re.S)
    assert _groups(page) == {
        "post_repair_callback": ("2", "3.50", "50.0%"),
        "source:delivery_interview": ("1", "4.00", "0.0%"),
        "dissatisfied_followup": ("1", "—", "100.0%"),
        "delivery_thanks": ("1", "3.00", "0.0%"),
    }
    assert re.findall(r'<tr data-group="([^"]*)">', page)[0] == "post_repair_callback"
    assert "交车满意度面访" in page
    scores = re.findall(r'<tr data-score="(\w+)">.*?data-cell="count">(\d+)<', page)
    assert scores == [("1", "0"), ("2", "1"), ("3", "1"), ("4", "1"), ("5", "1"), ("none", "1")]
    assert "vendor/chart-4.6.1.umd.min.js" in page


def test_grouped_by_the_advisor_and_the_consultant_of_record(client, manager_a, history):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        advisors = client.get(reverse("customers:satisfaction"), {"by": "advisor"}).content.decode()
        consultants = client.get(reverse("customers:satisfaction"), {"by": "consultant"}).content.decode()

    assert _groups(advisors) == {
        "李顾问": ("2", "2.00", "100.0%"),
        "": ("2", "3.50", "0.0%"),
        "张顾问": ("1", "5.00", "0.0%"),
    }
    assert "（无记录）" in advisors
    assert _groups(consultants) == {"王销售": ("4", "3.33", "50.0%"), "赵销售": ("1", "4.00", "0.0%")}


def test_a_group_manager_sees_every_store_and_a_longer_period(client, admin_user, store_a, store_b, history):
    client.force_login(admin_user)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("customers:satisfaction"), {"by": "store", "first": "2023-05"}).content.decode()

    assert len(_months(page)) == 36
    assert _groups(page) == {str(store_a.pk): ("6", "3.00", "50.0%"), str(store_b.pk): ("1", "1.00", "100.0%")}
    assert "江宁店" in page
    assert "鼓楼店" in page


def test_another_stores_manager_sees_nothing_of_store_a(client, manager_b, store_a, history):
    client.force_login(manager_b)
    with time_machine.travel(TODAY, tick=False):
        own = client.get(reverse("customers:satisfaction"), {"by": "consultant"}).content.decode()
        foreign = client.get(reverse("customers:satisfaction"), {"store": store_a.pk})

    assert _groups(own) == {"钱销售": ("1", "1.00", "100.0%")}
    assert "王销售" not in own
    assert "江宁店" not in own
    assert foreign.status_code == 400
    assert "data-group=" not in foreign.content.decode()


def test_the_groups_are_searched(client, manager_a, history):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("customers:satisfaction"), {"by": "advisor", "q": "李"}).content.decode()

    assert _groups(page) == {"李顾问": ("2", "2.00", "100.0%")}
    assert 'data-figure="results">5<' in page  # the figures of the period stay whole


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"first": "2026-13"}, "请按YYYY-MM格式输入月份，例如2026-03。"),
        ({"last": "2026-05"}, "请选择本月或更早的月份。"),
        ({"first": "2026-03", "last": "2026-01"}, "所选期间的开始晚于结束。"),
        ({"first": "2023-01", "last": "2026-01"}, "最多选择36个月（该期间有37个月）。"),
        ({"by": "colour"}, "选择一个有效的选项。 colour 不在可用的选项中。"),
    ],
)
def test_a_bad_period_or_grouping_is_a_clear_message(client, manager_a, query, message):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        response = client.get(reverse("customers:satisfaction"), query)

    assert response.status_code == 400
    assert message in response.content.decode()


def test_staff_without_the_permission_are_refused(client, agent_a, advisor_a, sales_a):
    for user in (agent_a, advisor_a, sales_a):
        client.force_login(user)
        assert client.get(reverse("customers:satisfaction")).status_code == 403


def test_the_page_is_in_the_managers_more_menu(client, manager_a):
    client.force_login(manager_a)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(reverse("customers:retention")).content.decode()

    assert 'href="/customers/satisfaction/"' in page
