"""Tasks owned by a person (docs/followups.md, "Tasks owned by a person"): inspection_due and
delivery_day1_call through the real SQL, who generation assigns a task to, the queue that never hands
out an assigned task, outcomes and rollover that keep the person, and departed staff's tasks."""

import datetime
import io
import threading
import zoneinfo

import pytest
from django.core.management import call_command
from django.db import connection

from crm.choices import Role
from customers.satisfaction import satisfaction_result_record
from followups.models import FollowupRule, FollowupTask
from followups.services import (
    call_outcome_record,
    followups_generate_day,
    task_claim_assigned,
    task_claim_next,
    tasks_release_from_departed,
)
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, UserFactory, VehicleFactory
from tests.followups.factories import ALL_DAY, FollowupTaskFactory, rules_for

pytestmark = pytest.mark.django_db
D = datetime.date
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
MONDAY_10AM = datetime.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def store():
    return StoreFactory(code="NJ01", name="江宁店")


def vehicle(store, **fields):
    fields.setdefault("delivery_date", None)
    return VehicleFactory(customer__store=store, store=store, **fields)


def generate(day, store, **kwargs):
    return followups_generate_day(day=day, store_ids=[store.pk], **kwargs)


def export(day: str) -> list[str]:
    output = io.StringIO()
    call_command("export_tasks", "--date", day, "--format", "csv", stdout=output)
    return output.getvalue().splitlines()[1:]


def staff(username, store, *, role=Role.SALES_CONSULTANT, last_name="王", first_name="明", **fields):
    return UserFactory(username=username, role=role, stores=[store], last_name=last_name, first_name=first_name,
                       **fields)  # fmt: skip


# --- the two new rules ---------------------------------------------------------------------------


def test_the_new_rules_defaults(store):
    rules = rules_for(store)

    assert [(code, rules[code].channel, rules[code].offset_days, rules[code].priority, rules[code].worked_by)
            for code in ("inspection_due", "delivery_day1_call", "appointment_reminder", "no_show_followup")] == [
        ("inspection_due", "sms", -30, 6, "queue"),
        ("delivery_day1_call", "phone", 1, 2, "sales_consultant"),
        ("appointment_reminder", "sms", 0, 3, "queue"),
        ("no_show_followup", "phone", 1, 1, "queue"),
    ]  # fmt: skip
    assert "年检" in rules["inspection_due"].sms_template
    assert "交车" in rules["delivery_day1_call"].script
    assert FollowupRule.objects.filter(worked_by="queue").count() == 15


def test_inspection_due_is_an_sms_30_days_before_and_keeps_a_weekend_date(store):
    monday = vehicle(store, inspection_due=D(2026, 12, 23))  # R = Monday 23 November
    saturday = vehicle(store, inspection_due=D(2026, 12, 21))  # R = Saturday 21 November: Q = R for an SMS
    vehicle(store, inspection_due=D(2026, 12, 23), status="transferred")
    vehicle(store, inspection_due=D(2026, 12, 23), status="scrapped")
    vehicle(store, inspection_due=D(2026, 12, 23), customer=CustomerFactory(store=store, sms_opt_out=True))

    made = {day: generate(day, store)["inspection_due"] for day in (D(2026, 11, 21), D(2026, 11, 23))}

    assert made == {D(2026, 11, 21): 1, D(2026, 11, 23): 1}
    assert export("2026-11-21") == [f"inspection_due,{saturday.customer.customer_no},{saturday.vin},sms,2026-11-21"]
    assert export("2026-11-23") == [f"inspection_due,{monday.customer.customer_no},{monday.vin},sms,2026-11-23"]
    task = FollowupTask.objects.get(vehicle=monday)
    assert (task.rule_date, task.subject_date, task.assignee_id) == (D(2026, 11, 23), D(2026, 12, 23), None)


def test_delivery_day1_call_is_the_next_day_and_a_weekend_moves_to_monday(store):
    consultant = staff("sales_li", store, last_name="李", first_name="娜")
    thursday = vehicle(store, delivery_date=D(2026, 11, 19), sales_consultant="李娜")  # R = Friday 20
    friday = vehicle(store, delivery_date=D(2026, 11, 20), sales_consultant="李娜")  # R = Saturday 21 → Monday
    sunday = vehicle(store, delivery_date=D(2026, 11, 22), sales_consultant="sales_li")  # R = Monday 23
    vehicle(store, delivery_date=D(2026, 11, 22), status="transferred", sales_consultant="李娜")
    vehicle(store, delivery_date=D(2026, 11, 22), customer=CustomerFactory(store=store, do_not_call=True))

    made = {
        day: generate(day, store, codes=["delivery_day1_call"])["delivery_day1_call"]
        for day in (D(2026, 11, 20), D(2026, 11, 23))
    }

    assert made == {D(2026, 11, 20): 1, D(2026, 11, 23): 2}
    assert export("2026-11-20") == [
        f"delivery_day1_call,{thursday.customer.customer_no},{thursday.vin},phone,2026-11-20"
    ]
    assert export("2026-11-23") == sorted(
        f"delivery_day1_call,{car.customer.customer_no},{car.vin},phone,2026-11-23" for car in (friday, sunday)
    )
    assert list(
        FollowupTask.objects.order_by("vehicle_id").values_list("vehicle_id", "rule_date", "queue_date", "assignee_id")
    ) == [
        (thursday.pk, D(2026, 11, 20), D(2026, 11, 20), consultant.pk),
        (friday.pk, D(2026, 11, 21), D(2026, 11, 23), consultant.pk),
        (sunday.pk, D(2026, 11, 23), D(2026, 11, 23), consultant.pk),
    ]


def test_appointment_rules_without_a_builder_make_nothing(store):
    vehicle(store, delivery_date=D(2026, 11, 22))

    made = generate(D(2026, 11, 23), store)

    assert (made["appointment_reminder"], made["no_show_followup"]) == (0, 0)
    assert FollowupTask.objects.filter(code__in=["appointment_reminder", "no_show_followup"]).count() == 0


# --- who generation assigns ------------------------------------------------------------------------


def test_generation_assigns_the_staff_of_record_by_name_else_the_queue(store):
    other_store = StoreFactory(code="NJ02")
    by_name = staff("sales_li", store, last_name="李", first_name="娜")
    by_username = staff("zhou", store, last_name="", first_name="")
    staff("twin1", store, last_name="陈", first_name="刚")
    staff("twin2", store, last_name="陈", first_name="刚")
    staff("elsewhere", other_store, last_name="赵", first_name="敏")
    staff("left", store, last_name="钱", first_name="多", is_active=False)
    names = ["李娜", " zhou ", "陈刚", "赵敏", "钱多", "无此人", ""]
    cars = [vehicle(store, delivery_date=D(2026, 11, 22), sales_consultant=name) for name in names]

    generate(D(2026, 11, 23), store, codes=["delivery_day1_call"])

    assignees = dict(FollowupTask.objects.values_list("vehicle_id", "assignee_id"))
    assert [assignees[car.pk] for car in cars] == [by_name.pk, by_username.pk, None, None, None, None, None]


def test_a_store_switches_maintenance_due_to_the_latest_orders_advisor(store):
    advisor = staff("sa_sun", store, role=Role.SERVICE_ADVISOR, last_name="孙", first_name="丽")
    rules_for(store, maintenance_due={"worked_by": "service_advisor"})
    car = vehicle(store)  # no delivery date: no daily mileage, the interval of 180 days
    for settled, name in ((D(2026, 3, 1), "别人"), (D(2026, 6, 1), "孙丽")):
        RepairOrderFactory(vehicle=car, store=store, settle_date=settled, repair_type="scheduled_maintenance",
                           service_advisor=name)  # fmt: skip
    # next_due = 1 June + 180 days = 28 November; R = 21 November (Saturday) → Monday 23

    made = generate(D(2026, 11, 23), store, codes=["maintenance_due"])

    assert made["maintenance_due"] == 1
    task = FollowupTask.objects.get()
    assert (task.vehicle_id, task.rule_date, task.queue_date, task.assignee_id) == (
        car.pk, D(2026, 11, 21), D(2026, 11, 23), advisor.pk)  # fmt: skip


def test_generating_twice_assigns_once(store):
    consultant = staff("sales_li", store, last_name="李", first_name="娜")
    vehicle(store, delivery_date=D(2026, 11, 22), sales_consultant="李娜")

    first = generate(D(2026, 11, 23), store)["delivery_day1_call"]
    second = generate(D(2026, 11, 23), store)["delivery_day1_call"]

    assert (first, second) == (1, 0)
    assert list(FollowupTask.objects.values_list("assignee_id", flat=True)) == [consultant.pk]


def test_a_customer_level_rule_worked_by_the_consultant_of_the_newest_vehicle(store):
    newest = staff("sales_new", store, last_name="新", first_name="人")
    staff("sales_old", store, last_name="旧", first_name="人")
    customer = CustomerFactory(store=store)
    VehicleFactory(customer=customer, store=store, delivery_date=D(2020, 1, 1), sales_consultant="旧人")
    VehicleFactory(customer=customer, store=store, delivery_date=D(2025, 1, 1), sales_consultant="新人")
    VehicleFactory(customer=customer, store=store, delivery_date=D(2026, 1, 1), sales_consultant="旧人",
                   status="scrapped")  # fmt: skip
    rules = rules_for(store, dissatisfied_followup={"worked_by": "sales_consultant"})
    # A dissatisfied result last month (the closed loop's record of a call: customers/satisfaction.py).
    satisfaction_result_record(
        customer=customer, department="service", source="call", reference="callattempt:1",
        at=datetime.datetime(2026, 11, 10, 10, tzinfo=SHANGHAI), verdict="dissatisfied",
    )  # fmt: skip

    generate(D(2026, 12, 1), store, codes=["dissatisfied_followup"])

    task = FollowupTask.objects.get(rule=rules["dissatisfied_followup"])
    assert (task.customer_id, task.vehicle_id, task.assignee_id) == (customer.pk, None, newest.pk)


# --- the queue and the person's list ---------------------------------------------------------------


def assigned_task(store, person, **fields):
    fields.setdefault("rule_date", D(2026, 11, 23))
    fields.setdefault("code", "delivery_day1_call")
    return FollowupTaskFactory(store=store, assignee=person, **fields)


def test_the_queue_never_claims_an_assigned_task(store_a, agent_a, sales_a):
    assigned = assigned_task(store_a, sales_a, priority=1)
    queued = FollowupTaskFactory(store=store_a, rule_date=D(2026, 11, 23), priority=5)
    # The same customer's queue task is the queue's; the assigned one stays with its person.
    same_customer = FollowupTaskFactory(store=store_a, customer=assigned.customer, code="insurance_renewal")

    first = task_claim_next(user=agent_a, now=MONDAY_10AM)
    call_outcome_record(user=agent_a, customer_id=first[0].customer_id, outcome="reached", now=MONDAY_10AM)
    second = task_claim_next(user=agent_a, now=MONDAY_10AM)
    call_outcome_record(user=agent_a, customer_id=second[0].customer_id, outcome="reached", now=MONDAY_10AM)

    assert {task.pk for task in first + second} == {queued.pk, same_customer.pk}
    assert task_claim_next(user=agent_a, now=MONDAY_10AM) == []
    assigned.refresh_from_db()
    assert (assigned.status, assigned.claimed_by_id, assigned.assignee_id) == ("open", None, sales_a.pk)


@pytest.mark.django_db(transaction=True)
def test_two_agents_racing_never_get_an_assigned_task():
    store = StoreFactory(code="NJ01", **ALL_DAY)
    consultant = staff("sales_li", store)
    agents = [UserFactory(username=f"agent{index}", role=Role.CALL_AGENT, stores=[store]) for index in range(2)]
    assigned = [assigned_task(store, consultant) for _index in range(20)]
    queued = [FollowupTaskFactory(store=store, rule_date=D(2026, 11, 23)) for _index in range(20)]
    claimed: dict[int, list[int]] = {agent.pk: [] for agent in agents}
    errors = []
    barrier = threading.Barrier(len(agents))

    def work(agent):
        try:
            barrier.wait()
            while call := task_claim_next(user=agent, now=MONDAY_10AM):
                claimed[agent.pk].extend(item.pk for item in call)
                call_outcome_record(user=agent, customer_id=call[0].customer_id, outcome="reached", now=MONDAY_10AM)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    every_claim = [pk for pks in claimed.values() for pk in pks]
    assert errors == []
    assert sorted(every_claim) == sorted(task.pk for task in queued)
    assert FollowupTask.objects.filter(pk__in=[task.pk for task in assigned], status="open",
                                       assignee=consultant, claimed_by=None).count() == 20  # fmt: skip


def test_the_assignee_records_reached_and_the_task_stays_theirs(store_a, sales_a):
    task = assigned_task(store_a, sales_a)

    call = task_claim_assigned(user=sales_a, customer_id=task.customer_id, now=MONDAY_10AM)
    recorded = call_outcome_record(user=sales_a, customer_id=task.customer_id, outcome="reached", satisfaction=5,
                                   now=MONDAY_10AM)  # fmt: skip

    assert [item.pk for item in call] == [task.pk]
    assert (recorded.is_assigned, recorded.next_tasks) == (True, [])
    task.refresh_from_db()
    assert (task.status, task.outcome, task.satisfaction, task.assignee_id, task.attempts) == (
        "done", "reached", 5, sales_a.pk, 1)  # fmt: skip
    assert list(task.attempts_made.values_list("agent_id", "outcome")) == [(sales_a.pk, "reached")]


def test_no_answer_rolls_over_three_times_and_keeps_the_person(store_a, sales_a):
    task = assigned_task(store_a, sales_a)
    days = [MONDAY_10AM, MONDAY_10AM + datetime.timedelta(days=1), MONDAY_10AM + datetime.timedelta(days=2)]
    seen = []
    for now in days:
        assert task_claim_assigned(user=sales_a, customer_id=task.customer_id, now=now)
        call_outcome_record(user=sales_a, customer_id=task.customer_id, outcome="no_answer", now=now)
        task.refresh_from_db()
        seen.append((task.status, task.attempts, task.work_date, task.assignee_id))

    assert seen == [
        ("open", 1, D(2026, 11, 24), sales_a.pk),
        ("open", 2, D(2026, 11, 25), sales_a.pk),
        ("unreached", 3, D(2026, 11, 25), sales_a.pk),
    ]


def test_only_the_assignee_or_a_manager_of_the_store_opens_an_assigned_call(store_a, sales_a, advisor_a, manager_a,
                                                                             manager_b):  # fmt: skip
    task = assigned_task(store_a, sales_a)

    assert task_claim_assigned(user=advisor_a, customer_id=task.customer_id, now=MONDAY_10AM) == []
    assert task_claim_assigned(user=manager_b, customer_id=task.customer_id, now=MONDAY_10AM) == []
    task.refresh_from_db()
    assert task.claimed_by_id is None
    assert [item.pk for item in task_claim_assigned(user=manager_a, customer_id=task.customer_id,
                                                    now=MONDAY_10AM)] == [task.pk]  # fmt: skip
    # Held by the manager now: the consultant cannot open it for 30 minutes.
    assert task_claim_assigned(user=sales_a, customer_id=task.customer_id, now=MONDAY_10AM) == []
    task.refresh_from_db()
    assert (task.claimed_by_id, task.assignee_id) == (manager_a.pk, sales_a.pk)


def test_tomorrows_assigned_task_is_not_opened_today(store_a, sales_a):
    task = assigned_task(store_a, sales_a, rule_date=D(2026, 11, 24))

    assert task_claim_assigned(user=sales_a, customer_id=task.customer_id, now=MONDAY_10AM) == []


# --- departed staff ----------------------------------------------------------------------------------


def test_departed_staffs_open_tasks_go_to_the_queue(store_a, store_b, sales_a, agent_a):
    stays = staff("sales_stays", store_a)
    moved = staff("sales_moved", store_a)
    left_task = assigned_task(store_a, sales_a)
    done = assigned_task(store_a, sales_a, status="done")
    moved_task = assigned_task(store_a, moved)
    kept = assigned_task(store_a, stays)
    sales_a.is_active = False
    sales_a.save()
    moved.stores.set([store_b])

    released = tasks_release_from_departed(store_ids=[store_a.pk])
    again = tasks_release_from_departed(store_ids=[store_a.pk])

    assert (released, again) == (2, 0)
    rows = dict(FollowupTask.objects.values_list("pk", "assignee_id"))
    assert rows == {left_task.pk: None, done.pk: sales_a.pk, moved_task.pk: None, kept.pk: stays.pk}
    left_task.refresh_from_db()
    assert left_task.detail == {"released_from": sales_a.pk}
    claimed = task_claim_next(user=agent_a, now=MONDAY_10AM)
    assert {task.pk for task in claimed} <= {left_task.pk, moved_task.pk}


def test_generation_releases_departed_staffs_tasks_first(store):
    consultant = staff("sales_li", store, last_name="李", first_name="娜")
    old = assigned_task(store, consultant, rule_date=D(2026, 11, 20))
    consultant.is_active = False
    consultant.save()
    vehicle(store, delivery_date=D(2026, 11, 22), sales_consultant="李娜")

    generate(D(2026, 11, 23), store)

    # The old task went to the queue, and the new day's call finds nobody of that name any more.
    assert sorted(FollowupTask.objects.values_list("code", "assignee_id")) == [
        ("delivery_day1_call", None),
        ("delivery_day1_call", None),
    ]
    old.refresh_from_db()
    assert old.detail == {"released_from": consultant.pk}


def test_a_call_opened_from_my_tasks_is_not_the_queues_current_call(store_a, manager_a, sales_a):
    mine = assigned_task(store_a, sales_a)
    queued = FollowupTaskFactory(store=store_a, rule_date=D(2026, 11, 23))

    opened = task_claim_assigned(user=manager_a, customer_id=mine.customer_id, now=MONDAY_10AM)
    from_queue = task_claim_next(user=manager_a, now=MONDAY_10AM)

    assert ([task.pk for task in opened], [task.pk for task in from_queue]) == ([mine.pk], [queued.pk])
