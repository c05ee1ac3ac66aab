"""The club's event invitations (event_notice) and the Y that answers them, end to end through the
follow-ups: generation, the SMS batch, the inbound reply, the registration."""

import datetime
import zoneinfo

import pytest
import time_machine

from clubs.models import ClubEvent, EventRegistration
from customers.facts import customer_stats_refresh
from customers.models import Segment
from followups.gateways import FileGateway
from followups.models import FollowupTask, SmsMessage
from followups.services import followups_generate_day, sms_inbound_receive, sms_send_batch
from tests.factories import CustomerFactory
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
INVITED_ON = D(2026, 11, 22)
AT_TEN = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def ten_o_clock_on_the_day_of_the_invitations():
    with time_machine.travel(AT_TEN, tick=False):
        yield


@pytest.fixture
def gateway(tmp_path, settings):
    settings.SMS_FILE_GATEWAY_DIR = str(tmp_path)
    return FileGateway(tmp_path)


@pytest.fixture
def event(store_a):
    rules = rules_for(store_a)
    rules["event_notice"].sms_template = "尊敬的{name}：{date}{event}，回复Y报名。"
    rules["event_notice"].save()
    segment = Segment.objects.create(name="江宁车主", store=store_a, definition={"districts": ["江宁区"]})
    return ClubEvent.objects.create(
        store=store_a, title="秋季自驾游", kind="self_drive_tour", place="汤山",
        starts_at=datetime.datetime(2026, 11, 29, 9, 0, tzinfo=SHANGHAI),
        ends_at=datetime.datetime(2026, 11, 29, 17, 0, tzinfo=SHANGHAI),
        capacity=1, segment=segment, points_for_attending=100,
    )  # fmt: skip


def invite_and_send(store, gateway):
    customer_stats_refresh(today=INVITED_ON)
    made = followups_generate_day(day=INVITED_ON, store_ids=[store.pk], codes=["event_notice"])
    sms_send_batch(store_id=store.pk, day=INVITED_ON, now=AT_TEN, gateway=gateway)
    return made["event_notice"]


def test_the_segment_is_invited_seven_days_before_with_the_usual_exclusions(store_a, store_b, event, gateway):
    invited = CustomerFactory(store=store_a, name="韩梅梅", mobile="13900001111", district="江宁区")
    CustomerFactory(store=store_a, mobile="13900001112", district="鼓楼区")  # not in the segment
    CustomerFactory(store=store_a, mobile="13900001113", district="江宁区", sms_opt_out=True)
    CustomerFactory(store=store_a, mobile="", district="江宁区")  # no mobile
    CustomerFactory(store=store_b, mobile="13900001114", district="江宁区")  # another store

    assert followups_generate_day(day=INVITED_ON - datetime.timedelta(days=1), store_ids=[store_a.pk],
                                  codes=["event_notice"])["event_notice"] == 0  # fmt: skip
    assert invite_and_send(store_a, gateway) == 1

    task = FollowupTask.objects.get()
    assert (task.customer_id, task.rule_date, task.subject_date, task.detail) == (
        invited.pk, INVITED_ON, D(2026, 11, 29), {"event_id": event.pk, "event": "秋季自驾游", "sms_template": ""},
    )  # fmt: skip
    assert SmsMessage.objects.get().body == "【江宁日产】尊敬的韩梅梅：2026年11月29日秋季自驾游，回复Y报名。回T退订"
    # Generating the day again invites nobody twice.
    assert followups_generate_day(day=INVITED_ON, store_ids=[store_a.pk], codes=["event_notice"])["event_notice"] == 0


def test_y_registers_then_waits_and_a_later_message_takes_the_y(store_a, event, gateway):
    first = CustomerFactory(store=store_a, mobile="13900002221", district="江宁区")
    second = CustomerFactory(store=store_a, mobile="13900002222", district="江宁区")
    third = CustomerFactory(store=store_a, mobile="13900002223", district="江宁区")
    assert invite_and_send(store_a, gateway) == 3
    invitation_sent = SmsMessage.objects.get(customer=third).sent_at
    later = invitation_sent + datetime.timedelta(hours=2)
    # The third customer got another message after the invitation: their Y belongs to that one.
    SmsMessage.objects.create(
        idempotency_key="birthday-3", store=store_a, customer=third, code="birthday", mobile=third.mobile,
        body="…", send_date=INVITED_ON, status="sent", sent_at=invitation_sent + datetime.timedelta(hours=1),
    )  # fmt: skip

    replies = [sms_inbound_receive(mobile=c.mobile, text="Y", received_at=later) for c in (first, second, third)]

    assert [reply.action for reply in replies] == ["rsvp", "rsvp", "none"]
    assert list(EventRegistration.objects.order_by("customer_id").values_list("customer_id", "status", "source")) == [
        (first.pk, "registered", "sms"),
        (second.pk, "waiting", "sms"),
    ]
    # The same Y again changes nothing.
    sms_inbound_receive(mobile=first.mobile, text="是", received_at=later + datetime.timedelta(minutes=5))
    assert EventRegistration.objects.count() == 2


def test_a_y_more_than_fourteen_days_after_the_invitation_registers_nobody(store_a, event, gateway):
    customer = CustomerFactory(store=store_a, mobile="13900003331", district="江宁区")
    event.starts_at = datetime.datetime(2026, 12, 29, 9, 0, tzinfo=SHANGHAI)  # still ahead when the Y comes
    event.ends_at = datetime.datetime(2026, 12, 29, 17, 0, tzinfo=SHANGHAI)
    event.save()
    SmsMessage.objects.create(
        idempotency_key="old-invitation", store=store_a, customer=customer, code="event_notice",
        mobile=customer.mobile, body="…", send_date=INVITED_ON, status="sent", sent_at=AT_TEN,
    )  # fmt: skip

    late = sms_inbound_receive(mobile=customer.mobile, text="Y", received_at=AT_TEN + datetime.timedelta(days=15))
    in_time = sms_inbound_receive(mobile=customer.mobile, text="Y", received_at=AT_TEN + datetime.timedelta(days=13))

    assert (late.action, late.in_reply_to_id) == ("none", None)
    # In time, but this message names no event (it was not sent for one): read as a plain RSVP.
    assert in_time.action == "rsvp"
    assert EventRegistration.objects.count() == 0


def test_the_events_own_invitation_text_is_sent_and_unknown_placeholders_are_refused(
    store_a, event, gateway, manager_a
):
    from clubs.services import event_update
    from crm.exceptions import ApplicationError

    CustomerFactory(store=store_a, name="韩梅梅", mobile="13900004441", district="江宁区")
    for text in ("{unknown}", "尊敬的{Name}", "{姓名}您好"):
        with pytest.raises(ApplicationError, match="无法填写，可用的占位符"):
            event_update(user=manager_a, event=event, invitation_template=text)
    with pytest.raises(ApplicationError, match="没有配对"):
        event_update(user=manager_a, event=event, invitation_template="{name}您好{event")
    event_update(user=manager_a, event=event, invitation_template="{name}您好：{event}于{date}开始，回复Y报名。")

    assert invite_and_send(store_a, gateway) == 1
    assert SmsMessage.objects.get().body == "【江宁日产】韩梅梅您好：秋季自驾游于2026年11月29日开始，回复Y报名。回T退订"
