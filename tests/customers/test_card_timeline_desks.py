"""The card's timeline for the desks (service advisors, sales consultants), who meet the customer
next: the calls with the questionnaire's answers, SMS, SMS replies and every complaint's summary
(closed ones too), within the privacy rules — numbers typed into a text stay masked, and a complaint
they may not open shows no text and no link. One query per source: the card's query count is the
same for 3 and 30 events of each kind."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from complaints.choices import ActionKind, Confirmation, Status
from complaints.models import ComplaintAction
from followups.models import InboundSms, SmsMessage
from tests.complaints.factories import ComplaintFactory
from tests.factories import CustomerFactory, UserFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db

NOW = timezone.now()
SMS_BODY = "【江宁日产】生日快乐，热线025-84561234"
REPLY = "3 等太久了 回电13812345678"


def contact_history(customer, *, count: int = 1, closed_by=None) -> tuple:
    """``count`` calls (with answers), SMS, replies, an open complaint and a closed one."""
    store = customer.store
    rules_for(store, post_repair_callback={"questionnaire": ["保养是否满意？", "下次保养时间？"]})
    caller = UserFactory(username="caller", last_name="孙", first_name="丽", role="call_agent", stores=[store])
    for number in range(count):
        at = NOW - datetime.timedelta(hours=number + 1)
        task = FollowupTaskFactory(store=store, customer=customer, code="post_repair_callback", status="done",
                                   rule_date=datetime.date(2026, 10, 1) - datetime.timedelta(days=number))  # fmt: skip
        CallAttemptFactory(task=task, at=at, agent=caller, satisfaction=4, answers={"0": "满意", "1": "下月"},
                           notes="请回电 13912345678")  # fmt: skip
        SmsMessage.objects.create(
            idempotency_key=f"card-{customer.pk}-{number}", store=store, customer=customer, code="birthday",
            mobile=customer.mobile, body=SMS_BODY, send_date=timezone.localdate(), status="sent", sent_at=at,
        )  # fmt: skip
        InboundSms.objects.create(mobile=customer.mobile, text=REPLY, received_at=at, customer=customer,
                                  action="satisfaction", satisfaction=3)  # fmt: skip
    manager = closed_by or UserFactory(username="closer", last_name="钱", first_name="经理", stores=[store])
    for _number in range(count):
        open_one = ComplaintFactory(customer=customer, description="保养后异响（开放）")
        ComplaintAction.objects.create(complaint=open_one, kind=ActionKind.LOGGED, at=NOW, actor=manager)
        closed = ComplaintFactory(
            customer=customer, description="内部：赔付500元", status=Status.CLOSED, closed_at=NOW,
            customer_confirmation=Confirmation.SATISFIED, resolution="内部处理意见",
        )  # fmt: skip
        ComplaintAction.objects.create(complaint=closed, kind=ActionKind.LOGGED, at=NOW - datetime.timedelta(days=3),
                                       actor=manager)  # fmt: skip
        ComplaintAction.objects.create(complaint=closed, kind=ActionKind.CLOSED, at=NOW - datetime.timedelta(days=1),
                                       note="内部：赔付500元，客户满意", actor=manager)  # fmt: skip
    return open_one, closed


@pytest.mark.parametrize("role", ["advisor_a", "sales_a"])
def test_the_desks_see_calls_answers_sms_replies_and_closed_complaints(client, role, store_a, request):
    user = request.getfixturevalue(role)
    customer = CustomerFactory(store=store_a, name="李雷")
    open_one, closed = contact_history(customer)
    client.force_login(user)

    response = client.get(reverse("customers:detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")

    events = {(event.kind, event.title): event for event in response.context["timeline"]}
    call = events[("call", "维修后回访 · 已接通")]
    assert call.detail == "满意度 4/5\n保养是否满意？: 满意\n下次保养时间？: 下月\n请回电 139****5678"
    assert call.actor == "孙丽"
    # The store's hotline in a text the system rendered stays readable.
    assert events[("sms", "短信 · 已发送")].detail == "【江宁日产】生日快乐，热线025-84561234"
    assert events[("sms_reply", "短信回复 · 满意度评分")].detail == "3 等太久了 回电138****5678"
    logged_closed = events[("complaint", f"投诉 #{closed.pk} 已登记：服务态度")]
    closed_event = events[("complaint", f"投诉 #{closed.pk} 已结案：服务态度")]
    # The closed complaint of someone else: its summary, not what it says, and no link to a page
    # the desk may not open.
    assert (logged_closed.detail, logged_closed.url, closed_event.detail, closed_event.url) == ("", "", "", "")
    assert closed_event.actor == "钱经理"
    open_event = events[("complaint", f"投诉 #{open_one.pk} 已登记：服务态度")]
    assert open_event.detail == "保养后异响（开放）"
    assert open_event.url == reverse("complaints:detail", args=[open_one.pk])
    html = response.content.decode()
    assert "赔付" not in html
    assert "13912345678" not in html
    assert "13812345678" not in html
    assert "保养是否满意？: 满意<br>下次保养时间？: 下月<br>请回电 139****5678" in html
    assert f'<a href="{open_event.url}">投诉 #{open_one.pk} 已登记：服务态度</a>' in html


def test_a_manager_still_reads_the_closed_complaint_and_the_whole_number(client, manager_a, store_a):
    customer = CustomerFactory(store=store_a)
    _open_one, closed = contact_history(customer)
    client.force_login(manager_a)

    response = client.get(reverse("customers:detail", args=[customer.pk]), HTTP_ACCEPT_LANGUAGE="zh-hans")

    events = {(event.kind, event.title): event for event in response.context["timeline"]}
    closed_event = events[("complaint", f"投诉 #{closed.pk} 已结案：服务态度")]
    assert closed_event.detail == "内部：赔付500元，客户满意"
    assert closed_event.url == reverse("complaints:detail", args=[closed.pk])
    assert events[("call", "维修后回访 · 已接通")].detail.endswith("请回电 13912345678")
    assert events[("sms_reply", "短信回复 · 满意度评分")].detail == "3 等太久了 回电13812345678"


def test_another_store_s_desk_sees_nothing_of_the_card(client, store_a, store_b):
    customer = CustomerFactory(store=store_a)
    contact_history(customer)
    client.force_login(UserFactory(username="advisor_b", role="service_advisor", stores=[store_b]))

    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code == 404


@pytest.mark.parametrize("count", [3, 30])
def test_the_card_s_query_count_does_not_grow_with_the_timeline(
    client, advisor_a, store_a, count, django_assert_num_queries
):
    customer = CustomerFactory(store=store_a)
    contact_history(customer, count=count)
    client.force_login(advisor_a)
    url = reverse("customers:detail", args=[customer.pk])
    client.get(url)  # the session and the user's stores, once

    with django_assert_num_queries(CARD_QUERIES):
        response = client.get(url)

    kinds = [event.kind for event in response.context["timeline"]]
    assert (kinds.count("call"), kinds.count("sms"), kinds.count("sms_reply"), kinds.count("complaint")) == (
        count,
        count,
        count,
        min(3 * count, 50),  # the complaints' source keeps the latest 50
    )


# The card with one query per timeline source (calls, SMS, replies, complaints, points, visits, …):
# the same figure as tests/customers/test_card_queries.py pins for vehicles, orders and notes.
CARD_QUERIES = 23
