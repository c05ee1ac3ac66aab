"""The calls' funnel of the follow-up reports: reached → booked → kept → repair order within 7 days."""

import datetime
import zoneinfo
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from crm.choices import Role
from customers.models import Appointment
from followups.selectors import call_funnel_report
from tests.factories import CustomerFactory, RepairOrderFactory, UserFactory, VehicleFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory
from tests.followups.report_recount import call_funnel_report_recount

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
NOVEMBER = {"start": D(2026, 11, 1), "end": D(2026, 11, 30)}


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=SHANGHAI)


def reached_task(store, agent, *, code="maintenance_due", when, outcome="reached"):
    customer = CustomerFactory(store=store)
    vehicle = VehicleFactory(customer=customer)
    task = FollowupTaskFactory(store=store, customer=customer, vehicle=vehicle, code=code)
    CallAttemptFactory(task=task, agent=agent, at=when, outcome=outcome)
    return task


def booking(task, *, kept: bool, source="call", reference=None):
    return Appointment.objects.create(
        store=task.store, customer=task.customer, vehicle=task.vehicle, date=D(2026, 11, 20),
        slot=datetime.time(9, 0), purpose="maintenance", source=source,
        source_reference=reference if reference is not None else f"followuptask:{task.pk}",
        status="arrived" if kept else "no_show", kept_at=at(20, 9) if kept else None,
    )  # fmt: skip


def order(task, *, opened: D, total: str):
    return RepairOrderFactory(vehicle=task.vehicle, open_date=opened, settle_date=opened, total_amount=Decimal(total))


@pytest.fixture
def funnel_data(store_a, store_b, agent_a):
    agent_c = UserFactory(username="agent_c", role=Role.CALL_AGENT, stores=[store_a], last_name="王", first_name="芳")
    # Reached late in the evening of the 10th (Shanghai), booked and kept; an order on day 2 counts,
    # the one on day 8 does not.
    first = reached_task(store_a, agent_a, when=at(10, 23, 30))
    booking(first, kept=True)
    order(first, opened=D(2026, 11, 12), total="800.00")
    order(first, opened=D(2026, 11, 18), total="999.00")
    # Not answered on the 9th, reached by agent_c on the 11th: booked but not kept; an order on day 7.
    second = reached_task(store_a, agent_a, when=at(9), outcome="no_answer")
    CallAttemptFactory(task=second, agent=agent_c, at=at(11), outcome="reached")
    booking(second, kept=False)
    order(second, opened=D(2026, 11, 18), total="1200.50")
    # Reached, nothing booked; the order opened the day before the call is not the call's.
    third = reached_task(store_a, agent_a, when=at(12))
    order(third, opened=D(2026, 11, 11), total="300.00")
    # "booked" (the outcome of a call that books) counts as reached; a desk booking naming the task
    # and a call booking naming another task are not this call's.
    fourth = reached_task(store_a, agent_a, code="post_repair_callback", when=at(13), outcome="booked")
    booking(fourth, kept=True, source="desk")
    booking(fourth, kept=True, reference=f"followuptask:{third.pk}0")
    # Outside the period, another store, not reached: left out.
    reached_task(store_a, agent_a, when=at(31, month=10))
    other_store = reached_task(store_b, None, when=at(14))
    booking(other_store, kept=True)
    order(other_store, opened=D(2026, 11, 15), total="5000.00")
    reached_task(store_a, agent_a, when=at(15), outcome="no_answer")
    return agent_c


def figures(row):
    keys = ("reached", "booked", "kept", "orders", "revenue", "booked_rate", "kept_rate", "order_rate")
    return tuple(row[key] for key in keys)


def test_the_funnel_per_rule_and_per_agent(manager_a, funnel_data, django_assert_num_queries):
    with django_assert_num_queries(2):  # the manager's stores, then the one statement
        report = call_funnel_report(user=manager_a, **NOVEMBER)

    assert [(row["code"], figures(row)) for row in report["by_rule"]] == [
        ("maintenance_due", (3, 2, 1, 2, Decimal("2000.50"), 66.7, 50.0, 66.7)),
        ("post_repair_callback", (1, 0, 0, 0, Decimal("0"), 0.0, None, 0.0)),
    ]
    assert [(row["username"], row["name"], figures(row)) for row in report["by_agent"]] == [
        ("agent_a", "王明", (3, 1, 1, 1, Decimal("800.00"), 33.3, 100.0, 33.3)),
        ("agent_c", "王芳", (1, 1, 0, 1, Decimal("1200.50"), 100.0, 0.0, 100.0)),
    ]


def test_the_funnel_keeps_to_the_users_stores(manager_b, funnel_data):
    report = call_funnel_report(user=manager_b, **NOVEMBER)

    assert [(row["code"], figures(row)) for row in report["by_rule"]] == [
        ("maintenance_due", (1, 1, 1, 1, Decimal("5000.00"), 100.0, 100.0, 100.0)),
    ]
    assert [(row["username"], row["reached"]) for row in report["by_agent"]] == [("", 1)]


def test_the_funnel_of_an_empty_period(manager_a, funnel_data):
    assert call_funnel_report(user=manager_a, start=D(2026, 9, 1), end=D(2026, 9, 30)) == {
        "by_rule": [],
        "by_agent": [],
    }


@pytest.fixture
def in_december():
    with time_machine.travel(at(2, month=12), tick=False):
        yield


def test_the_reports_page_shows_the_funnel_and_costs_fixed_queries(
    client, manager_a, funnel_data, in_december, django_assert_num_queries
):
    client.force_login(manager_a)
    client.get(reverse("followups:reports"))  # warm the session

    # 17 before the per-day figures (followups/report_figures.py); 11 with them, + 1 for the questionnaire factors
    with django_assert_num_queries(8):
        response = client.get(reverse("followups:reports"), {"start": "2026-11-01", "end": "2026-11-30"})

    html = response.content.decode()
    assert response.status_code == 200
    assert '<tr data-key="maintenance_due">' in html
    assert 'data-cell="revenue">2000.50</td>' in html
    assert 'data-cell="booked">2 <small class="muted">(66.7%)</small></td>' in html
    assert response.context["chart"]["funnel"] == {
        "reached": [3, 1],
        "booked": [2, 0],
        "kept": [1, 0],
        "orders": [2, 0],
    }
    assert 'data-link="appointment-report"' in html
    assert 'data-link="prospect-report"' in html


def test_the_funnel_of_a_store_b_manager_names_nothing_of_store_a(client, manager_b, funnel_data, in_december):
    client.force_login(manager_b)

    response = client.get(reverse("followups:reports"), {"start": "2026-11-01", "end": "2026-11-30"})

    html = response.content.decode()
    assert "agent_a" not in html
    assert "agent_c" not in html
    assert 'data-cell="revenue">5000.00</td>' in html


def test_a_sales_consultant_may_not_read_the_reports(client, sales_a):
    client.force_login(sales_a)
    assert client.get(reverse("followups:reports")).status_code == 403


def test_a_booking_kept_and_an_order_opened_after_the_report_are_in_the_next_one(manager_a, store_a, agent_a):
    """The funnel is read live from the calls, bookings and repair orders: what happens after a
    call (the booking kept, the order imported) shows at once, with nothing to refresh."""
    task = reached_task(store_a, agent_a, when=at(10))
    appointment = booking(task, kept=False)
    before = call_funnel_report(user=manager_a, **NOVEMBER)

    Appointment.objects.filter(pk=appointment.pk).update(status="arrived", kept_at=at(20, 9))
    order(task, opened=D(2026, 11, 16), total="640.00")

    assert [figures(row) for row in before["by_rule"]] == [(1, 1, 0, 0, Decimal("0"), 100.0, 0.0, 0.0)]
    assert [figures(row) for row in call_funnel_report(user=manager_a, **NOVEMBER)["by_rule"]] == [
        (1, 1, 1, 1, Decimal("640.00"), 100.0, 100.0, 100.0)
    ]


def test_a_task_counts_once_at_its_first_reaching_call_ever(manager_a, store_a, agent_a):
    agent_c = UserFactory(username="agent_c", role=Role.CALL_AGENT, stores=[store_a])
    # Reached in October and again in November: November's funnel does not count it.
    october = reached_task(store_a, agent_a, when=at(31, 20, month=10))
    CallAttemptFactory(task=october, agent=agent_a, at=at(5), outcome="reached")
    # Reached on the 3rd by agent_c and again on the 8th by agent_a (same minute as another
    # attempt of the task): counted once, agent_c's, its orders from the 3rd.
    twice = reached_task(store_a, agent_c, when=at(3))
    CallAttemptFactory(task=twice, agent=agent_a, at=at(8), outcome="booked")
    CallAttemptFactory(task=twice, agent=agent_a, at=at(8), outcome="reached")
    order(twice, opened=D(2026, 11, 9), total="100.00")
    order(twice, opened=D(2026, 11, 11), total="200.00")  # day 8 after the 3rd: not the call's

    report = call_funnel_report(user=manager_a, **NOVEMBER)

    assert [figures(row) for row in report["by_rule"]] == [(1, 0, 0, 1, Decimal("100.00"), 0.0, None, 100.0)]
    assert [(row["username"], row["reached"]) for row in report["by_agent"]] == [("agent_c", 1)]
    assert report == call_funnel_report_recount(user=manager_a, **NOVEMBER)
