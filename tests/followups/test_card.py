import datetime
import uuid

import pytest
from django.utils import timezone

from customers.card import card_panels, timeline_events
from followups.models import SmsMessage
from tests.factories import CustomerFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory

pytestmark = pytest.mark.django_db


def test_the_card_shows_due_follow_ups_calls_and_sms(agent_a, advisor_a, store_a):
    customer = CustomerFactory(store=store_a)
    task = FollowupTaskFactory(store=store_a, customer=customer, code="insurance_renewal")
    done = FollowupTaskFactory(store=store_a, customer=customer, status="done", rule_date=datetime.date(2026, 10, 1))
    CallAttemptFactory(task=done, satisfaction=4, notes="好", call_key=uuid.uuid4())
    SmsMessage.objects.create(
        idempotency_key="k1", store=store_a, customer=customer, code="birthday", mobile=customer.mobile,
        body="【江宁日产】生日快乐", send_date=timezone.localdate(), status="sent", sent_at=timezone.now(),
    )  # fmt: skip

    panels = [panel for panel in card_panels(user=agent_a, customer=customer) if panel.template.startswith("followups")]
    events = [event for event in timeline_events(user=agent_a, customer=customer) if event.kind in {"call", "sms"}]

    assert [list(panel.context["followup_tasks"]) for panel in panels] == [[task]]
    assert sorted(event.kind for event in events) == ["call", "sms"]
    assert [
        panel for panel in card_panels(user=advisor_a, customer=customer) if panel.template.startswith("followups")
    ] == []
