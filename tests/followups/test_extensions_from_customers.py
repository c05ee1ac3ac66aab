"""An app that may not import follow-ups (the owners' club) registers a follow-up rule builder and an
SMS reply handler through customers alone, and follow-ups uses them end to end: generation queues the
rule's SMS, the batch sends it, and the reply to it is claimed by the app's handler."""

import ast
import datetime
import json
import zoneinfo
from pathlib import Path

import pytest

from customers.rule_builders import rule_builder_for, rule_builder_register
from customers.sms_replies import reply_handlers
from followups.gateways import FileGateway
from followups.models import FollowupTask, GenerationRun, InboundSms, SmsMessage
from followups.services import followups_generate_day, sms_inbound_receive, sms_send_batch
from tests.factories import CustomerFactory
from tests.followups import club_standin
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
AT_TEN = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def club():
    # The real club registers event_notice at start-up: the stand-in takes its place for the test
    # and gives it back afterwards.
    real = rule_builder_for(club_standin.EVENT_NOTICE)
    club_standin.register()
    yield club_standin
    club_standin.unregister()
    if real is not None:
        rule_builder_register(club_standin.EVENT_NOTICE, real)


@pytest.fixture
def gateway(tmp_path, settings):
    settings.SMS_FILE_GATEWAY_DIR = str(tmp_path)
    return FileGateway(tmp_path)


def test_the_stand_in_imports_from_customers_only():
    tree = ast.parse(Path(club_standin.__file__).read_text(encoding="utf-8"))
    imported = {
        *(node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)),
        *(alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names),
    }

    assert imported == {
        "datetime",
        "customers.choices",
        "customers.rule_builders",
        "customers.selectors",
        "customers.sms_replies",
    }


def test_the_registrations_take_their_place_beside_follow_ups_own(club):
    assert rule_builder_for("event_notice") is club_standin.event_invitations
    assert [name for name, _handler in reply_handlers()] == [
        "followups.opt_out",
        "clubs.event_sign_up",  # the real club's
        "standin.event_sign_up",
        "followups.satisfaction",
        "followups.appointment_reply",
        "followups.event_rsvp",
    ]


def test_an_event_notice_is_generated_sent_and_the_reply_signs_the_customer_up(club, store_a, gateway):
    rules = rules_for(store_a)
    invited = CustomerFactory(store=store_a, name="韩梅梅", mobile="13900001111", interests="自驾游")
    CustomerFactory(store=store_a, mobile="13900001112", interests="钓鱼")

    made = followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk], codes=["event_notice"])
    sent = sms_send_batch(store_id=store_a.pk, day=D(2026, 11, 22), now=AT_TEN, gateway=gateway)
    reply = sms_inbound_receive(mobile="13900001111", text=" 是 ", received_at=AT_TEN + datetime.timedelta(hours=2))

    task = FollowupTask.objects.get()
    assert (made["event_notice"], sent["sent"]) == (1, 1)
    assert (
        task.rule_id, task.customer_id, task.rule_date, task.subject_date, task.channel, task.status, task.detail,
    ) == (
        rules["event_notice"].pk, invited.pk, D(2026, 11, 22), D(2026, 11, 29), "sms", "done", {"event": "自驾游"},
    )  # fmt: skip
    assert GenerationRun.objects.get(store=store_a, code="event_notice", date=D(2026, 11, 22)).created_count == 1
    message = SmsMessage.objects.get()
    assert message.body == (
        "【江宁日产】尊敬的韩梅梅：本店将于2026年11月29日举办车主活动，特邀您光临，如参加请回复Y，谢谢！回T退订"
    )
    assert (message.code, message.task_id, message.mobile, message.status) == (
        "event_notice",
        task.pk,
        "13900001111",
        "sent",
    )
    assert [json.loads(line)["key"] for line in gateway.path.read_text(encoding="utf-8").splitlines()] == [
        message.idempotency_key
    ]
    assert (reply.action, reply.satisfaction, reply.customer_id, reply.in_reply_to_id) == (
        "rsvp",
        None,
        invited.pk,
        message.pk,
    )
    assert club.signed_up == [(invited.pk, message.pk)]


def _sent(store, customer, code, at):
    return SmsMessage.objects.create(
        idempotency_key=code, store=store, customer=customer, code=code, mobile=customer.mobile,
        body="…", send_date=at.date(), status="sent", sent_at=at,
    )  # fmt: skip


def test_the_app_s_handler_leaves_other_replies_to_the_others(club, store_a):
    customer = CustomerFactory(store=store_a, mobile="13900002222")
    _sent(store_a, customer, "birthday", AT_TEN)
    after_a_birthday = sms_inbound_receive(mobile="13900002222", text="Y", received_at=AT_TEN)
    _sent(store_a, customer, "event_notice", AT_TEN + datetime.timedelta(hours=1))
    opt_out = sms_inbound_receive(mobile="13900002222", text="退订", received_at=AT_TEN + datetime.timedelta(hours=2))

    customer.refresh_from_db()
    assert (after_a_birthday.action, opt_out.action, customer.sms_opt_out) == ("none", "opt_out", True)
    assert (InboundSms.objects.count(), club.signed_up) == (2, [])


@pytest.fixture
def without_the_club():
    """The real club's registrations taken away for a test, and given back."""
    from clubs.invitations import event_invitations, event_sign_up
    from customers.rule_builders import rule_builder_unregister
    from customers.sms_replies import reply_handler_register, reply_handler_unregister

    rule_builder_unregister("event_notice")
    reply_handler_unregister("clubs.event_sign_up")
    yield
    rule_builder_register("event_notice", event_invitations)
    reply_handler_register("clubs.event_sign_up", event_sign_up, order=40)


def test_without_the_app_event_notice_generates_nothing_again(store_a, without_the_club):
    rules_for(store_a)
    CustomerFactory(store=store_a, mobile="13900003333", interests="自驾游")

    made = followups_generate_day(day=D(2026, 11, 22), store_ids=[store_a.pk], codes=["event_notice"])

    assert (rule_builder_for("event_notice"), made["event_notice"], FollowupTask.objects.count()) == (None, 0, 0)
    assert "clubs.event_sign_up" not in dict(reply_handlers())
