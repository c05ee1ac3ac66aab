"""The registry of follow-up rule builders: generation asks it for every rule's candidate SELECT."""

import datetime
from datetime import timedelta

import pytest

from customers.rule_builders import (
    Candidates,
    rule_builder_for,
    rule_builder_register,
    rule_builder_unregister,
    rule_builders,
)
from followups.choices import RuleCode
from followups.models import FollowupTask, GenerationRun
from followups.services import followups_generate_day
from tests.factories import CustomerFactory, StoreFactory
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db
D = datetime.date


def test_every_rule_has_a_builder_event_notice_the_clubs():
    from clubs.invitations import event_invitations

    assert set(rule_builders()) == set(RuleCode.values)
    assert rule_builder_for(RuleCode.EVENT_NOTICE) is event_invitations


def _club_event_invitations(rule, rule_dates):
    """What the club would register for event_notice: members interested in 自驾游 are invited to an
    event held ``-offset_days`` days after the rule date."""
    events = [rule_date - timedelta(days=rule.offset_days) for rule_date in rule_dates]
    return Candidates(
        """
        SELECT cu.store_id, cu.id AS customer_id, NULL::bigint AS vehicle_id, cu.id AS unit_id, wanted.rule_date,
               wanted.event_day AS subject_date, jsonb_build_object('event', '自驾游') AS detail
        FROM customers_customer cu
        CROSS JOIN unnest(%(targets)s::date[], %(events)s::date[]) AS wanted(rule_date, event_day)
        WHERE cu.store_id = ANY(%(store_ids)s) AND cu.interests = '自驾游'
        """,
        {"targets": rule_dates, "events": events},
    )


@pytest.fixture
def without_a_builder():
    """event_notice without the club's builder for a test, given back afterwards."""
    real = rule_builder_for(RuleCode.EVENT_NOTICE)
    rule_builder_unregister(RuleCode.EVENT_NOTICE)
    yield
    rule_builder_register(RuleCode.EVENT_NOTICE, real)


@pytest.fixture
def event_builder(without_a_builder):
    rule_builder_register(RuleCode.EVENT_NOTICE, _club_event_invitations)
    yield
    rule_builder_unregister(RuleCode.EVENT_NOTICE)


def test_event_notice_generates_nothing_without_a_builder(without_a_builder):
    store = StoreFactory()
    CustomerFactory(store=store, mobile="13900001111", interests="自驾游")

    made = followups_generate_day(day=D(2026, 11, 23), store_ids=[store.pk], codes=[RuleCode.EVENT_NOTICE])

    assert rule_builder_for(RuleCode.EVENT_NOTICE) is None
    assert (made[RuleCode.EVENT_NOTICE], FollowupTask.objects.count()) == (0, 0)


def test_a_registered_rule_builder_generates_tasks(event_builder):
    store = StoreFactory()
    rules = rules_for(store)
    invited = CustomerFactory(store=store, mobile="13900001111", interests="自驾游")
    CustomerFactory(store=store, mobile="13900001112", interests="钓鱼")
    CustomerFactory(store=store, mobile="13900001113", interests="自驾游", sms_opt_out=True)

    made = followups_generate_day(day=D(2026, 11, 23), store_ids=[store.pk], codes=[RuleCode.EVENT_NOTICE])
    again = followups_generate_day(day=D(2026, 11, 23), store_ids=[store.pk], codes=[RuleCode.EVENT_NOTICE])

    assert (made[RuleCode.EVENT_NOTICE], again[RuleCode.EVENT_NOTICE]) == (1, 0)
    task = FollowupTask.objects.get()
    assert (
        task.rule_id, task.customer_id, task.unit_id, task.rule_date, task.queue_date, task.subject_date,
        task.channel, task.status, task.detail,
    ) == (
        rules[RuleCode.EVENT_NOTICE].pk, invited.pk, invited.pk, D(2026, 11, 23), D(2026, 11, 23), D(2026, 11, 30),
        "sms", "open", {"event": "自驾游"},
    )  # fmt: skip
    run = GenerationRun.objects.get(store=store, code=RuleCode.EVENT_NOTICE, date=D(2026, 11, 23))
    assert run.created_count == 1
