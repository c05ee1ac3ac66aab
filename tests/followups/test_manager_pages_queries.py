"""The managers' follow-up pages of the load harness (bench/page_queries.py): the assigned calls of
all staff (My tasks as a manager), the rules and tomorrow's queue preview answer in a pinned number
of queries, the same for a few rows as for many."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.core.cache import cache
from django.urls import reverse

from tests.factories import CustomerFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)
D = datetime.date
# session, the user with their groups, permissions and store IDs (crm/auth_backends.py), the
# manager's TOTP device
REQUEST = 3


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

    def preview_queries() -> tuple[int, int]:
        """The queries of the page that counts (no counts kept: the count runs inline, the tests'
        Celery being eager)."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        cache.delete_many(cache_keys_of_the_preview())
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("followups:preview"), {"date": "2026-11-24"})
        assert response.context["preview"].state == "ready"
        return len(queries), sum(row["generated"] for row in response.context["preview"].rows)

    few, counted = preview_queries()
    for _index in range(6):
        VehicleFactory(customer=CustomerFactory(store=store_a), store=store_a, delivery_date=D(2026, 11, 21))
    assert preview_queries() == (few, counted + 6)
    # + the page's rules and calendar (the key), then the count (inline: the tests' Celery is
    # eager): the rules and the calendar again, the counts' transaction (savepoint, JIT off,
    # release) and 14 for the store's 16 default rules (a count per enabled rule that reads
    # candidates, and what the builders read besides: the club's events): it grows with the rules,
    # not with the data nor the stores (tests/followups/test_preview.py); then the tasks rolled over.
    assert sum(rule.is_enabled for rule in rules.values()) == 16
    assert few == REQUEST + 2 + 2 + 3 + 14 + 1


def test_tomorrows_queue_preview_with_its_counts_kept(client, manager_a, store_a, django_assert_num_queries):
    rules_for(store_a)
    client.force_login(manager_a)
    client.get(reverse("followups:preview"))  # counts tomorrow's queue (eagerly) and keeps it

    # + the rules and the calendar (the key), the tasks rolled over: no count.
    with django_assert_num_queries(REQUEST + 3):
        response = client.get(reverse("followups:preview"))
    assert response.context["preview"].state == "ready"
    assert len(response.context["preview"].rows) == 16


def cache_keys_of_the_preview() -> list[str]:
    """The preview's keys (counts and markers) as the test's cache names them, prefix removed."""
    client = cache._cache.get_client()
    return [key.decode().split(":", 2)[2] for key in client.scan_iter(match="*followups:preview:*")]
