"""The closed loop (docs/closed-loop.md): a dissatisfied result from a call, an SMS reply or a delivery
interview opens a complaint at once for the rule's department, or joins the customer's open one; a
complaint closed "not satisfied" keeps the customer dissatisfied, called every month until a later
result is satisfied."""

import datetime
import io
import threading
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from complaints.choices import ActionKind, Channel, Confirmation, Department, Origin, Status
from complaints.models import Complaint, ComplaintAction, ComplaintType
from complaints.services import complaint_close, complaint_open_for_result, open_for_dissatisfied
from customers.choices import SatisfactionSource, SatisfactionVerdict
from customers.models import SatisfactionResult
from customers.satisfaction import (
    customer_dissatisfied_since,
    satisfaction_listener_register,
    satisfaction_result_record,
)
from followups.models import CallAttempt, FollowupTask, SmsMessage
from followups.services import call_record_outcome, followups_generate_day, sms_inbound_receive, task_claim_next
from tests.complaints.factories import ComplaintTypeFactory
from tests.followups.factories import FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(autouse=True)
def complaint_types():
    """The types the loop files results under (the defaults a store starts with)."""
    return {
        "service": ComplaintTypeFactory(name="维修质量", department="service"),
        "sales": ComplaintTypeFactory(name="交车流程", department="sales"),
    }


def _call(agent, customer, *, code="post_repair_callback", satisfaction=None, is_dissatisfied=False, notes="",
          answers=None, now=MONDAY_10AM):  # fmt: skip
    """One claimed call of ``code`` for the customer, recorded as reached."""
    task = FollowupTaskFactory(store=customer.store, customer=customer, code=code, rule_date=now.date())
    assert task.pk in [claimed.pk for claimed in task_claim_next(user=agent, now=now)]
    call_record_outcome(
        user=agent, customer_id=customer.pk, outcome="reached", satisfaction=satisfaction,
        is_dissatisfied=is_dissatisfied, notes=notes, answers={str(task.pk): answers or {}}, now=now,
    )  # fmt: skip
    return task


def test_a_call_scored_2_on_a_repair_callback_opens_one_service_complaint_with_the_statement(
    agent_a, customer_a, routing_a, manager_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        task = _call(agent_a, customer_a, satisfaction=2, notes="等了三个小时", answers={"0": "2", "4": "1"})

    attempt = CallAttempt.objects.get(task=task)
    complaint = Complaint.objects.get()
    assert (complaint.customer, complaint.store_id, complaint.department, complaint.channel) == (
        customer_a, customer_a.store_id, Department.SERVICE, Channel.SATISFACTION_CALLBACK)  # fmt: skip
    assert (complaint.origin, complaint.origin_reference) == (Origin.CALL, f"callattempt:{attempt.pk}")
    assert complaint.description == (
        "Call on 2026-11-23 10:00: score 2 of 5\n"
        "对于在我们这边检修车辆的经历，总体来说您是否满意？: 2 of 5\n"  # the site's language (here English)
        "交车时车辆是否清洁干净？: 1 of 5\n"
        "等了三个小时"
    )
    assert (complaint.assigned_manager, complaint.received_at, complaint.created_by) == (
        manager_a,
        MONDAY_10AM,
        agent_a,
    )
    assert complaint.complaint_type.name == "维修质量"
    result = SatisfactionResult.objects.get()
    assert (result.reference, result.score, result.verdict, result.department, result.rule_code) == (
        f"callattempt:{attempt.pk}", 2, "dissatisfied", "service", "post_repair_callback")  # fmt: skip


def test_a_second_dissatisfied_result_the_same_week_joins_the_open_complaint(
    agent_a, customer_a, routing_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _call(agent_a, customer_a, satisfaction=2, notes="等了三个小时")
    with django_capture_on_commit_callbacks(execute=True):
        second = _call(agent_a, customer_a, code="insurance_renewal", is_dissatisfied=True, notes="报价太高",
                       now=MONDAY_10AM + datetime.timedelta(days=2))  # fmt: skip

    complaint = Complaint.objects.get()
    added = ComplaintAction.objects.get(kind=ActionKind.RESULT_ADDED)
    attempt = CallAttempt.objects.get(task=second)
    assert (added.complaint, added.reference, added.actor, added.at) == (
        complaint, f"callattempt:{attempt.pk}", agent_a, MONDAY_10AM + datetime.timedelta(days=2))  # fmt: skip
    assert added.note == "Call on 2026-11-25 10:00: Dissatisfied\n报价太高"
    assert list(complaint.actions.values_list("kind", flat=True)) == ["logged", "result_added"]
    # Told twice about one result, the loop handles it once.
    assert complaint_open_for_result(result=SatisfactionResult.objects.get(reference=added.reference)) is None
    assert (Complaint.objects.count(), ComplaintAction.objects.filter(kind="result_added").count()) == (1, 1)


def test_a_neutral_or_satisfied_call_opens_nothing(agent_a, customer_a, routing_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _call(agent_a, customer_a, satisfaction=3)

    assert Complaint.objects.count() == 0
    assert list(SatisfactionResult.objects.values_list("score", "verdict")) == [(3, "neutral")]


def test_a_delivery_call_opens_a_sales_complaint(agent_a, customer_a, routing_a, sales_manager_a,
                                                 django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        _call(agent_a, customer_a, code="delivery_thanks", satisfaction=1)

    complaint = Complaint.objects.get()
    assert (complaint.department, complaint.assigned_manager, complaint.complaint_type.name) == (
        Department.SALES, sales_manager_a, "交车流程")  # fmt: skip


def test_an_sms_reply_1_after_a_repair_sms_opens_one_complaint(
    store_a, customer_a, routing_a, django_capture_on_commit_callbacks
):
    at = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=SHANGHAI)
    SmsMessage.objects.create(
        idempotency_key="repair", store=store_a, customer=customer_a, code="post_repair_callback",
        mobile=customer_a.mobile, body="…", send_date=at.date(), status="sent", sent_at=at,
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        inbound = sms_inbound_receive(mobile=customer_a.mobile, text="1", received_at=at + datetime.timedelta(hours=2))

    complaint = Complaint.objects.get()
    assert (complaint.department, complaint.channel, complaint.origin, complaint.origin_reference) == (
        Department.SERVICE, Channel.SMS, Origin.SMS_REPLY, f"inboundsms:{inbound.pk}")  # fmt: skip
    assert complaint.description == "SMS reply on 2026-11-22 12:00: score 1 of 5\nSMS reply: 1"
    assert complaint.created_by is None


def test_a_delivery_interview_opens_a_sales_complaint(customer_a, sales_a, routing_a, sales_manager_a,
                                                      django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        satisfaction_result_record(
            customer=customer_a, department="sales", source=SatisfactionSource.DELIVERY_INTERVIEW,
            reference="deliveryinterview:7", at=MONDAY_10AM, score=2, rule_code="", statement="交车流程: 2",
            user=sales_a,
        )  # fmt: skip

    complaint = Complaint.objects.get()
    assert (complaint.department, complaint.channel, complaint.origin, complaint.origin_reference) == (
        Department.SALES, Channel.IN_STORE, Origin.DELIVERY_INTERVIEW, "deliveryinterview:7")  # fmt: skip
    assert (complaint.assigned_manager, complaint.created_by) == (sales_manager_a, sales_a)


def test_a_failing_listener_never_loses_the_calls_outcome(agent_a, customer_a, django_capture_on_commit_callbacks):
    def boom(result):
        raise RuntimeError("the complaints database is on fire")

    satisfaction_listener_register("complaints.open_for_dissatisfied", boom)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            task = _call(agent_a, customer_a, satisfaction=1, notes="很生气")
    finally:
        satisfaction_listener_register("complaints.open_for_dissatisfied", open_for_dissatisfied)

    task.refresh_from_db()
    assert (task.status, task.outcome, task.satisfaction) == ("done", "reached", 1)
    assert list(CallAttempt.objects.values_list("satisfaction", "notes")) == [(1, "很生气")]
    assert list(SatisfactionResult.objects.values_list("verdict", flat=True)) == ["dissatisfied"]
    assert Complaint.objects.count() == 0


def _generate(day, store):
    return followups_generate_day(day=day, store_ids=[store.pk])


def _export(day: str) -> list[str]:
    out = io.StringIO()
    call_command("export_tasks", date=day, format="csv", stdout=out)
    return out.getvalue().splitlines()


def test_closed_not_satisfied_keeps_the_customer_dissatisfied_until_a_later_satisfied_call(
    agent_a, manager_a, store_a, customer_a, routing_a, attitude, django_capture_on_commit_callbacks
):
    rules_for(store_a)
    with time_machine.travel(datetime.datetime(2026, 10, 20, 9, 0, tzinfo=SHANGHAI), tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            _call(agent_a, customer_a, satisfaction=2, now=datetime.datetime(2026, 10, 20, 9, 0, tzinfo=SHANGHAI))
        complaint = Complaint.objects.get()
    with (
        time_machine.travel(datetime.datetime(2026, 10, 21, 15, 0, tzinfo=SHANGHAI), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        complaint_close(actor=manager_a, complaint=complaint, resolution="免费返修", confirmation="not_satisfied")

    closing = SatisfactionResult.objects.get(source=SatisfactionSource.COMPLAINT_CLOSE)
    assert (closing.reference, closing.verdict, closing.department, closing.recorded_by) == (
        f"complaintclose:{complaint.pk}:0", SatisfactionVerdict.DISSATISFIED, "service", manager_a)  # fmt: skip
    assert Complaint.objects.count() == 1  # a complaint's own closing opens no other
    assert customer_dissatisfied_since(customer_id=customer_a.pk) == datetime.datetime(
        2026, 10, 21, 15, 0, tzinfo=SHANGHAI
    )

    _generate(D(2026, 11, 1), store_a)  # Sunday
    _generate(D(2026, 11, 2), store_a)
    assert _export("2026-11-02") == [
        "rule,customer_no,vin,channel,due_date",
        "dissatisfied_followup,CA0001,,phone,2026-11-02",
    ]
    # No result in November, but still dissatisfied on 1 December: called again, running twice
    # makes no second task.
    _generate(D(2026, 12, 1), store_a)
    _generate(D(2026, 12, 1), store_a)
    assert _export("2026-12-01") == [
        "rule,customer_no,vin,channel,due_date",
        "dissatisfied_followup,CA0001,,phone,2026-12-01",
    ]

    # A call scored 5 in December ends it: nothing on 1 January (a holiday: queued on the 4th).
    with django_capture_on_commit_callbacks(execute=True):
        _call(agent_a, customer_a, code="insurance_renewal", satisfaction=5,
              now=datetime.datetime(2026, 12, 10, 10, 0, tzinfo=SHANGHAI))  # fmt: skip
    assert customer_dissatisfied_since(customer_id=customer_a.pk) is None
    for day in (D(2027, 1, 1), D(2027, 1, 2), D(2027, 1, 3), D(2027, 1, 4)):
        _generate(day, store_a)
    assert FollowupTask.objects.filter(code="dissatisfied_followup").count() == 2
    assert not FollowupTask.objects.filter(code="dissatisfied_followup", rule_date=D(2027, 1, 1)).exists()


def test_a_complaint_closed_satisfied_ends_the_dissatisfied_state(
    agent_a, manager_a, customer_a, routing_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _call(agent_a, customer_a, satisfaction=1)
    assert customer_dissatisfied_since(customer_id=customer_a.pk) == MONDAY_10AM

    with django_capture_on_commit_callbacks(execute=True):
        complaint_close(
            actor=manager_a, complaint=Complaint.objects.get(), resolution="道歉并赔偿", confirmation="satisfied"
        )

    assert customer_dissatisfied_since(customer_id=customer_a.pk) is None
    assert Complaint.objects.get().status == Status.CLOSED
    assert list(SatisfactionResult.objects.order_by("id").values_list("source", "verdict")) == [
        ("call", "dissatisfied"),
        ("complaint_close", "satisfied"),
    ]


def test_a_reopened_complaint_closed_again_records_its_second_closing(
    manager_a, customer_a, routing_a, attitude, django_capture_on_commit_callbacks
):
    from complaints.services import complaint_create, complaint_reopen

    complaint = complaint_create(actor=manager_a, customer=customer_a, channel="phone", department="service",
                                 complaint_type=attitude, severity="medium", description="态度差")  # fmt: skip
    complaint_close(actor=manager_a, complaint=complaint, resolution="道歉", confirmation=Confirmation.NOT_SATISFIED)
    complaint_reopen(actor=manager_a, complaint=complaint, reason="客户再次来电")
    complaint_close(actor=manager_a, complaint=complaint, resolution="赔偿", confirmation=Confirmation.SATISFIED)

    assert list(SatisfactionResult.objects.order_by("id").values_list("reference", "verdict")) == [
        (f"complaintclose:{complaint.pk}:0", "dissatisfied"),
        (f"complaintclose:{complaint.pk}:1", "satisfied"),
    ]


def test_every_type_switched_off_files_the_result_under_other(
    customer_a, routing_a, django_capture_on_commit_callbacks
):
    ComplaintType.objects.update(is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        satisfaction_result_record(customer=customer_a, department="service", source="call", reference="x:1",
                                   at=MONDAY_10AM, score=1)  # fmt: skip

    assert Complaint.objects.get().complaint_type.name == "其他"
    assert ComplaintType.objects.get(name="其他").is_active is True


@pytest.mark.django_db(transaction=True)
def test_two_dissatisfied_results_at_the_same_moment_open_one_complaint(customer_a, routing_a, complaint_types):
    results = [
        SatisfactionResult.objects.create(customer=customer_a, at=MONDAY_10AM, score=1, verdict="dissatisfied",
                                          department="service", source=source, reference=reference)
        for source, reference in (("call", "callattempt:1"), ("sms_reply", "inboundsms:1"))
    ]  # fmt: skip
    barrier = threading.Barrier(len(results))
    errors = []

    def work(result):
        try:
            barrier.wait()
            complaint_open_for_result(result=result)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(result,)) for result in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    complaint = Complaint.objects.get()
    assert sorted(complaint.actions.values_list("kind", flat=True)) == ["logged", "result_added"]
    assert sorted([complaint.origin_reference, *complaint.actions.exclude(reference="").exclude(
        kind="logged").values_list("reference", flat=True)]) == ["callattempt:1", "inboundsms:1"]  # fmt: skip
