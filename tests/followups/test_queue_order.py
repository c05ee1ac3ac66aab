"""The queue's list and its claim share one order: "next" takes the first callable row of the list
(issue 15), whatever makes a row first or not callable."""

import datetime
import random
import re
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from crm.choices import Role
from crm.scoping import user_active_stores
from followups import selectors
from followups.services import task_claim_next, task_release
from tests.factories import CustomerFactory, UserFactory
from tests.followups.factories import FollowupTaskFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
TODAY = datetime.date(2026, 11, 23)
D = datetime.date


def task(store, customer, *, priority=5, work_date=TODAY, rule_date=None, **fields):
    return FollowupTaskFactory(
        store=store, customer=customer, priority=priority, work_date=work_date, queue_date=work_date,
        rule_date=rule_date or work_date, **fields,
    )  # fmt: skip


def customers(store, count):
    """``count`` customers in ascending id order."""
    return sorted((CustomerFactory(store=store) for _index in range(count)), key=lambda customer: customer.pk)


def listed(user) -> list[tuple[int, bool]]:
    """The queue page's rows as (customer id, callable now), in the page's order."""
    stores = user_active_stores(user)
    rows = list(selectors.queue_for_user(user=user, today=TODAY, now=MONDAY_10AM, stores=stores))
    rows = selectors.queue_rows_complete(user=user, rows=rows, stores=stores, now=MONDAY_10AM)
    return [(row["customer_id"], row["callable"]) for row in rows]


def first_callable(user) -> int | None:
    return next((customer_id for customer_id, is_callable in listed(user) if is_callable), None)


def claimed(user) -> int | None:
    tasks = task_claim_next(user=user, now=MONDAY_10AM)
    return tasks[0].customer_id if tasks else None


def test_a_lower_priority_number_comes_first(store_a, agent_a):
    first, second = customers(store_a, 2)
    task(store_a, first, priority=5)
    task(store_a, second, priority=1)

    assert listed(agent_a) == [(second.pk, True), (first.pk, True)]
    assert claimed(agent_a) == second.pk


def test_at_the_same_priority_the_oldest_work_date_comes_first(store_a, agent_a):
    first, second = customers(store_a, 2)
    task(store_a, first, priority=2)
    task(store_a, second, priority=2, work_date=D(2026, 11, 20))  # overdue

    assert listed(agent_a) == [(second.pk, True), (first.pk, True)]
    assert claimed(agent_a) == second.pk


def test_at_the_same_priority_and_date_the_customer_decides_not_the_task(store_a, agent_a):
    first, second = customers(store_a, 2)
    task(store_a, second)  # the older task, of the later customer
    task(store_a, first)

    assert listed(agent_a) == [(first.pk, True), (second.pk, True)]
    assert claimed(agent_a) == first.pk


def test_a_customer_ranks_by_its_most_urgent_task_not_by_separate_minimums(store_a, agent_a):
    first, second = customers(store_a, 2)
    task(store_a, first, priority=1, work_date=D(2026, 11, 20))
    # (1, 21 Nov) and (3, 19 Nov): its most urgent task is (1, 21 Nov), after the first's (1, 20 Nov).
    task(store_a, second, priority=1, work_date=D(2026, 11, 21))
    task(store_a, second, priority=3, work_date=D(2026, 11, 19), code="insurance_renewal")

    assert listed(agent_a) == [(first.pk, True), (second.pk, True)]
    assert claimed(agent_a) == first.pk


def test_a_task_to_call_back_later_does_not_rank_its_customer(store_a, agent_a):
    first, second = customers(store_a, 2)
    task(store_a, first, priority=1, callback_at=MONDAY_10AM + datetime.timedelta(hours=2))
    task(store_a, first, priority=5, code="insurance_renewal")  # callable now, but least urgent
    task(store_a, second, priority=3)

    assert listed(agent_a) == [(second.pk, True), (first.pk, True)]
    assert claimed(agent_a) == second.pk
    assert [item.code for item in task_claim_next(user=UserFactory(username="agent_x", role=Role.CALL_AGENT,
                                                                   stores=[store_a]), now=MONDAY_10AM)] == [
        "insurance_renewal"
    ]  # fmt: skip


def test_rows_that_cannot_be_called_now_are_shown_and_skipped(store_a, agent_a):
    later, do_not_call, busy, put_back, callable_one = customers(store_a, 5)
    task(store_a, later, priority=1, callback_at=MONDAY_10AM + datetime.timedelta(hours=1))
    do_not_call.do_not_call = True
    do_not_call.save()
    task(store_a, do_not_call, priority=2)
    other = UserFactory(username="agent_x", role=Role.CALL_AGENT, stores=[store_a])
    task(store_a, busy, priority=3, claimed_by=other, claimed_at=MONDAY_10AM - datetime.timedelta(minutes=5))
    task(store_a, put_back, priority=4, claimed_by=agent_a, claimed_at=MONDAY_10AM)
    task_release(user=agent_a, customer_id=put_back.pk, now=MONDAY_10AM)  # skipped for 15 minutes
    task(store_a, callable_one, priority=5)

    assert listed(agent_a) == [
        (later.pk, False),  # to call back in an hour
        (do_not_call.pk, False),
        (busy.pk, False),  # another agent is calling
        (put_back.pk, False),
        (callable_one.pk, True),
    ]
    assert first_callable(agent_a) == claimed(agent_a) == callable_one.pk


@pytest.mark.parametrize("seed", range(6))
def test_the_first_callable_row_is_what_next_claims_for_mixed_queues(store_a, agent_a, seed):
    """Queues of 8 customers with priorities, dates, call-backs and several tasks each, drawn from
    ``seed``: every "next" in turn claims the list's first callable row."""
    chance = random.Random(seed)
    for customer in customers(store_a, 8):
        for index in range(chance.randint(1, 3)):
            callback = chance.choice([None, None, MONDAY_10AM + datetime.timedelta(hours=1),
                                      MONDAY_10AM - datetime.timedelta(hours=1)])  # fmt: skip
            work_date = TODAY - datetime.timedelta(chance.randint(0, 2))
            task(store_a, customer, priority=chance.randint(1, 3), work_date=work_date,
                 rule_date=TODAY - datetime.timedelta(10 + index), callback_at=callback)  # fmt: skip
    agents = [UserFactory(username=f"agent_{index}", role=Role.CALL_AGENT, stores=[store_a]) for index in range(8)]

    taken = []
    for agent in agents:
        expected = first_callable(agent)
        assert claimed(agent) == expected
        if expected is None:
            break
        taken.append(expected)
    assert len(set(taken)) == len(taken)


def test_the_page_marks_the_rows_next_would_take(client, store_a, agent_a):
    first, second = customers(store_a, 2)
    task(store_a, first, priority=1, callback_at=MONDAY_10AM + datetime.timedelta(hours=1))
    task(store_a, second, priority=2)
    client.force_login(agent_a)

    with time_machine.travel(MONDAY_10AM, tick=False):
        html = client.get(reverse("followups:queue")).content.decode()
        claimed_html = client.post(reverse("followups:queue_next"), headers={"HX-Request": "true"}).content.decode()

    rows = re.findall(r'data-customer="(\d+)" data-callable="([01])"', html)
    assert rows == [(str(first.pk), "0"), (str(second.pk), "1")]
    assert f'data-call-customer="{second.pk}"' in claimed_html
