"""The managers' follow-up pages of the load harness (bench/page_queries.py): the assigned calls of
all staff (My tasks as a manager), the rules and tomorrow's queue preview answer in a pinned number
of queries, the same for a few rows as for many."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.urls import reverse

from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
D = datetime.date
# session, user, groups, permissions (2), the manager's TOTP device, the user's store IDs
REQUEST = 7


@pytest.fixture(autouse=True)
def at_monday():
    with time_machine.travel(MONDAY_10AM, tick=False):
        yield


def assigned(store, person, count: int) -> None:
    for _index in range(count):
        FollowupTaskFactory(store=store, assignee=person, rule_date=D(2026, 11, 23), code="delivery_day1_call")


def test_the_assigned_calls_of_all_staff(client, manager_a, sales_a, advisor_a, store_a, django_assert_num_queries):
    assigned(store_a, sales_a, 1)
    client.force_login(manager_a)
    client.get(reverse("followups:mine"))  # warm the session

    # + the rows with their count (one aggregate each), the stores for the call windows
    with django_assert_num_queries(REQUEST + 3):
        assert len(client.get(reverse("followups:mine")).context["page"].object_list) == 1
    assigned(store_a, sales_a, 6)
    assigned(store_a, advisor_a, 5)
    with django_assert_num_queries(REQUEST + 3):
        assert len(client.get(reverse("followups:mine")).context["page"].object_list) == 12


def test_the_rules_list(client, manager_a, store_a, store_b, django_assert_num_queries):
    rules = rules_for(store_a)
    client.force_login(manager_a)
    client.get(reverse("followups:rules"))

    with django_assert_num_queries(REQUEST + 2):  # + the rules with their count
        response = client.get(reverse("followups:rules"))
    assert len(response.context["page"].object_list) == len(rules)
    rules_for(store_b)  # another store's, not the manager's: the same page
    with django_assert_num_queries(REQUEST + 2):
        assert len(client.get(reverse("followups:rules")).context["page"].object_list) == len(rules)


def test_tomorrows_queue_preview_asks_once_per_rule_whatever_the_data(client, manager_a, store_a):
    rules = rules_for(store_a)
    client.force_login(manager_a)
    client.get(reverse("followups:preview"))

    def preview_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("followups:preview"), {"date": "2026-11-24"}).status_code == 200
        return len(queries)

    few = preview_queries()
    for _index in range(6):
        VehicleFactory(customer=CustomerFactory(store=store_a), store=store_a, delivery_date=D(2026, 11, 21))
    assert preview_queries() == few
    # + the rules, the tasks rolled over, the counts' transaction (savepoint, JIT off, release), then
    # one count per enabled rule that reads candidates (15 of the store's 16 default rules, with the
    # calendar and the club's events): it grows with the rules, not with the data nor the stores
    # (tests/followups/test_preview.py).
    assert sum(rule.is_enabled for rule in rules.values()) == 16
    assert few == REQUEST + 2 + 3 + 15
