"""Factories of the follow-up engine (the data spine's are in tests/factories.py)."""

import datetime
import uuid

import factory
from django.utils import timezone

from followups.models import CallAttempt, FollowupRule, FollowupTask
from followups.services import followup_rules_ensure_defaults
from tests.factories import CustomerFactory, StoreFactory

# Store call windows that cover the whole day, for tests that place calls whenever they run.
ALL_DAY = {
    "morning_call_start": datetime.time(0, 0),
    "morning_call_end": datetime.time(12, 0),
    "afternoon_call_start": datetime.time(12, 0),
    "afternoon_call_end": datetime.time(23, 59, 59),
}


def rules_for(store, **changes) -> dict[str, FollowupRule]:
    """The store's default rules; ``changes`` maps a rule code to field values to set on it."""
    followup_rules_ensure_defaults(stores=[store])
    rules = {rule.code: rule for rule in FollowupRule.objects.filter(store=store)}
    for code, values in changes.items():
        for name, value in values.items():
            setattr(rules[code], name, value)
        rules[code].save()
    return rules


class FollowupTaskFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowupTask

    store = factory.SubFactory(StoreFactory)
    customer = factory.SubFactory(CustomerFactory, store=factory.SelfAttribute("..store"))
    rule = factory.LazyAttribute(lambda task: rules_for(task.store)[task.code])
    code = "delivery_thanks"
    unit_id = factory.LazyAttribute(lambda task: task.customer.pk)
    rule_date = datetime.date(2026, 11, 23)
    queue_date = factory.LazyAttribute(lambda task: task.rule_date)
    work_date = factory.LazyAttribute(lambda task: task.queue_date)
    channel = "phone"
    priority = 5


class CallAttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CallAttempt

    task = factory.SubFactory(FollowupTaskFactory)
    customer = factory.LazyAttribute(lambda attempt: attempt.task.customer)
    call_key = factory.LazyFunction(uuid.uuid4)
    at = factory.LazyFunction(timezone.now)
    outcome = "reached"
