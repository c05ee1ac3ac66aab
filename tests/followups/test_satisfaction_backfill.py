"""The data migration that copies the calls' and SMS replies' results of before into the one table
the closed loop reads (followups 0006_satisfaction_backfill): exact rows, and safe to run twice."""

import datetime
import importlib
import zoneinfo

import pytest
from django.db import connection

from customers.models import SatisfactionResult
from followups.models import InboundSms, SmsMessage
from tests.factories import CustomerFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
AT = datetime.datetime(2026, 10, 12, 10, 0, tzinfo=SHANGHAI)
backfill = importlib.import_module("followups.migrations.0006_satisfaction_backfill")


def _run() -> None:
    with connection.cursor() as cursor:
        cursor.execute(backfill.CALLS)
        cursor.execute(backfill.REPLIES)


def test_old_calls_and_replies_become_results_once(store_a, agent_a):
    # 0006 ran when a questionnaire was a list of question strings (0008 typed them).
    typed = importlib.import_module("followups.migrations.0010_typed_questionnaires")
    rules_for(store_a, post_repair_callback={"questionnaire": typed.OLD_DEFAULTS["post_repair_callback"]})
    customer = CustomerFactory(store=store_a, mobile="13900001111")
    repair = FollowupTaskFactory(store=store_a, customer=customer, code="post_repair_callback")
    low = CallAttemptFactory(task=repair, agent=agent_a, at=AT, satisfaction=2, notes="等太久",
                             answers={"0": "不满意", "x": "ignored"})  # fmt: skip
    delivery = FollowupTaskFactory(store=store_a, customer=customer, code="delivery_thanks")
    ticked = CallAttemptFactory(task=delivery, agent=agent_a, at=AT, is_dissatisfied=True, satisfaction=4)
    happy = CallAttemptFactory(task=repair, agent=agent_a, at=AT, satisfaction=5)
    CallAttemptFactory(task=repair, agent=agent_a, at=AT, outcome="no_answer")  # no result: not copied
    sent = SmsMessage.objects.create(
        idempotency_key="r1", store=store_a, customer=customer, code="post_repair_callback", mobile=customer.mobile,
        body="…", send_date=AT.date(), status="sent", sent_at=AT,
    )  # fmt: skip
    reply = InboundSms.objects.create(mobile=customer.mobile, text="1", received_at=AT, customer=customer,
                                      in_reply_to=sent, action="satisfaction", satisfaction=1)  # fmt: skip
    InboundSms.objects.create(mobile=customer.mobile, text="TD", received_at=AT, customer=customer, action="opt_out")

    _run()
    _run()

    rows = list(
        SatisfactionResult.objects.order_by("reference").values_list(
            "reference", "customer_id", "score", "verdict", "department", "source", "rule_code", "statement",
            "recorded_by_id",
        )
    )  # fmt: skip
    assert rows == sorted(
        [
            (f"callattempt:{low.pk}", customer.pk, 2, "dissatisfied", "service", "call", "post_repair_callback",
             "对于在我们这边检修车辆的经历，总体来说您是否满意？: 不满意\n等太久", agent_a.pk),
            (f"callattempt:{ticked.pk}", customer.pk, 4, "dissatisfied", "sales", "call", "delivery_thanks", "",
             agent_a.pk),
            (f"callattempt:{happy.pk}", customer.pk, 5, "satisfied", "service", "call", "post_repair_callback", "",
             agent_a.pk),
            (f"inboundsms:{reply.pk}", customer.pk, 1, "dissatisfied", "service", "sms_reply", "post_repair_callback",
             "短信回复：1", None),
        ]
    )  # fmt: skip
    assert SatisfactionResult.objects.filter(at=AT).count() == 4
