"""The monthly satisfaction figures (customers.satisfaction_figures) behind "Satisfaction over time":
a result is credited to its store, advisor and consultant of record when it is recorded, for good;
after calls, an SMS reply digit, a delivery interview, a complaint closed with the customer's
confirmation, a DMS import, an erasure and a customer deleted in the admin, the kept figures equal
a recount from scratch (on change); the nightly run and the command put right figures that were
deleted or garbled; the page equals the live computation it replaced, with the same queries
whatever the number of results."""

import datetime
import importlib
import io
import zoneinfo

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from complaints.services import complaint_close, complaint_create
from crm.choices import Role
from customers.models import Customer, RepairOrder, SatisfactionMonth, SatisfactionResult, Vehicle
from customers.satisfaction import satisfaction_result_record
from customers.satisfaction_figures import satisfaction_figures_refresh
from customers.selectors.interviews import DEFAULT_FACTORS
from customers.selectors.satisfaction_trend import GROUPINGS, satisfaction_trend
from customers.services import customer_erase
from customers.services.interviews import delivery_interview_record
from customers.tasks import refresh_satisfaction_figures
from followups.models import SmsMessage
from followups.services import call_record_outcome, sms_inbound_receive, task_claim_next
from tests.complaints.factories import ComplaintTypeFactory
from tests.customers.dms_helpers import customer_row, make_vin, repair_row, run_import, vehicle_row, write_csv
from tests.customers.satisfaction_recount import assert_kept_equals_recount, kept, live_trend, recount
from tests.factories import CustomerFactory, RepairOrderFactory, UserFactory, VehicleFactory
from tests.followups.factories import FollowupTaskFactory

pytestmark = pytest.mark.django_db
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
D = datetime.date
OCTOBER, NOVEMBER = D(2026, 10, 1), D(2026, 11, 1)
TODAY = D(2026, 11, 30)


def at(day: datetime.date, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=SHANGHAI)


@pytest.fixture
def owners(tmp_path, store_a, store_b):
    """C001 (store A): a car sold by 王销售 on 1 May, serviced by 张顾问 on 10 October; C002 (store
    B): a car sold by 赵销售 on 20 November. Through the DMS import."""
    write_csv(tmp_path / "c.csv", [
        customer_row("C001", 手机号码="13812340001"),
        customer_row("C002", 客户姓名="李娜", 手机号码="13812340002", 所属门店="NJ02"),
    ])  # fmt: skip
    write_csv(tmp_path / "v.csv", [
        vehicle_row(make_vin(1), "C001", 交车日期="2026-05-01", 销售顾问="王销售"),
        vehicle_row(make_vin(2), "C002", 车牌号="苏A22222", 交车日期="2026-11-20", 销售顾问="赵销售", 所属门店="NJ02"),
    ])  # fmt: skip
    write_csv(tmp_path / "r.csv", [
        repair_row("RO1", make_vin(1), 进厂日期="2026-10-10", 结算日期="2026-10-10", 服务顾问="张顾问"),
    ])  # fmt: skip
    for kind, name in (("customers", "c.csv"), ("vehicles", "v.csv"), ("repair_orders", "r.csv")):
        run_import(kind, tmp_path / name)
    return Customer.objects.get(customer_no="C001"), Customer.objects.get(customer_no="C002")


def call(agent, customer, *, satisfaction, now, code="post_repair_callback"):
    """A reached call of ``code`` scored ``satisfaction``, through the call queue's service."""
    task = FollowupTaskFactory(store=customer.store, customer=customer, code=code, rule_date=now.date())
    assert task.pk in [claimed.pk for claimed in task_claim_next(user=agent, now=now)]
    call_record_outcome(user=agent, customer_id=customer.pk, outcome="reached", satisfaction=satisfaction,
                        is_dissatisfied=False, notes="", answers={str(task.pk): {}}, now=now)  # fmt: skip


def sms_reply(customer, digit: str, *, received_at):
    sent = received_at - datetime.timedelta(hours=2)
    SmsMessage.objects.create(
        idempotency_key=f"repair-{customer.pk}", store=customer.store, customer=customer,
        code="post_repair_callback", mobile=customer.mobile, body="…", send_date=sent.date(), status="sent",
        sent_at=sent,
    )  # fmt: skip
    sms_inbound_receive(mobile=customer.mobile, text=digit, received_at=received_at)


def interview(user, vehicle, *, now, lowest: int):
    scores = {code: 5 for code, _label, _position in DEFAULT_FACTORS}
    scores[next(iter(scores))] = lowest
    with time_machine.travel(now, tick=False):
        delivery_interview_record(user=user, vehicle=vehicle, scores=scores, comment="")


def closed_complaint(manager, customer, *, now, confirmation):
    with time_machine.travel(now, tick=False):
        complaint = complaint_create(actor=manager, customer=customer, channel="phone", department="service",
                                     complaint_type=ComplaintTypeFactory(name="维修质量", department="service"),
                                     severity="medium", description="等太久")  # fmt: skip
        complaint_close(actor=manager, complaint=complaint, resolution="道歉", confirmation=confirmation)


@pytest.fixture
def recorded(owners, store_b, agent_a, manager_a):
    """Four results through the desks' services: a complaint of C001 closed "not satisfied" in
    October, a call of C001 scored 2 and an SMS reply 5 in November, and the delivery interview of
    C002's car (its lowest factor 3)."""
    c001, c002 = owners
    closed_complaint(manager_a, c001, now=at(D(2026, 10, 21), 15), confirmation="not_satisfied")
    call(agent_a, c001, satisfaction=2, now=at(D(2026, 11, 23)))
    sms_reply(c001, "5", received_at=at(D(2026, 11, 22), 12))
    sales_b = UserFactory(username="sales_b", role=Role.SALES_CONSULTANT, stores=[store_b])
    interview(sales_b, Vehicle.objects.get(customer=c002), now=at(D(2026, 11, 20), 15, 30), lowest=3)
    return owners


def test_each_desk_credits_its_result_when_recorded_and_adds_it_to_its_month(recorded, store_a, store_b):
    results = {
        row[0]: row[1:]
        for row in SatisfactionResult.objects.values_list("source", "store_id", "service_advisor", "sales_consultant")
    }
    assert results == {
        "complaint_close": (store_a.pk, "张顾问", "王销售"),
        "call": (store_a.pk, "张顾问", "王销售"),
        "sms_reply": (store_a.pk, "张顾问", "王销售"),
        "delivery_interview": (store_b.pk, "", "赵销售"),
    }
    assert kept() == {
        (OCTOBER, store_a.pk, "rule", "source:complaint_close"): (1, 0, 0, 1, 0, 0, 0, 0, 0),
        (OCTOBER, store_a.pk, "advisor", "张顾问"): (1, 0, 0, 1, 0, 0, 0, 0, 0),
        (OCTOBER, store_a.pk, "consultant", "王销售"): (1, 0, 0, 1, 0, 0, 0, 0, 0),
        (NOVEMBER, store_a.pk, "rule", "post_repair_callback"): (2, 2, 7, 1, 0, 1, 0, 0, 1),
        (NOVEMBER, store_a.pk, "advisor", "张顾问"): (2, 2, 7, 1, 0, 1, 0, 0, 1),
        (NOVEMBER, store_a.pk, "consultant", "王销售"): (2, 2, 7, 1, 0, 1, 0, 0, 1),
        (NOVEMBER, store_b.pk, "rule", "source:delivery_interview"): (1, 1, 3, 0, 0, 0, 1, 0, 0),
        (NOVEMBER, store_b.pk, "advisor", ""): (1, 1, 3, 0, 0, 0, 1, 0, 0),
        (NOVEMBER, store_b.pk, "consultant", "赵销售"): (1, 1, 3, 0, 0, 0, 1, 0, 0),
    }
    assert_kept_equals_recount()


def test_recording_the_same_result_again_counts_it_once(recorded, store_a):
    result = SatisfactionResult.objects.get(source="call")
    before = kept()

    again, created = satisfaction_result_record(
        customer=result.customer, department="service", source="call", reference=result.reference,
        at=result.at, score=1, rule_code="post_repair_callback",
    )  # fmt: skip

    assert (again.pk, created) == (result.pk, False)
    assert kept() == before


def test_a_dms_import_moving_the_customer_and_bringing_an_earlier_repair_order_changes_nothing(
    recorded, tmp_path, store_a, store_b
):
    """The DMS import never touches results: C001 moves to store B and a repair order settled on
    1 November by 李顾问 arrives late; last month's figures stay where they were credited."""
    before = kept()
    write_csv(tmp_path / "c2.csv", [customer_row("C001", 手机号码="13812340001", 所属门店="NJ02")])
    write_csv(tmp_path / "r2.csv", [
        repair_row("RO2", make_vin(1), 进厂日期="2026-11-01", 结算日期="2026-11-01", 服务顾问="李顾问",
                   所属门店="NJ02"),
    ])  # fmt: skip
    run_import("customers", tmp_path / "c2.csv")
    run_import("repair_orders", tmp_path / "r2.csv")

    c001 = Customer.objects.get(customer_no="C001")
    assert c001.store_id == store_b.pk
    assert RepairOrder.objects.filter(ro_no="RO2").exists()
    assert set(SatisfactionResult.objects.filter(customer=c001).values_list("store_id", "service_advisor")) == {
        (store_a.pk, "张顾问")
    }
    assert kept() == before
    assert_kept_equals_recount()
    # The live computation would have moved them: to store B, and November's to 李顾问.
    rows, _scores = live_trend(store_ids=[store_a.pk, store_b.pk], first=OCTOBER, last=NOVEMBER, grouping="advisor")
    assert rows[("李顾问", NOVEMBER)] == (2, 2, 7, 1)


def test_an_erasure_keeps_the_results_and_their_figures(recorded, manager_a):
    c001, _c002 = recorded
    before = kept()

    customer_erase(customer=c001, user=manager_a, reason="客户要求删除个人信息")

    assert SatisfactionResult.objects.filter(customer=c001).count() == 3
    assert kept() == before
    assert_kept_equals_recount()


def test_a_customer_deleted_in_the_admin_takes_its_results_out_of_the_figures(client, recorded, store_a, store_b):
    walk_in = CustomerFactory(customer_no="W001", store=store_a)
    satisfaction_result_record(customer=walk_in, department="service", source="call", reference="test:walk-in",
                               at=at(D(2026, 11, 5)), score=4, rule_code="post_repair_callback")  # fmt: skip
    assert kept()[(NOVEMBER, store_a.pk, "rule", "post_repair_callback")] == (3, 3, 11, 1, 0, 1, 0, 1, 1)
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True, sees_all_stores=True,
                            stores=[store_a, store_b])  # fmt: skip
    client.force_login(superuser)

    response = client.post(reverse("admin:customers_customer_delete", args=[walk_in.pk]), {"post": "yes"})

    assert response.status_code == 302
    assert not Customer.objects.filter(pk=walk_in.pk).exists()
    assert kept()[(NOVEMBER, store_a.pk, "rule", "post_repair_callback")] == (2, 2, 7, 1, 0, 1, 0, 0, 1)
    assert (NOVEMBER, store_a.pk, "advisor", "") not in kept()
    assert_kept_equals_recount()


def test_the_nightly_run_puts_right_deleted_garbled_and_uncredited_figures(recorded, store_a, store_b):
    c001, _c002 = recorded
    expected = kept()
    # November garbled, October's figures gone, a result written around the service (no store of record).
    SatisfactionMonth.objects.filter(month=NOVEMBER, dimension="rule").update(results=99, score_5=7)
    SatisfactionMonth.objects.create(month=NOVEMBER, store=store_b, dimension="advisor", key="鬼", results=5)
    SatisfactionMonth.objects.filter(month=OCTOBER).delete()
    SatisfactionResult.objects.create(
        customer=c001, at=at(D(2026, 11, 25)), score=1, verdict="dissatisfied", department="service",
        source="sms_reply", rule_code="", reference="script:1",
    )  # fmt: skip
    assert kept() != recount()

    assert refresh_satisfaction_figures(TODAY.isoformat()) == 2

    credited = SatisfactionResult.objects.get(reference="script:1")
    assert (credited.store_id, credited.service_advisor, credited.sales_consultant) == (store_a.pk, "张顾问", "王销售")
    assert_kept_equals_recount()
    assert {key: counts for key, counts in kept().items() if key[0] == OCTOBER} == {
        key: counts for key, counts in expected.items() if key[0] == OCTOBER
    }
    assert kept()[(NOVEMBER, store_a.pk, "rule", "source:sms_reply")] == (1, 1, 1, 1, 1, 0, 0, 0, 0)
    # Safe twice.
    assert refresh_satisfaction_figures(TODAY.isoformat()) == 2
    assert_kept_equals_recount()


def test_the_nightly_run_leaves_older_months_and_the_command_rebuilds_them(recorded, store_a):
    expected = kept()
    SatisfactionMonth.objects.filter(month=OCTOBER).update(results=42)
    january = D(2027, 1, 20)

    refresh_satisfaction_figures(january.isoformat())  # December and January: October stays as it is
    assert kept()[(OCTOBER, store_a.pk, "rule", "source:complaint_close")][0] == 42

    out = io.StringIO()
    call_command("rebuild_satisfaction_figures", "--month", "2026-10", stdout=out)
    assert out.getvalue() == "已重新统计满意度数据的月份数：1。\n"
    assert kept() == expected

    SatisfactionMonth.objects.all().update(results=7)
    out = io.StringIO()
    call_command("rebuild_satisfaction_figures", "--all", stdout=out)
    assert kept() == expected
    assert_kept_equals_recount()


def test_the_command_refuses_a_bad_month_with_a_message():
    with pytest.raises(CommandError, match="请给出 --month 或 --all 其中之一。"):
        call_command("rebuild_satisfaction_figures", stdout=io.StringIO())
    with pytest.raises(CommandError, match="--month 必须是形如 2025-08 的月份，而不是“2026-13”。"):
        call_command("rebuild_satisfaction_figures", "--month", "2026-13", stdout=io.StringIO())
    with translation.override("en"), pytest.raises(CommandError, match=r"Give either --month or --all\."):
        call_command("rebuild_satisfaction_figures", "--all", "--month", "2026-10", stdout=io.StringIO())
    out = io.StringIO()
    call_command("rebuild_satisfaction_figures", "--all", stdout=out)
    assert out.getvalue() == "没有满意度结果：无需统计。\n"


def test_the_nightly_run_is_in_the_beat_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["customers-refresh-satisfaction-figures"]
    assert entry["task"] == "customers.tasks.refresh_satisfaction_figures"
    assert entry["options"]["expires"] > 0


def test_a_recount_of_a_month_and_store_is_one_delete_and_one_insert(recorded, store_a):
    with CaptureQueriesContext(connection) as captured:
        satisfaction_figures_refresh(pairs=[(NOVEMBER, store_a.pk)])
    statements = [query["sql"] for query in captured.captured_queries if "satisfactionmonth" in query["sql"]]
    assert len(statements) == 1
    assert statements[0].count("DELETE FROM") == 1
    assert statements[0].count("INSERT INTO") == 1
    assert_kept_equals_recount()


# --- the page equals the live computation it replaced -----------------------------------------------


@pytest.fixture
def many_results(store_a, store_b):
    """Forty results of six owners in two stores over four months, every source, through the
    service, after all their cars and repair orders (so that crediting them when recorded and
    looking them up live agree)."""
    owners = []
    for number in range(6):
        store = store_a if number % 2 == 0 else store_b
        owner = CustomerFactory(customer_no=f"M{number:03d}", store=store)
        car = VehicleFactory(customer=owner, store=store, delivery_date=D(2026, 6 + number % 3, 3),
                             sales_consultant=["王销售", "赵销售", ""][number % 3])  # fmt: skip
        for month, advisor in ((7, "张顾问"), (9, "李顾问"), (10, "")):
            if (number + month) % 4:
                RepairOrderFactory(vehicle=car, store=store, settle_date=D(2026, month, 1 + number),
                                   service_advisor=advisor)  # fmt: skip
        owners.append(owner)
    sources = [("call", "post_repair_callback"), ("call", "delivery_thanks"), ("sms_reply", ""),
               ("delivery_interview", "delivery_thanks"), ("complaint_close", "")]  # fmt: skip
    for n in range(40):
        source, rule_code = sources[n % len(sources)]
        score = None if n % 7 == 0 else 1 + n % 5
        satisfaction_result_record(
            customer=owners[n % 6], department="service", source=source, reference=f"many:{n}",
            at=at(D(2026, 7 + n % 4, 1 + n % 28), 8 + n % 14), score=score, rule_code=rule_code,
            verdict="dissatisfied" if score is None and n % 2 else None,
        )  # fmt: skip
    return owners


@pytest.mark.parametrize("grouping", GROUPINGS)
def test_the_page_equals_the_live_computation_it_replaced(many_results, store_a, store_b, grouping):
    for store_ids in ([store_a.pk, store_b.pk], [store_b.pk]):
        trend = satisfaction_trend(store_ids=store_ids, first=D(2026, 6, 1), last=D(2026, 11, 1), grouping=grouping,
                                   today=TODAY)  # fmt: skip
        rows, scores = live_trend(store_ids=store_ids, first=D(2026, 6, 1), last=D(2026, 11, 1), grouping=grouping)

        shown = {
            (group.key, month): (figures.results, figures.scored, figures.score_sum, figures.dissatisfied)
            for group in trend.groups
            for month, figures in group.months.items()
        }
        assert shown == rows
        assert trend.distribution == [(score, scores.get(score, 0)) for score in (1, 2, 3, 4, 5)]
        assert trend.unscored == scores.get(None, 0)
    assert_kept_equals_recount()


@pytest.mark.parametrize("count", [3, 30])
def test_the_page_makes_the_same_queries_for_3_and_30_results(client, manager_a, store_a, count,
                                                              django_assert_num_queries):  # fmt: skip
    owner = CustomerFactory(store=store_a)
    car = VehicleFactory(customer=owner, store=store_a, delivery_date=D(2026, 1, 5), sales_consultant="王销售")
    for n in range(count):
        RepairOrderFactory(vehicle=car, store=store_a, settle_date=D(2026, 1 + n % 10, 2),
                           service_advisor=f"顾问{n % 7}")  # fmt: skip
    for n in range(count):
        satisfaction_result_record(customer=owner, department="service", source="call", reference=f"q:{n}",
                                   at=at(D(2026, 1 + n % 11, 20)), score=1 + n % 5,
                                   rule_code="post_repair_callback")  # fmt: skip
    client.force_login(manager_a)

    # The reads every page makes, the store choices and the figures' two sums, whatever the data.
    with time_machine.travel(at(TODAY), tick=False), django_assert_num_queries(6):
        response = client.get(reverse("customers:satisfaction"), {"by": "advisor"})

    assert response.status_code == 200
    assert f'data-figure="results">{count}<' in response.content.decode()


# --- the migration's back-fill ---------------------------------------------------------------------

backfill = importlib.import_module("customers.migrations.0024_satisfaction_figures")


def test_the_migration_credits_the_results_recorded_before_and_builds_their_figures(store_a, store_b):
    """Results as the upgrade finds them (no store of record): credited from the data as it stands,
    as the page looked them up, then counted."""
    x = CustomerFactory(customer_no="X1", store=store_a)
    car = VehicleFactory(customer=x, store=store_a, delivery_date=D(2025, 1, 5), sales_consultant="王销售")
    RepairOrderFactory(vehicle=car, store=store_a, settle_date=D(2026, 1, 10), service_advisor="张顾问")
    RepairOrderFactory(vehicle=car, store=store_a, settle_date=D(2026, 3, 5), service_advisor="李顾问")
    y = CustomerFactory(customer_no="Y1", store=store_b)
    old = [
        (x, at(D(2025, 4, 1)), 1, "call", "post_repair_callback"),  # before any repair order
        (x, at(D(2026, 3, 5), 20), 2, "sms_reply", ""),  # the repair order of that day
        (x, at(D(2026, 1, 31), 23, 30), 4, "delivery_interview", "delivery_thanks"),  # January in Beijing time
        (y, at(D(2026, 2, 1)), None, "complaint_close", ""),  # no car, no repair order
    ]
    for n, (customer, when, score, source, rule_code) in enumerate(old):
        SatisfactionResult.objects.create(
            customer=customer, at=when, score=score, verdict="dissatisfied" if (score or 1) <= 2 else "satisfied",
            department="service", source=source, rule_code=rule_code, reference=f"old:{n}",
        )  # fmt: skip
    SatisfactionMonth.objects.create(month=D(2026, 1, 1), store=store_a, dimension="rule", key="x", results=1)

    with connection.cursor() as cursor:
        cursor.execute(backfill.CREDIT, {"tz": settings.TIME_ZONE})
        cursor.execute(backfill.BUILD, {"tz": settings.TIME_ZONE})

    credited = list(
        SatisfactionResult.objects.order_by("reference").values_list("store_id", "service_advisor", "sales_consultant")
    )
    assert credited == [
        (store_a.pk, "", "王销售"),
        (store_a.pk, "李顾问", "王销售"),
        (store_a.pk, "张顾问", "王销售"),
        (store_b.pk, "", ""),
    ]
    assert_kept_equals_recount()
    assert kept()[(D(2026, 1, 1), store_a.pk, "rule", "source:delivery_interview")] == (1, 1, 4, 0, 0, 0, 0, 1, 0)
