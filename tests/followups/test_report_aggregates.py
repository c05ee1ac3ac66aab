"""The follow-up reports' per-day figures (followups/report_figures.py): after the real generation,
calls (with a booking and dissatisfied scores), a check-in and a DMS import of repair orders, the
stored figures equal a recount from scratch, by the on-change path and by the nightly path apart,
and the reports equal the old computation (tests/followups/report_recount.py) for every kind of reader."""

import datetime
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum
from django.urls import reverse

from crm.choices import Role
from customers.choices import Confidentiality
from customers.models import Appointment, Customer
from customers.services.appointments import appointment_check_in
from followups import tasks
from followups.models import CallAttempt, FollowupDayCalls, FollowupDayTasks, FollowupTask
from followups.report_figures import report_figures_rebuild
from followups.selectors import call_funnel_report, call_summary, completion_report, followup_reports
from followups.services import CallBooking, call_outcome_record, followups_generate_day, task_claim_next
from tests.customers.dms_helpers import make_vin, repair_row, run_import, write_csv
from tests.factories import CustomerFactory, UserFactory, VehicleFactory
from tests.followups.factories import CallAttemptFactory, FollowupTaskFactory, rules_for
from tests.followups.report_recount import call_funnel_report_recount, call_summary_recount, completion_report_recount

pytestmark = pytest.mark.django_db
D = datetime.date
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
DECEMBER = {"start": D(2026, 12, 1), "end": D(2026, 12, 31)}
PERIODS = [DECEMBER, {"start": D(2026, 12, 2), "end": D(2026, 12, 2)}, {"start": D(2026, 12, 3), "end": D(2026, 12, 4)}]


def at(day: int, hour: int, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(2026, 12, day, hour, minute, tzinfo=SHANGHAI)


def owner(store, number: int, **fields):
    customer = CustomerFactory(store=store, customer_no=f"C{number:04d}", **fields)
    VehicleFactory(customer=customer, store=store, vin=make_vin(number), delivery_date=D(2026, 11, 29))
    return customer


# The outcomes the agents give, call after call: (outcome, satisfaction, dissatisfied tick).
OUTCOMES = [
    ("reached", 5, False),
    ("no_answer", None, False),
    ("booked", 4, False),
    ("reached", 2, False),  # a score of 2 is dissatisfied
    ("busy", None, False),
    ("refused", None, True),
    ("reached", 3, False),
    ("wrong_number", None, False),
    ("reached", 1, False),
]


def work_the_queue(agent, *, start: datetime.datetime) -> list[FollowupTask]:
    """The agent claims and records every callable call, one a minute, the outcomes in turn."""
    worked, now = [], start
    with time_machine.travel(start, tick=False):
        for index in range(30):
            claimed = task_claim_next(user=agent, now=now)
            if not claimed:
                break
            outcome, satisfaction, dissatisfied = OUTCOMES[index % len(OUTCOMES)]
            booking = None
            if outcome == "booked":
                booking = CallBooking(
                    vehicle=claimed[0].vehicle, date=D(2026, 12, 3), slot=datetime.time(9, 0), purpose="maintenance"
                )
            call_outcome_record(
                user=agent, customer_id=claimed[0].customer_id, outcome=outcome, satisfaction=satisfaction,
                is_dissatisfied=dissatisfied, now=now, booking=booking,
            )  # fmt: skip
            worked.extend(claimed)
            now += datetime.timedelta(minutes=1)
    return worked


@pytest.fixture
def readers(store_a, store_b, manager_a, admin_user):
    """Who reads the reports: the group's admin (no restricted card), store A's manager (its 机密
    cards, not the 绝密 one), store B's manager, and a superuser (everything)."""
    return {
        "admin": admin_user,
        "manager_a": manager_a,
        "manager_b": UserFactory(username="manager_b", role=Role.MANAGER, stores=[store_b]),
        "superuser": UserFactory(username="root", is_superuser=True, stores=[store_a, store_b]),
    }


@pytest.fixture
def worked_month(store_a, store_b, agent_a, advisor_a, tmp_path, django_capture_on_commit_callbacks):
    """Two stores' delivery calls through the real services: generated for 2 December, worked that
    day and the next (what rolled over), a visit booked on a call and kept by check-in, repair orders
    imported from the DMS; store A has a 机密 and a 绝密 card, both named to agent_a."""
    agent_b = UserFactory(username="agent_b", role=Role.CALL_AGENT, stores=[store_b], last_name="李", first_name="娜")
    for store in (store_a, store_b):
        rules_for(store)
    normal = [owner(store_a, number) for number in range(1, 8)] + [owner(store_b, number) for number in (8, 9, 10)]
    confidential = owner(store_a, 11, confidentiality=Confidentiality.CONFIDENTIAL)
    top_secret = owner(store_a, 12, confidentiality=Confidentiality.TOP_SECRET)
    for customer in (confidential, top_secret):
        customer.authorized_staff.add(agent_a)

    with time_machine.travel(at(2, 0, 30), tick=False):
        made = followups_generate_day(day=D(2026, 12, 2), store_ids=[store_a.pk, store_b.pk])
    assert made["delivery_thanks"] == 12
    work_the_queue(agent_a, start=at(2, 9, 10))
    work_the_queue(agent_b, start=at(2, 10, 0))
    with time_machine.travel(at(3, 0, 30), tick=False):
        followups_generate_day(day=D(2026, 12, 3), store_ids=[store_a.pk, store_b.pk])
    work_the_queue(agent_a, start=at(3, 9, 0))
    work_the_queue(agent_b, start=at(3, 9, 30))
    with time_machine.travel(at(3, 9, 5), tick=False):
        for appointment in Appointment.objects.all():
            appointment_check_in(user=advisor_a, appointment=appointment)
    # Repair orders of the first cars two days after their calls; one of the 机密 card's too.
    orders = [
        repair_row(f"RO-{number}", make_vin(number), 进厂日期="2026-12-04", 结算日期="2026-12-04", 结算金额=amount)
        for number, amount in ((1, "100.50"), (2, "200.00"), (3, "300.25"), (4, "400.00"), (11, "1100.00"))
    ]
    with time_machine.travel(at(4, 20, 0), tick=False), django_capture_on_commit_callbacks(execute=True):
        run_import("repair_orders", write_csv(tmp_path / "ro.csv", orders))

    attempts = CallAttempt.objects.all()
    assert attempts.filter(at__date=D(2026, 12, 2)).count() >= 10
    assert attempts.filter(at__date=D(2026, 12, 3)).exists()
    assert attempts.filter(customer__in=[confidential, top_secret]).count() >= 2
    assert attempts.filter(is_dissatisfied=True).exists()
    assert Appointment.objects.filter(kept_at__isnull=False).exists()
    return {"normal": normal, "confidential": confidential, "top_secret": top_secret}


def stored() -> tuple[list, list]:
    calls = FollowupDayCalls.objects.values_list(
        "day", "store_id", "code", "agent_id", "made", "reached", "satisfied", "dissatisfied", "outcomes",
        "score_1", "score_2", "score_3", "score_4", "score_5",
    )  # fmt: skip
    due = FollowupDayTasks.objects.values_list("day", "store_id", "code", "due")
    return sorted(calls, key=str), sorted(due, key=str)


def recounted(user, *, start, end) -> dict:
    """The old computation: every call attempt and task of the period, counted again."""
    summary = call_summary_recount(user=user, start=start, end=end)
    return {
        "completion": completion_report_recount(user=user, start=start, end=end),
        "summary": {**summary, "dissatisfied": sorted(call.pk for call in summary["dissatisfied"])},
        "funnel": call_funnel_report_recount(user=user, start=start, end=end),
    }


def reported(user, *, start, end) -> dict:
    report = followup_reports(user=user, start=start, end=end)
    report["summary"]["dissatisfied"] = sorted(call.pk for call in report["summary"]["dissatisfied"])
    return report


def assert_reports_equal_the_recount(readers):
    for name, user in readers.items():
        for period in PERIODS:
            assert reported(user, **period) == recounted(user, **period), (name, period)


def test_the_readers_see_different_figures(readers, worked_month):
    """The scenario means something: the restricted cards' calls change what each reader sees."""
    made = {name: followup_reports(user=user, **DECEMBER)["summary"]["total"] for name, user in readers.items()}
    calls = CallAttempt.objects.filter(task__store__code="NJ01")
    restricted = calls.filter(customer__confidentiality__in=["confidential", "top_secret"]).count()
    top_secret = calls.filter(customer__confidentiality="top_secret").count()
    assert made["superuser"] == CallAttempt.objects.count()
    assert made["admin"] == CallAttempt.objects.count() - restricted
    assert made["manager_a"] == calls.count() - top_secret
    assert made["manager_b"] == CallAttempt.objects.filter(task__store__code="NJ02").count()
    assert len(set(made.values())) == 4


def test_the_on_change_path_keeps_the_figures_equal_to_a_recount(readers, worked_month):
    # Only the refreshes after each call and each generation have run: the reports already equal
    # the old computation for every reader and period...
    assert_reports_equal_the_recount(readers)
    # ...and the stored figures equal a recount of every day from scratch.
    on_change = stored()
    assert on_change[0]
    assert on_change[1]
    report_figures_rebuild(start=D(2026, 11, 25), end=D(2026, 12, 10))
    assert stored() == on_change


def test_the_nightly_path_rebuilds_the_figures_from_scratch_and_twice_is_the_same(readers, worked_month):
    on_change = stored()
    FollowupDayCalls.objects.all().delete()
    FollowupDayTasks.objects.all().delete()
    assert followup_reports(user=readers["superuser"], **DECEMBER)["summary"]["total"] == 0

    tasks.rebuild_report_figures.delay("2026-12-05")
    assert stored() == on_change
    tasks.rebuild_report_figures.delay("2026-12-05")
    assert stored() == on_change
    assert_reports_equal_the_recount(readers)


def test_the_nightly_job_rebuilds_forty_days(worked_month):
    # 2 December is the 40th day back from 10 January: rebuilt; 3 January's job still covers it.
    FollowupDayCalls.objects.all().delete()
    assert tasks.rebuild_report_figures.delay("2027-01-11").get() == 40
    assert not FollowupDayCalls.objects.filter(day=D(2026, 12, 2)).exists()
    assert tasks.rebuild_report_figures.delay("2027-01-10").get() == 40
    assert FollowupDayCalls.objects.filter(day=D(2026, 12, 2)).exists()


def test_a_card_that_becomes_restricted_needs_no_refresh(readers, worked_month):
    Customer.objects.filter(pk__in=[customer.pk for customer in worked_month["normal"][:2]]).update(
        confidentiality=Confidentiality.TOP_SECRET
    )
    Customer.objects.filter(pk=worked_month["confidential"].pk).update(confidentiality=Confidentiality.NORMAL)

    assert_reports_equal_the_recount(readers)


def test_the_single_reports_equal_the_recount(readers, worked_month):
    user = readers["manager_a"]
    assert completion_report(user=user, **DECEMBER) == completion_report_recount(user=user, **DECEMBER)
    assert call_funnel_report(user=user, **DECEMBER) == call_funnel_report_recount(user=user, **DECEMBER)
    summary, old = call_summary(user=user, **DECEMBER), call_summary_recount(user=user, **DECEMBER)
    assert {call.pk for call in summary.pop("dissatisfied")} == {call.pk for call in old.pop("dissatisfied")}
    assert summary == old
    assert summary["total"] > 0


def test_the_reports_page_shows_the_recounted_figures(client, readers, worked_month):
    for name in ("admin", "manager_a"):
        client.force_login(readers[name])
        response = client.get(reverse("followups:reports"), {"start": "2026-12-01", "end": "2026-12-31"})
        expected = recounted(readers[name], **DECEMBER)

        assert response.status_code == 200
        assert response.context["completion"] == expected["completion"]
        assert response.context["funnel"] == expected["funnel"]
        summary = dict(response.context["summary"])
        summary["dissatisfied"] = sorted(call.pk for call in summary["dissatisfied"])
        assert summary == expected["summary"]


# --- the page's cost does not grow with the data ---------------------------------------------------


def calls(store, agent, count: int) -> None:
    """``count`` calls of store A on 2 December, a third of them dissatisfied, some of a 绝密 card."""
    secret = CustomerFactory(store=store, confidentiality=Confidentiality.TOP_SECRET)
    for index in range(count):
        customer = secret if index % 5 == 0 else CustomerFactory(store=store)
        task = FollowupTaskFactory(store=store, customer=customer, code="delivery_thanks", queue_date=D(2026, 12, 2),
                                   rule_date=D(2026, 12, 2), unit_id=index + 1)  # fmt: skip
        CallAttemptFactory(task=task, agent=agent, at=at(2, 9, index % 60), outcome=OUTCOMES[index % 9][0],
                           satisfaction=OUTCOMES[index % 9][1], is_dissatisfied=index % 3 == 0)  # fmt: skip
    report_figures_rebuild(start=D(2026, 12, 2), end=D(2026, 12, 2))


@pytest.mark.parametrize("count", [3, 30])
def test_the_reports_page_costs_the_same_queries_with_3_or_30_calls(
    client, store_a, agent_a, manager_a, count, django_assert_num_queries
):
    calls(store_a, agent_a, count)
    client.force_login(manager_a)
    client.get(reverse("followups:reports"))  # warm the session

    with django_assert_num_queries(8):  # 11 + the typed questionnaire's factor scores (one statement)
        response = client.get(reverse("followups:reports"), {"start": "2026-12-01", "end": "2026-12-31"})

    assert response.status_code == 200
    secret_calls = len(range(0, count, 5))
    assert response.context["summary"]["total"] == count - secret_calls
    assert response.context["completion"] == completion_report_recount(user=manager_a, **DECEMBER)


def test_the_command_rebuilds_a_range_or_everything(worked_month):
    on_change = stored()
    FollowupDayCalls.objects.all().delete()
    FollowupDayTasks.objects.all().delete()
    output = io.StringIO()

    call_command("rebuild_report_figures", "--date", "2026-12-02", "--until", "2026-12-02", stdout=output)
    assert FollowupDayCalls.objects.exclude(day=D(2026, 12, 2)).count() == 0
    with time_machine.travel(at(6, 10), tick=False):
        call_command("rebuild_report_figures", "--all", stdout=output)

    assert stored() == on_change
    assert output.getvalue().splitlines() == [
        "已重建 2026-12-02 至 2026-12-02 共 1 天的报表数据。",
        "已重建 2026-12-02 至 2026-12-06 共 5 天的报表数据。",
    ]


# --- a call recorded while its day is recounted ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_call_recorded_during_a_recount_waits_for_it_and_is_counted_once(store_a, agent_a):
    import threading

    from django.db import connection, transaction

    from followups.report_figures import report_figures_after_call, report_figures_refresh

    calls(store_a, agent_a, 3)
    before = FollowupDayCalls.objects.filter(day=D(2026, 12, 2)).aggregate(made=Sum("made"))["made"]
    locked, release, added = threading.Event(), threading.Event(), threading.Event()

    def recount():
        try:
            with transaction.atomic():
                report_figures_refresh(days=[D(2026, 12, 2)], store_ids=[store_a.pk])
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def record():
        try:
            with transaction.atomic():
                task = FollowupTaskFactory(store=store_a, code="delivery_thanks", queue_date=D(2026, 12, 2),
                                           rule_date=D(2026, 12, 2), unit_id=999)  # fmt: skip
                attempt = CallAttemptFactory(task=task, agent=agent_a, at=at(2, 11), outcome="reached", satisfaction=5)
                report_figures_after_call(attempts=[attempt])
            added.set()
        finally:
            connection.close()

    recounting = threading.Thread(target=recount)
    recounting.start()
    assert locked.wait(10)
    recording = threading.Thread(target=record)
    recording.start()
    assert not added.wait(0.5)  # the call waits for the recount's commit
    release.set()
    recounting.join(10)
    recording.join(10)

    assert added.is_set()
    after = FollowupDayCalls.objects.filter(day=D(2026, 12, 2)).aggregate(made=Sum("made"))["made"]
    assert after == before + 1
    counted = stored()[0]  # the calls (the task was made by hand: its generation adds no due)
    report_figures_rebuild(start=D(2026, 12, 2), end=D(2026, 12, 2))
    assert stored()[0] == counted
