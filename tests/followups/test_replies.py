"""The registry of SMS reply handlers, and the opt-out by reply written through the customers service."""

import datetime
import zoneinfo

import pytest
from django.urls import reverse

from crm.models import AuditLog
from customers.choices import ReplyAction
from customers.models import Customer
from customers.sms_replies import ReplyClaim, reply_handler_register, reply_handler_unregister, reply_handlers
from followups.models import SmsMessage
from followups.services import sms_inbound_receive
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
AT_TEN = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


def _sent_message(store, customer, code, *, key="test", at=AT_TEN):
    return SmsMessage.objects.create(
        idempotency_key=key, store=store, customer=customer, code=code, mobile=customer.mobile,
        body="…", send_date=at.date(), status="sent", sent_at=at,
    )  # fmt: skip


def test_followups_registers_its_handlers_in_order():
    assert [name for name, _handler in reply_handlers()] == [
        "followups.opt_out",
        "clubs.event_sign_up",  # the club's sign-up to an event, asked before the plain RSVP
        "followups.satisfaction",
        "followups.appointment_reply",  # Y / N after a booking's confirmation or reminder
        "followups.event_rsvp",
    ]


def test_an_opt_out_by_reply_shows_in_the_cards_history_with_its_source(client, manager_a, store_a):
    customer = CustomerFactory(store=store_a, mobile="13900005555")
    history_before = customer.history.count()

    reply = sms_inbound_receive(mobile="13900005555", text="退订", received_at=AT_TEN)

    assert reply.action == "opt_out"
    assert customer.history.count() == history_before + 1
    latest = customer.history.order_by("-history_id").first()
    assert (latest.history_type, latest.sms_opt_out, latest.sms_opt_out_source, latest.sms_opt_out_at) == (
        "~",
        True,
        "sms_reply",
        AT_TEN,
    )
    assert latest.history_user is None
    client.force_login(manager_a)
    card = client.get(reverse("customers:detail", args=[customer.pk]))
    change = card.context["changes"][0]
    labels = {
        str(Customer._meta.get_field(name).verbose_name): name
        for name in ("sms_opt_out", "sms_opt_out_at", "sms_opt_out_source")
    }
    assert {labels[item["field"]]: (item["old"], item["new"]) for item in change["changes"]} == {
        "sms_opt_out": (False, True),
        "sms_opt_out_at": ("—", AT_TEN),
        "sms_opt_out_source": ("—", "sms_reply"),
    }
    assert change["user"] == ""
    consent_rows = AuditLog.objects.filter(action="change_consent")
    assert list(consent_rows.values_list("actor", "action", "object_type", "object_ids", "detail")) == [
        (None, "change_consent", "customers.customer", [str(customer.pk)], {"sms_opt_out": True, "source": "sms_reply"})
    ]


def test_a_second_opt_out_reply_writes_no_history(store_a):
    customer = CustomerFactory(store=store_a, mobile="13900005556")
    sms_inbound_receive(mobile="13900005556", text="TD", received_at=AT_TEN)
    history_after_first = customer.history.count()

    reply = sms_inbound_receive(mobile="13900005556", text="T", received_at=AT_TEN + datetime.timedelta(hours=1))

    customer.refresh_from_db()
    assert (reply.action, customer.history.count(), customer.sms_opt_out_at, AuditLog.objects.count()) == (
        "opt_out",
        history_after_first,
        AT_TEN,
        1,
    )


def test_every_card_with_the_mobile_is_opted_out(store_a, store_b):
    first = CustomerFactory(store=store_a, mobile="13900005557")
    second = CustomerFactory(store=store_b, mobile="13900005557")
    other = CustomerFactory(store=store_a, mobile="13900005558")

    sms_inbound_receive(mobile="13900005557", text="退订", received_at=AT_TEN)

    assert dict(Customer.objects.filter(pk__in=[first.pk, second.pk, other.pk]).values_list("pk", "sms_opt_out")) == {
        first.pk: True,
        second.pk: True,
        other.pk: False,
    }


@pytest.fixture
def confirmation_handler():
    """A handler another app would register: 来/Y after an insurance-renewal SMS confirms a visit."""
    seen = []

    def confirm(reply):
        if reply.last_code != "insurance_renewal":
            return None
        seen.append((reply.word, reply.customer.pk, reply.last_message.pk))
        return ReplyClaim(action=ReplyAction.RSVP)

    reply_handler_register("tests.insurance_confirmation", confirm, order=20)
    yield seen
    reply_handler_unregister("tests.insurance_confirmation")


def test_a_registered_handler_claims_a_reply_to_the_latest_message(store_a, confirmation_handler):
    customer = CustomerFactory(store=store_a, mobile="13900006666")
    _sent_message(store_a, customer, "post_repair_callback", key="older", at=AT_TEN - datetime.timedelta(days=1))
    latest = _sent_message(store_a, customer, "insurance_renewal", key="latest")

    reply = sms_inbound_receive(mobile="13900006666", text=" 来 ", received_at=AT_TEN + datetime.timedelta(hours=1))

    assert (reply.action, reply.customer_id, reply.in_reply_to_id) == ("rsvp", customer.pk, latest.pk)
    assert confirmation_handler == [("来", customer.pk, latest.pk)]
    # 2 would have been a satisfaction score after the older repair SMS; the latest message decides.
    assert sms_inbound_receive(mobile="13900006666", text="2", received_at=AT_TEN).action == "rsvp"


def test_opt_out_comes_before_a_registered_handler(store_a, confirmation_handler):
    customer = CustomerFactory(store=store_a, mobile="13900007777")
    _sent_message(store_a, customer, "insurance_renewal")

    reply = sms_inbound_receive(mobile="13900007777", text="TD", received_at=AT_TEN + datetime.timedelta(hours=1))

    customer.refresh_from_db()
    assert (reply.action, customer.sms_opt_out, confirmation_handler) == ("opt_out", True, [])


def test_a_reply_nobody_claims_does_nothing(store_a, confirmation_handler):
    customer = CustomerFactory(store=store_a, mobile="13900008888")
    _sent_message(store_a, customer, "birthday")

    reply = sms_inbound_receive(mobile="13900008888", text="谢谢", received_at=AT_TEN + datetime.timedelta(hours=1))

    assert (reply.action, reply.satisfaction, confirmation_handler) == ("none", None, [])


def test_a_satisfaction_digit_counts_within_seven_days_of_its_sms(store_a):
    customer = CustomerFactory(store=store_a, mobile="13900007777")
    _sent_message(store_a, customer, "post_repair_callback", key="repair", at=AT_TEN)

    in_time = sms_inbound_receive(mobile="13900007777", text="4", received_at=AT_TEN + datetime.timedelta(days=7))
    late = sms_inbound_receive(mobile="13900007777", text="2", received_at=AT_TEN + datetime.timedelta(days=8))

    assert (in_time.action, in_time.satisfaction) == ("satisfaction", 4)
    assert (late.action, late.satisfaction) == ("none", None)
