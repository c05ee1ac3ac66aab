"""The call queue's cost (issue 16): the queries of the page and of a claim cycle are pinned and do
not grow with the queue nor with a customer's tasks, and every statement can be answered from an
index (no reading of every task or every customer)."""

import datetime
import json
import re
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from followups import selectors
from tests.factories import CustomerFactory
from tests.followups.factories import FollowupTaskFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
TODAY = datetime.date(2026, 11, 23)
HTMX = {"HX-Request": "true"}

# session, the user with their groups, permissions and stores (crm/auth_backends.py): every
# request of a logged-in agent
REQUEST = 2
# The call panel of a claimed customer: calendar for the booking day (which also says whether that
# day is a working one), membership badge, booking settings, the day's bookings, alerts
# (satisfaction, complaints), the customer's vehicles (once: the facts and the booking form's
# choices), earlier calls, the booking form's advisors.
PANEL = 9
# A claim: the agent's current call, the agent's stores (call windows), the pick and the
# advisory-locked UPDATE in a savepoint (4), the claimed tasks with their rule, vehicle, card
CLAIM = 7
# Recording the outcome: the card (scoped to the agent's stores, read with the user), then in a
# savepoint the claimed tasks locked, one UPDATE of them all, one INSERT of the attempts (5), and
# the calls added to the reports' per-day figures (followups/report_figures.py: one statement)
RECORD = 7
# The queue page's figures and list sent with the panel out of band (a request from that page): the
# list's page with its count, the page's names, the figures; the user's stores are those the claim
# read (views._user_stores: once for both).
QUEUE_FIGURES = 3


@pytest.fixture
def at_monday():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


def queue_of(store, *, customers: int, tasks_each: int = 1, priority: int = 1) -> list:
    """``customers`` customers with ``tasks_each`` open phone tasks each, due today."""
    made = []
    for _index in range(customers):
        customer = CustomerFactory(store=store)
        for number in range(tasks_each):
            FollowupTaskFactory(store=store, customer=customer, priority=priority,
                                rule_date=TODAY - datetime.timedelta(days=number), work_date=TODAY)  # fmt: skip
        made.append(customer)
    return made


@pytest.mark.parametrize("customers", [3, 30])
def test_the_queue_page_costs_the_same_for_3_or_30_customers(
    client, agent_a, store_a, at_monday, customers, django_assert_num_queries
):
    queue_of(store_a, customers=customers, tasks_each=2)
    client.force_login(agent_a)
    client.get(reverse("followups:queue"))  # warm the session

    # the user's stores (rows), the page with its count, the page's names, the figures
    with django_assert_num_queries(REQUEST + 4):
        response = client.get(reverse("followups:queue"))
    with django_assert_num_queries(REQUEST + 4):
        refreshed = client.get(reverse("followups:queue"), headers={**HTMX, "HX-Target": "queue-figures"})

    assert response.content.decode().count("data-customer=") == min(customers, 25)
    assert refreshed.content.decode().count("data-customer=") == min(customers, 25)
    assert "<html" not in refreshed.content.decode()


@pytest.mark.parametrize("tasks_each", [1, 5])
def test_next_costs_the_same_for_1_or_5_tasks_of_the_customer(
    client, agent_a, store_a, at_monday, tasks_each, django_assert_num_queries
):
    (customer,) = queue_of(store_a, customers=1, tasks_each=tasks_each)
    queue_of(store_a, customers=3, priority=5)
    client.force_login(agent_a)
    client.get(reverse("followups:queue"))

    with django_assert_num_queries(REQUEST + CLAIM + PANEL):
        response = client.post(reverse("followups:queue_next"), headers=HTMX)

    assert f'data-call-customer="{customer.pk}"' in response.content.decode()
    assert response.content.decode().count("data-task=") == tasks_each
    assert json.loads(response["HX-Trigger"]) == {"queue-changed": {}}


@pytest.mark.parametrize("tasks_each", [1, 5])
def test_save_and_next_costs_the_same_for_1_or_5_tasks_of_the_customer(
    client, agent_a, store_a, at_monday, tasks_each, django_assert_num_queries
):
    first, second = queue_of(store_a, customers=2, tasks_each=tasks_each)
    client.force_login(agent_a)
    client.post(reverse("followups:queue_next"), headers=HTMX)

    with django_assert_num_queries(REQUEST + RECORD + CLAIM + PANEL):
        response = client.post(
            reverse("followups:call_outcome", args=[first.pk]), {"outcome": "reached", "notes": ""}, headers=HTMX
        )

    html = response.content.decode()
    assert 'data-saved="true"' in html
    assert f'data-call-customer="{second.pk}"' in html
    assert html.count("data-task=") == tasks_each
    assert json.loads(response["HX-Trigger"]) == {"queue-changed": {}}


@pytest.mark.parametrize("tasks_each", [1, 5])
def test_save_and_next_from_the_queue_page_brings_its_figures_and_list_in_one_request(
    client, agent_a, store_a, at_monday, tasks_each, django_assert_num_queries
):
    first, second, third = queue_of(store_a, customers=3, tasks_each=tasks_each)
    client.force_login(agent_a)
    queue_page = {**HTMX, "HX-Current-URL": "http://testserver" + reverse("followups:queue")}
    client.post(reverse("followups:queue_next"), headers=queue_page)

    with django_assert_num_queries(REQUEST + RECORD + CLAIM + PANEL + QUEUE_FIGURES):
        response = client.post(
            reverse("followups:call_outcome", args=[first.pk]), {"outcome": "reached", "notes": ""},
            headers=queue_page,
        )  # fmt: skip

    html = response.content.decode()
    assert "HX-Trigger" not in response  # nothing left for the page to ask for
    assert f'data-call-customer="{second.pk}"' in html
    figures = re.search(r'<section id="queue-figures"[^>]*>', html).group(0)
    assert 'hx-swap-oob="true"' in figures
    assert 'hx-get="/followups/queue/"' in figures
    assert f'data-figure="open">{2 * tasks_each}<' in html  # the second and third customers' tasks
    assert f'data-figure="done">{tasks_each}<' in html
    assert '<div id="queue-list" hx-swap-oob="true">' in html
    listed = re.findall(r'<tr data-customer="(\d+)" data-callable="(\d)"', html)
    assert listed == [(str(second.pk), "1"), (str(third.pk), "1")]


def test_the_figures_and_list_sent_with_the_panel_keep_the_queue_pages_search_and_page(
    client, agent_a, store_a, at_monday
):
    customers = queue_of(store_a, customers=27)
    client.force_login(agent_a)
    page_url = reverse("followups:queue") + "?q=&page=2"
    queue_page = {**HTMX, "HX-Current-URL": "http://testserver" + page_url}

    html = client.post(reverse("followups:queue_next"), headers=queue_page).content.decode()

    assert f'hx-get="{page_url.replace("&", "&amp;")}"' in html
    assert re.findall(r'<tr data-customer="(\d+)"', html) == [str(customer.pk) for customer in customers[25:]]
    assert 'href="?q=&amp;page=1"' in html  # the page's link back keeps its query


def test_a_panel_sent_from_another_page_gets_no_queue_figures(client, agent_a, store_a, at_monday):
    (customer,) = queue_of(store_a, customers=1)
    client.force_login(agent_a)
    call_page = {**HTMX, "HX-Current-URL": "http://testserver" + reverse("followups:call", args=[customer.pk])}

    response = client.post(reverse("followups:queue_next"), headers=call_page)

    assert json.loads(response["HX-Trigger"]) == {"queue-changed": {}}
    assert "queue-figures" not in response.content.decode()


@pytest.mark.parametrize("tasks_each", [1, 5])
def test_put_back_costs_the_same_for_1_or_5_tasks(
    client, agent_a, store_a, at_monday, tasks_each, django_assert_num_queries
):
    (customer,) = queue_of(store_a, customers=1, tasks_each=tasks_each)
    client.force_login(agent_a)
    client.post(reverse("followups:queue_next"), headers=HTMX)

    # the call (kept alive, then read), the queue's tasks paused, any assigned ones given back
    with django_assert_num_queries(REQUEST + 4):
        response = client.post(reverse("followups:call_release", args=[customer.pk]), headers=HTMX)

    assert 'data-call="none"' in response.content.decode()
    assert json.loads(response["HX-Trigger"]) == {"queue-changed": {}}


def _plans_reading_every_row(queries: list[dict]) -> list[str]:
    """The statements that would read all of the tasks or customers table (a sequential scan even
    with sequential scans discouraged: no index can answer them)."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        try:
            # One captured query may hold several statements (a lock taken, then the write): each is planned.
            statements = [part for query in queries for part in re.split(r";\s*\n", query["sql"]) if part.strip()]
            for statement in statements:
                sql = re.sub(r"^\s*SET LOCAL [^;]*;\s*", "", statement).rstrip().rstrip(";")
                if not re.match(r"\s*(SELECT|UPDATE|INSERT)", sql) or not re.search(
                    r"followuptask|customers_customer\b", sql
                ):
                    continue
                cursor.execute("EXPLAIN " + sql)
                plan = "\n".join(row[0] for row in cursor.fetchall())
                if re.search(r"Seq Scan on (followups_followuptask|customers_customer)\b", plan):
                    found.append(f"{sql}\n{plan}")
        finally:
            cursor.execute("RESET enable_seqscan")
    return found


def test_no_statement_of_the_queue_page_or_a_claim_cycle_reads_every_task_or_customer(
    client, agent_a, store_a, at_monday, settings
):
    # Each statement is planned here with its values, as Django sends it when none is prepared.
    settings.DATABASE_PREPARED_STATEMENTS = False
    first, _second = queue_of(store_a, customers=2)
    hidden = CustomerFactory(store=store_a, confidentiality="top_secret")
    FollowupTaskFactory(store=store_a, customer=hidden, priority=1, rule_date=TODAY)
    client.force_login(agent_a)
    client.get(reverse("followups:queue"))

    with CaptureQueriesContext(connection) as page:
        html = client.get(reverse("followups:queue")).content.decode()
    queue_page = {**HTMX, "HX-Current-URL": "http://testserver" + reverse("followups:queue")}
    with CaptureQueriesContext(connection) as cycle:  # with the figures and list sent along
        client.post(reverse("followups:queue_next"), headers=queue_page)
        client.post(reverse("followups:call_outcome", args=[first.pk]), {"outcome": "reached"}, headers=queue_page)

    assert f'data-customer="{hidden.pk}"' not in html
    assert html.count("data-customer=") == 2
    assert _plans_reading_every_row(page.captured_queries + cycle.captured_queries) == []
    # "Done today" is a range from local midnight, not a date computed on every row.
    summary = next(query["sql"] for query in page.captured_queries if '"done_today"' in query["sql"])
    assert "AT TIME ZONE" not in summary
    assert "'2026-11-23T00:00:00+08:00'::timestamptz" in summary


def test_the_pages_statements_compiled_once_follow_the_clock(client, agent_a, store_a):
    """The list and the figures are compiled once per agent (selectors._compiled_at) and run with
    the real time of each request: a new day moves tomorrow's call into today's, and a claim stops
    counting as the agent's call once it lapsed."""
    customer = CustomerFactory(store=store_a)
    FollowupTaskFactory(store=store_a, customer=customer, priority=1, rule_date=TODAY, work_date=TODAY)
    later = CustomerFactory(store=store_a)
    tuesday = TODAY + datetime.timedelta(days=1)
    FollowupTaskFactory(store=store_a, customer=later, priority=1, rule_date=tuesday, work_date=tuesday)

    def figures() -> dict:
        client.force_login(agent_a)
        html = client.get(reverse("followups:queue")).content.decode()
        shown = dict(re.findall(r'data-figure="(\w+)">(\d+)<', html))
        return {**shown, "listed": len(re.findall(r"<tr data-customer=", html)), "resume": "Alt+N" in html
                and "继续我的通话" in html}  # fmt: skip

    with time_machine.travel(MONDAY_10AM, tick=False):
        before = figures()
        client.post(reverse("followups:queue_next"), headers=HTMX)
        in_call = figures()
    with time_machine.travel(MONDAY_10AM + datetime.timedelta(minutes=31), tick=False):
        lapsed = figures()
    with time_machine.travel(MONDAY_10AM + datetime.timedelta(days=1), tick=False):
        next_day = figures()

    assert before == {"open": "1", "done": "0", "tomorrow": "1", "listed": 1, "resume": False}
    assert in_call["resume"] is True
    assert lapsed["resume"] is False
    assert next_day == {"open": "2", "done": "0", "tomorrow": "0", "listed": 2, "resume": False}


def test_a_page_past_the_end_shows_the_last_one_and_a_search_narrows_the_list(client, agent_a, store_a, at_monday):
    customers = queue_of(store_a, customers=27)
    client.force_login(agent_a)

    past_the_end = client.get(reverse("followups:queue"), {"page": 9}).content.decode()
    searched = client.get(reverse("followups:queue"), {"q": customers[3].customer_no}).content.decode()

    assert re.findall(r'<tr data-customer="(\d+)"', past_the_end) == [str(customer.pk) for customer in customers[25:]]
    assert re.findall(r'<tr data-customer="(\d+)"', searched) == [str(customers[3].pk)]
    # Every kind of statement was compiled once and kept (not compiled again on every request).
    kept = {key[0] for key in selectors._COMPILED_SQL if key[1] == agent_a.pk}
    assert kept == {"page", "rows", "summary"}
