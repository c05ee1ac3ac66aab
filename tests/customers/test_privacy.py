"""Privacy of customer data: the confidentiality levels, phone search by digits (limited and
audited as a reveal), and every page that shows a full number writing an audit row."""

import datetime
import zoneinfo

import pytest
from django.urls import reverse

from crm.choices import Role
from customers.models import Segment
from customers.segments import segment_count_for_user, segment_customers_for_user
from customers.selectors import customer_queryset_for_user
from customers.services import customer_stats_refresh
from followups.selectors import queue_for_user
from followups.services import task_claim_next
from tests.factories import CustomerFactory, UserFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


# --- confidentiality levels ------------------------------------------------------------------


@pytest.fixture
def graded(store_a):
    """One card of each level in store A (numbers T, C, S, N) and a 机密 card of another store (X)."""
    cards = {
        level: CustomerFactory(store=store_a, customer_no=code, confidentiality=level)
        for code, level in (("T", "top_secret"), ("C", "confidential"), ("S", "secret"), ("N", "normal"))
    }
    return cards


def visible_numbers(user) -> list[str]:
    return sorted(customer_queryset_for_user(user).values_list("customer_no", flat=True))


def segment_numbers(user) -> list[str]:
    customer_stats_refresh()
    segment = Segment(definition={})
    listed = sorted(segment_customers_for_user(user=user, segment=segment).values_list("customer_no", flat=True))
    assert segment_count_for_user(user=user, segment=segment) == len(listed)
    return listed


def test_each_level_is_seen_by_whom_the_spec_says(graded, advisor_a, manager_a, manager_b, admin_user, store_b):
    other_manager = UserFactory(username="manager_ab", role=Role.MANAGER, stores=[store_b])
    # 绝密: named staff only; 机密: named staff and store A's managers; 秘密 and 普通: store A.
    assert visible_numbers(advisor_a) == ["N", "S"]
    assert visible_numbers(manager_a) == ["C", "N", "S"]
    assert visible_numbers(manager_b) == []
    assert visible_numbers(other_manager) == []
    assert visible_numbers(admin_user) == ["N", "S"]  # every store, but not a manager of store A

    graded["top_secret"].authorized_staff.add(advisor_a)
    graded["confidential"].authorized_staff.add(advisor_a)

    assert visible_numbers(advisor_a) == ["C", "N", "S", "T"]
    assert visible_numbers(manager_a) == ["C", "N", "S"]


def test_a_manager_granted_the_group_sees_confidential_cards_of_his_own_stores_only(graded, store_a, store_b):
    regional = UserFactory(username="regional", role=Role.MANAGER, stores=[store_b], sees_all_stores=True)
    assert visible_numbers(regional) == ["N", "S"]
    regional.stores.add(store_a)
    regional = type(regional).objects.get(pk=regional.pk)  # a fresh user: the role and stores are cached
    assert visible_numbers(regional) == ["C", "N", "S"]


def test_segments_count_and_list_the_same_levels(graded, advisor_a, manager_a):
    assert segment_numbers(advisor_a) == ["N", "S"]
    assert segment_numbers(manager_a) == ["C", "N", "S"]
    graded["top_secret"].authorized_staff.add(manager_a)
    assert segment_numbers(manager_a) == ["C", "N", "S", "T"]


def test_confidential_card_page_is_a_404_for_the_advisor(client, graded, advisor_a, manager_a):
    url = reverse("customers:detail", args=[graded["confidential"].pk])
    client.force_login(advisor_a)
    assert client.get(url).status_code == 404
    client.force_login(manager_a)
    assert client.get(url).status_code == 200


def test_the_call_queue_and_the_claim_skip_cards_the_agent_may_not_see(store_a, agent_a):
    for name, value in ALL_DAY.items():
        setattr(store_a, name, value)
    store_a.save()
    hidden = FollowupTaskFactory(
        store=store_a,
        customer=CustomerFactory(store=store_a, customer_no="C", confidentiality="confidential"),
        priority=1,
        rule_date=datetime.date(2026, 11, 23),
    )
    shown = FollowupTaskFactory(
        store=store_a,
        customer=CustomerFactory(store=store_a, customer_no="S", confidentiality="secret"),
        priority=5,
        rule_date=datetime.date(2026, 11, 23),
    )
    queue = queue_for_user(user=agent_a, today=datetime.date(2026, 11, 23))
    assert [row["customer__customer_no"] for row in queue] == ["S"]
    assert [task.pk for task in task_claim_next(user=agent_a, now=MONDAY_10AM)] == [shown.pk]

    hidden.customer.authorized_staff.add(agent_a)
    agent = type(agent_a).objects.get(pk=agent_a.pk)
    queue = queue_for_user(user=agent, today=datetime.date(2026, 11, 23))
    assert [row["customer__customer_no"] for row in queue] == ["C", "S"]
