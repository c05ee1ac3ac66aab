"""The call queue: claims (also under real concurrency on PostgreSQL) and call outcomes."""

import datetime
import threading
import zoneinfo

import pytest
from django.db import connection, transaction

from crm import prepared
from crm.choices import Role
from crm.exceptions import ApplicationError
from followups.models import CallAttempt, FollowupTask
from followups.services import call_outcome_record, call_record_outcome, task_claim_next, task_release
from tests.factories import CustomerFactory, StoreFactory, UserFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


def task(store, **fields):
    fields.setdefault("rule_date", D(2026, 11, 23))
    return FollowupTaskFactory(store=store, **fields)


@pytest.mark.django_db
def test_claim_takes_the_most_urgent_customer_with_all_of_its_tasks(store_a, agent_a):
    customer = CustomerFactory(store=store_a)
    low = task(store_a, priority=5)
    urgent = task(store_a, customer=customer, code="post_repair_callback", priority=1)
    same_customer = task(store_a, customer=customer, code="insurance_renewal", priority=3)
    task(store_a, priority=2, work_date=D(2026, 11, 24))  # tomorrow's

    claimed = task_claim_next(user=agent_a, now=MONDAY_10AM)

    assert [item.pk for item in claimed] == [urgent.pk, same_customer.pk]
    assert set(FollowupTask.objects.filter(claimed_by=agent_a).values_list("pk", flat=True)) == {
        urgent.pk,
        same_customer.pk,
    }
    # Asking again returns the same call, not a second one.
    assert [item.pk for item in task_claim_next(user=agent_a, now=MONDAY_10AM)] == [urgent.pk, same_customer.pk]
    assert FollowupTask.objects.get(pk=low.pk).claimed_by_id is None


@pytest.mark.django_db
def test_nothing_is_callable_outside_the_call_windows_or_of_other_stores(store_a, store_b, agent_a):
    task(store_b)
    task(store_a)

    assert task_claim_next(user=agent_a, now=datetime.datetime(2026, 11, 23, 12, 30, tzinfo=SHANGHAI)) == []
    assert task_claim_next(user=agent_a, now=datetime.datetime(2026, 11, 23, 19, 0, tzinfo=SHANGHAI)) == []
    claimed = task_claim_next(user=agent_a, now=datetime.datetime(2026, 11, 23, 8, 30, tzinfo=SHANGHAI))
    assert [item.store_id for item in claimed] == [store_a.pk]


@pytest.mark.django_db
def test_a_claim_lapses_after_30_idle_minutes(store_a, agent_a):
    other = UserFactory(username="agent_x", role=Role.CALL_AGENT, stores=[store_a])
    only = task(store_a)
    task_claim_next(user=agent_a, now=MONDAY_10AM)

    assert task_claim_next(user=other, now=MONDAY_10AM + datetime.timedelta(minutes=29)) == []
    claimed = task_claim_next(user=other, now=MONDAY_10AM + datetime.timedelta(minutes=31))
    assert [item.pk for item in claimed] == [only.pk]


@pytest.mark.django_db
def test_a_call_put_back_is_not_offered_again_for_15_minutes(store_a, agent_a):
    urgent = task(store_a, priority=1)
    scheduled = task(store_a, priority=2, callback_at=MONDAY_10AM + datetime.timedelta(hours=2))
    later = task(store_a, priority=3)
    task_claim_next(user=agent_a, now=MONDAY_10AM)

    assert task_release(user=agent_a, customer_id=urgent.customer_id, now=MONDAY_10AM) == 1
    # "Put back" then "next": the next customer, not the same one at once (nor the call-back at noon).
    assert [item.pk for item in task_claim_next(user=agent_a, now=MONDAY_10AM)] == [later.pk]
    task_release(user=agent_a, customer_id=later.customer_id, now=MONDAY_10AM)
    urgent.refresh_from_db()
    assert (urgent.claimed_by_id, urgent.callback_at) == (None, MONDAY_10AM + datetime.timedelta(minutes=15))
    assert task_claim_next(user=agent_a, now=MONDAY_10AM + datetime.timedelta(minutes=14)) == []
    back = task_claim_next(user=agent_a, now=MONDAY_10AM + datetime.timedelta(minutes=15))
    assert [item.pk for item in back] == [urgent.pk]
    # A call-back time later than the pause is kept when that call is put back.
    FollowupTask.objects.filter(pk=scheduled.pk).update(claimed_by=agent_a, claimed_at=MONDAY_10AM)
    task_release(user=agent_a, customer_id=scheduled.customer_id, now=MONDAY_10AM)
    assert FollowupTask.objects.get(pk=scheduled.pk).callback_at == MONDAY_10AM + datetime.timedelta(hours=2)


@pytest.mark.django_db
def test_reached_with_low_satisfaction_is_dissatisfied(store_a, agent_a):
    first = task(store_a)
    task_claim_next(user=agent_a, now=MONDAY_10AM)

    call_record_outcome(user=agent_a, customer_id=first.customer_id, outcome="reached", satisfaction=2,
                        answers={str(first.pk): {"0": "不满意"}}, notes="等待时间长", now=MONDAY_10AM)  # fmt: skip

    first.refresh_from_db()
    assert (first.status, first.outcome, first.satisfaction, first.attempts, first.claimed_by_id) == (
        "done", "reached", 2, 1, None)  # fmt: skip
    attempt = CallAttempt.objects.get()
    assert (attempt.is_dissatisfied, attempt.answers, attempt.notes, attempt.agent_id) == (
        True, {"0": {"question": "请问您是车主本人吗？您的联系地址是？", "type": "text", "value": "不满意"}},
        "等待时间长", agent_a.pk)  # fmt: skip


@pytest.mark.django_db
def test_no_answer_rolls_to_the_next_working_day_at_most_three_attempts(store_a, agent_a):
    item = task(store_a, rule_date=D(2026, 11, 20), queue_date=D(2026, 11, 20), work_date=D(2026, 11, 20))
    friday = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI)

    task_claim_next(user=agent_a, now=friday)
    call_record_outcome(user=agent_a, customer_id=item.customer_id, outcome="no_answer", now=friday)
    item.refresh_from_db()
    assert (item.status, item.attempts, item.work_date, item.queue_date) == (
        "open",
        1,
        D(2026, 11, 23),
        D(2026, 11, 20),
    )

    assert task_claim_next(user=agent_a, now=friday + datetime.timedelta(minutes=1)) == []
    task_claim_next(user=agent_a, now=MONDAY_10AM)
    call_record_outcome(user=agent_a, customer_id=item.customer_id, outcome="busy", now=MONDAY_10AM)
    tuesday = MONDAY_10AM + datetime.timedelta(days=1)
    task_claim_next(user=agent_a, now=tuesday)
    call_record_outcome(user=agent_a, customer_id=item.customer_id, outcome="no_answer", now=tuesday)

    item.refresh_from_db()
    assert (item.status, item.attempts) == ("unreached", 3)
    assert CallAttempt.objects.filter(task=item).count() == 3


@pytest.mark.django_db
def test_call_back_moves_the_task_to_the_requested_time(store_a, agent_a):
    item = task(store_a)
    task_claim_next(user=agent_a, now=MONDAY_10AM)
    later = datetime.datetime(2026, 11, 25, 15, 0, tzinfo=SHANGHAI)

    call_record_outcome(user=agent_a, customer_id=item.customer_id, outcome="call_back", callback_at=later,
                        now=MONDAY_10AM)  # fmt: skip

    item.refresh_from_db()
    assert (item.status, item.work_date, item.callback_at, item.attempts) == ("open", D(2026, 11, 25), later, 0)
    assert task_claim_next(user=agent_a, now=datetime.datetime(2026, 11, 25, 14, 0, tzinfo=SHANGHAI)) == []
    assert len(task_claim_next(user=agent_a, now=later)) == 1


@pytest.mark.django_db
def test_an_outcome_for_a_call_that_is_not_yours_changes_nothing(store_a, agent_a):
    other = UserFactory(username="agent_x", role=Role.CALL_AGENT, stores=[store_a])
    item = task(store_a)
    task_claim_next(user=agent_a, now=MONDAY_10AM)

    with pytest.raises(ApplicationError):
        call_record_outcome(user=other, customer_id=item.customer_id, outcome="reached", now=MONDAY_10AM)

    item.refresh_from_db()
    assert (item.status, item.claimed_by_id) == ("open", agent_a.pk)
    assert CallAttempt.objects.count() == 0


@pytest.mark.django_db
def test_saving_an_outcome_records_the_call_and_claims_the_next_one(store_a, agent_a):
    first = task(store_a, priority=1)
    second = task(store_a, priority=2)
    task_claim_next(user=agent_a, now=MONDAY_10AM)

    recorded = call_outcome_record(user=agent_a, customer_id=first.customer_id, outcome="reached", satisfaction=2,
                                   now=MONDAY_10AM)  # fmt: skip

    assert ([item.pk for item in recorded.tasks], recorded.is_dissatisfied) == ([first.pk], True)
    assert [item.pk for item in recorded.next_tasks] == [second.pk]
    assert dict(FollowupTask.objects.values_list("pk", "claimed_by_id")) == {first.pk: None, second.pk: agent_a.pk}
    assert list(CallAttempt.objects.values_list("task_id", "outcome", "satisfaction")) == [(first.pk, "reached", 2)]


@pytest.mark.django_db
def test_a_refused_outcome_claims_no_next_call(store_a, agent_a):
    other = UserFactory(username="agent_x", role=Role.CALL_AGENT, stores=[store_a])
    item = task(store_a, priority=1)
    waiting = task(store_a, priority=2)
    task_claim_next(user=agent_a, now=MONDAY_10AM)

    with pytest.raises(ApplicationError):
        call_outcome_record(user=other, customer_id=item.customer_id, outcome="reached", now=MONDAY_10AM)

    assert dict(FollowupTask.objects.values_list("pk", "claimed_by_id")) == {item.pk: agent_a.pk, waiting.pk: None}
    assert CallAttempt.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_20_agents_claiming_at_once_from_500_tasks_never_share_one():
    store = StoreFactory(code="NJ01", **ALL_DAY)
    agents = [UserFactory(username=f"agent{index}", role=Role.CALL_AGENT, stores=[store]) for index in range(20)]
    customers = CustomerFactory.create_batch(500, store=store)
    rule_task = task(store, customer=customers[0])
    FollowupTask.objects.bulk_create(
        [
            FollowupTask(rule=rule_task.rule, code="delivery_thanks", store=store, customer=customer,
                         unit_id=customer.pk, rule_date=D(2026, 11, 23), queue_date=D(2026, 11, 23),
                         work_date=D(2026, 11, 23), channel="phone", priority=5)
            for customer in customers[1:]
        ]
    )  # fmt: skip
    claimed: dict[int, list[int]] = {agent.pk: [] for agent in agents}
    errors = []
    barrier = threading.Barrier(len(agents))

    def work(agent):
        try:
            barrier.wait()
            while True:
                call = task_claim_next(user=agent, now=MONDAY_10AM)
                if not call:
                    break
                claimed[agent.pk].extend(item.pk for item in call)
                call_record_outcome(user=agent, customer_id=call[0].customer_id, outcome="reached", now=MONDAY_10AM)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    every_claim = [pk for pks in claimed.values() for pk in pks]
    assert len(every_claim) == 500
    assert len(set(every_claim)) == 500
    assert sum(1 for pks in claimed.values() if pks) > 1
    assert FollowupTask.objects.filter(status="done").count() == 500


@pytest.mark.django_db
def test_the_claims_pick_has_a_plan_for_any_values_over_the_queues_partial_indexes(store_a, agent_a):
    """The claim's pick is a prepared statement; the plan PostgreSQL keeps for it (one for any
    values) can walk the queue's partial indexes only if their condition, the open phone tasks, is
    in its text: as values ($18, $19) that plan read the whole table and PostgreSQL planned the
    pick afresh for every claim."""
    for index in range(3):
        task(store_a, priority=1 + index)
    statements = []

    def note(execute, sql, params, many, context):
        statements.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(note):
        task_claim_next(user=agent_a, now=MONDAY_10AM)
    sql, params = next((sql, params) for sql, params in statements if "SKIP LOCKED" in prepared.statement_text(sql))
    assert '"followups_followuptask"."status" = (\'open\')' in prepared.statement_text(sql)
    assert '"followups_followuptask"."channel" = (\'phone\')' in prepared.statement_text(sql)
    execute = sql[sql.index("EXECUTE") :]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {execute}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "followuptask_queue_order_idx" in plan or "followuptask_store_queue_idx" in plan
