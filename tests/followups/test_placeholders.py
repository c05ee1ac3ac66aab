"""The placeholders of SMS templates and call scripts: defined once, one date format, the same text
whether filled in Python (the call page's script) or in SQL (a day's messages)."""

import datetime

import pytest

from followups.defaults import SMS_OPT_OUT_TEXT
from followups.models import SmsMessage
from followups.placeholders import PLACEHOLDERS, format_date, render_placeholders
from followups.selectors import call_script
from followups.services import sms_messages_prepare
from tests.factories import CustomerFactory, StoreFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
D = datetime.date
EVERY_FIELD = "{name}|{plate}|{model}|{date}|{store}|{store_phone}|{holiday}|{points}|{0}|{unknown}"


def test_a_date_is_written_the_chinese_way_without_leading_zeros():
    assert (format_date(D(2026, 1, 5)), format_date(D(2026, 11, 23)), format_date(None)) == (
        "2026年1月5日",
        "2026年11月23日",
        "",
    )


def test_only_known_placeholders_are_filled():
    assert render_placeholders("{name}：{0}{plate", {name: name.upper() for name in PLACEHOLDERS}) == "NAME：{0}{plate"


@pytest.fixture
def task():
    store = StoreFactory(code="NJ01", name="江宁店")
    rules_for(store, insurance_renewal={"script": EVERY_FIELD, "sms_template": EVERY_FIELD})
    customer = CustomerFactory(store=store, name="张伟", mobile="13900001234", points_balance=1200)
    vehicle = VehicleFactory(customer=customer, store=store, plate_no="苏A12345", series="轩逸")
    return FollowupTaskFactory(
        store=store, customer=customer, vehicle=vehicle, code="insurance_renewal", channel="sms",
        rule_date=D(2026, 12, 7), subject_date=D(2027, 1, 6), detail={"holiday": "春节"},
    )  # fmt: skip


def test_the_call_script_and_the_sms_fill_every_placeholder_alike(task):
    expected = "张伟|苏A12345|轩逸|2027年1月6日|江宁店|025-52101234|春节|1200|{0}|{unknown}"

    sms_messages_prepare(store_id=task.store_id, day=D(2026, 12, 7))

    assert call_script(task) == expected
    assert list(SmsMessage.objects.values_list("task_id", "body")) == [
        (task.pk, f"【江宁日产】{expected}{SMS_OPT_OUT_TEXT}")
    ]


def test_a_task_without_vehicle_points_or_date_fills_them_empty_alike(task):
    task.customer.points_balance = None
    task.customer.save()
    task.vehicle, task.subject_date, task.detail = None, None, {}
    task.save()
    expected = "张伟||||江宁店|025-52101234|||{0}|{unknown}"

    sms_messages_prepare(store_id=task.store_id, day=D(2026, 12, 7))

    assert call_script(task) == expected
    assert SmsMessage.objects.get().body == f"【江宁日产】{expected}{SMS_OPT_OUT_TEXT}"
