"""The club's contract: club_start, club_run and export_points with exact values for each rule."""

import csv
import datetime
import io
import re
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from clubs.choices import EntryKind, Tier, TierChangeKind
from clubs.models import Membership, PointsEntry, StoreClub, TierChange
from clubs.run import club_run
from clubs.services import points_redeem, tier_set, wallet_top_up
from customers.services import customer_erase
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db

S = datetime.date(2025, 1, 1)
D = datetime.date


def export(day: datetime.date) -> list[dict]:
    out = io.StringIO()
    call_command("export_points", "--date", day.isoformat(), "--format", "csv", stdout=out, stderr=io.StringIO())
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def row_of(rows, customer_no):
    return next(row for row in rows if row["customer_no"] == customer_no)


def order(vehicle, day, amount, *, ro_no=None, repair_type="maintenance"):
    kwargs = {"ro_no": ro_no} if ro_no else {}
    return RepairOrderFactory(
        vehicle=vehicle, settle_date=day, open_date=day, total_amount=Decimal(amount), repair_type=repair_type,
        **kwargs,
    )  # fmt: skip


@pytest.fixture
def store():
    return StoreFactory(code="NJ01")


def start(store, day=S):
    call_command("club_start", "--store", store.code, "--date", day.isoformat(), stdout=io.StringIO())


def run(day, until=None):
    args = ["club_run", "--date", day.isoformat()]
    if until:
        args += ["--until", until.isoformat()]
    call_command(*args, stdout=io.StringIO())


def test_start_joins_members_with_dms_tier_and_opening_lot(store):
    before = CustomerFactory(store=store, customer_no="A1", member_tier="银卡", points_balance=1200)
    VehicleFactory(customer=before, delivery_date=D(2024, 6, 1))
    card_only = CustomerFactory(store=store, customer_no="A2", member_card_no="VIP001", points_balance=None)
    later = CustomerFactory(store=store, customer_no="A3", member_tier="金卡", points_balance=900)
    VehicleFactory(customer=later, delivery_date=D(2025, 3, 1))
    CustomerFactory(store=store, customer_no="A4")  # no delivered car, no card: not a member
    start(store)

    assert export(S) == [
        {"customer_no": "A1", "card_no": "MNJ01000001", "tier": "银卡", "balance": "1200", "expiring_30d": "0"},
        {"customer_no": "A2", "card_no": "VIP001", "tier": "普通", "balance": "0", "expiring_30d": "0"},
    ]
    run(S, D(2025, 3, 1))
    # A3 joins on the first delivery, after S: 普通, no opening points (the DMS's are not the CRM's).
    assert row_of(export(D(2025, 3, 1)), "A3") == {
        "customer_no": "A3", "card_no": "MNJ01000002", "tier": "普通", "balance": "0", "expiring_30d": "0",
    }  # fmt: skip
    assert export(D(2025, 2, 28))[-1]["customer_no"] == "A2"
    assert Membership.objects.get(customer=card_only).joined_on == S
    # The opening lot expires on S + 12 months: in the 30 days before it is "expiring", on the day it is gone.
    run(D(2025, 3, 2), D(2026, 1, 1))
    assert row_of(export(D(2025, 12, 2)), "A1")["expiring_30d"] == "1200"
    assert row_of(export(D(2025, 12, 1)), "A1")["expiring_30d"] == "0"
    assert row_of(export(D(2025, 12, 31)), "A1")["balance"] == "1200"
    assert row_of(export(D(2026, 1, 1)), "A1")["balance"] == "0"
    expiry = PointsEntry.objects.get(kind=EntryKind.EXPIRY)
    assert (expiry.on, expiry.points) == (D(2026, 1, 1), -1200)


def test_a_card_erased_at_the_customers_request_never_joins(store):
    erased = CustomerFactory(store=store, customer_no="A1")
    VehicleFactory(customer=erased, delivery_date=D(2025, 2, 1))
    kept = CustomerFactory(store=store, customer_no="A2")
    VehicleFactory(customer=kept, delivery_date=D(2025, 2, 1))
    start(store)
    customer_erase(customer=erased, user=UserFactory(), reason="客户书面申请删除")

    run(S, D(2025, 2, 1))

    assert list(Membership.objects.values_list("customer__customer_no", "joined_on")) == [("A2", D(2025, 2, 1))]


def test_start_twice_is_refused(store):
    start(store)
    with pytest.raises(CommandError, match="NJ01 的俱乐部已于 2025-01-01 启用"):
        start(store, D(2025, 6, 1))
    assert StoreClub.objects.get().started_on == S


def test_each_tier_rate_and_a_rise_in_the_middle_of_the_orders(store):
    owner = CustomerFactory(store=store, customer_no="B1")
    car = VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    start(store)
    order(car, D(2024, 12, 31), "9000")  # before S: neither earns nor qualifies
    order(car, D(2025, 4, 1), "4000", ro_no="R1")  # 普通 ×1: 80; window 4,000
    order(car, D(2025, 5, 1), "1249", ro_no="R2")  # 普通 ×1: 24; window 5,249 → 银卡
    order(car, D(2025, 6, 1), "5000", ro_no="R3", repair_type="warranty_claim")  # 索赔: nothing
    order(car, D(2025, 6, 1), "9999", ro_no="R4")  # 银卡 ×2: 199×2 = 398; window 15,248 → 金卡
    order(car, D(2025, 7, 1), "100", ro_no="R5")  # 金卡 ×3: 6
    run(D(2025, 7, 1))
    earned = dict(PointsEntry.objects.filter(kind=EntryKind.ORDER).values_list("repair_order__ro_no", "points"))
    assert earned == {"R1": 80, "R2": 24, "R4": 398, "R5": 6}
    rises = list(TierChange.objects.filter(kind=TierChangeKind.SPEND).values_list("effective_on", "tier"))
    assert rises == [(D(2025, 5, 1), Tier.SILVER), (D(2025, 6, 1), Tier.GOLD)]
    assert row_of(export(D(2025, 5, 31)), "B1")["tier"] == "银卡"
    assert row_of(export(D(2025, 7, 1)), "B1") == {
        "customer_no": "B1", "card_no": "MNJ01000001", "tier": "金卡", "balance": "508", "expiring_30d": "0",
    }  # fmt: skip
    member = Membership.objects.get(customer=owner)
    assert (member.tier, member.points_balance) == (Tier.GOLD, 508)


def test_the_same_day_counts_in_ro_no_order_and_the_window_is_twelve_months(store):
    owner = CustomerFactory(store=store, customer_no="C1")
    car = VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    start(store)
    order(car, D(2025, 2, 28), "4000", ro_no="X1")  # window 4,000
    order(car, D(2026, 2, 28), "500", ro_no="X3")  # 2025-02-28 is not after 2026-02-28 − 12 months
    order(car, D(2026, 2, 28), "1000", ro_no="X2")  # counted before X3: window 1,000 → still 普通
    order(car, D(2026, 3, 1), "4600", ro_no="X4")  # window 1,500 + 4,600 = 6,100 → 银卡 after it
    order(car, D(2026, 3, 2), "50", ro_no="X5")  # 银卡 ×2 = 2
    run(D(2026, 3, 2))
    earned = dict(PointsEntry.objects.filter(kind=EntryKind.ORDER).values_list("repair_order__ro_no", "points"))
    assert earned == {"X1": 80, "X2": 20, "X3": 10, "X4": 92, "X5": 2}
    assert row_of(export(D(2026, 3, 2)), "C1")["tier"] == "银卡"


def test_an_order_earns_once_whatever_is_run_again_or_reimported(store):
    owner = CustomerFactory(store=store, customer_no="D1")
    car = VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    start(store)
    ro = order(car, D(2025, 3, 3), "1000", ro_no="O1")
    run(D(2025, 3, 3))
    run(D(2025, 3, 3))
    ro.total_amount = Decimal("2000")  # a later export changes the amount: the order has earned already
    ro.save()
    run(D(2025, 3, 1), D(2025, 4, 1))
    assert list(PointsEntry.objects.filter(kind=EntryKind.ORDER).values_list("points", flat=True)) == [20]
    # An order imported late (settled before the last run) is earned the next night.
    order(car, D(2025, 3, 10), "500", ro_no="O2")
    run(D(2025, 4, 2))
    assert row_of(export(D(2025, 4, 2)), "D1")["balance"] == "30"
    assert Membership.objects.get(customer=owner).points_balance == 30


def test_fifo_expiry_across_a_redemption(store):
    owner = CustomerFactory(store=store, customer_no="E1", member_tier="普通", points_balance=1000)
    car = VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    start(store)
    order(car, D(2025, 2, 1), "4950", ro_no="F1")  # 99 points, expiring 2026-02-01
    run(S, D(2025, 6, 30))
    member = Membership.objects.get(customer=owner)
    with time_machine.travel(datetime.datetime(2025, 7, 1, 10, tzinfo=datetime.UTC), tick=False):
        points_redeem(membership=member, points=1050, reference="V-1", user=UserFactory())
    # 1,000 from the opening lot (oldest), 50 from February's: at their expiry nothing and 49 leave.
    run(D(2025, 7, 1), D(2026, 2, 1))
    assert list(PointsEntry.objects.filter(kind=EntryKind.EXPIRY).values_list("on", "points")) == [(D(2026, 2, 1), -49)]
    assert row_of(export(D(2026, 1, 15)), "E1") == {
        "customer_no": "E1", "card_no": "MNJ01000001", "tier": "普通", "balance": "49", "expiring_30d": "49",
    }  # fmt: skip
    assert row_of(export(D(2025, 6, 30)), "E1")["balance"] == "1099"
    assert row_of(export(D(2026, 2, 1)), "E1")["balance"] == "0"
    member.refresh_from_db()
    assert member.points_balance == 0 == sum(member.points_entries.values_list("points", flat=True))


def test_a_dms_export_after_s_changes_nothing(store):
    owner = CustomerFactory(store=store, customer_no="G1", member_tier="金卡", points_balance=700)
    VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    start(store)
    run(D(2025, 2, 1))
    owner.member_tier = "钻石"
    owner.points_balance = 99999
    owner.save()
    run(D(2025, 2, 2))
    assert row_of(export(D(2025, 2, 2)), "G1")["balance"] == "700"
    assert row_of(export(D(2025, 2, 2)), "G1")["tier"] == "金卡"


def test_manual_tier_and_top_up_rises_apply_from_their_day(store):
    owner = CustomerFactory(store=store, customer_no="H1", member_tier="金卡")
    car = VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    start(store)
    member = Membership.objects.get(customer=owner)
    manager = UserFactory()
    with time_machine.travel(datetime.datetime(2025, 3, 1, 10, tzinfo=datetime.UTC), tick=False):
        tier_set(membership=member, tier=Tier.REGULAR, reason="误录", user=manager)
    with time_machine.travel(datetime.datetime(2025, 5, 1, 10, tzinfo=datetime.UTC), tick=False):
        wallet_top_up(membership=member, amount="1500", reference="PAY-1", user=manager)
    order(car, D(2025, 2, 1), "500", ro_no="M1")  # 金卡 ×3 = 30
    order(car, D(2025, 4, 1), "500", ro_no="M2")  # 普通 ×1 = 10
    order(car, D(2025, 5, 1), "500", ro_no="M3")  # 钻石 (top-up that day) ×3 = 30
    run(D(2025, 5, 1))
    earned = dict(PointsEntry.objects.filter(kind=EntryKind.ORDER).values_list("repair_order__ro_no", "points"))
    assert earned == {"M1": 30, "M2": 10, "M3": 30}
    assert [row_of(export(day), "H1")["tier"] for day in (D(2025, 2, 28), D(2025, 3, 1), D(2025, 5, 1))] == [
        "金卡",
        "普通",
        "钻石",
    ]


def test_club_run_query_count_does_not_depend_on_members(store, django_assert_max_num_queries):
    start(store)
    for number in range(30):
        owner = CustomerFactory(store=store, customer_no=f"Q{number:03d}")
        order(VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10)), D(2025, 2, 1), "100")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        club_run(through=D(2025, 2, 1))
    few = len(queries)
    for number in range(30, 90):
        owner = CustomerFactory(store=store, customer_no=f"Q{number:03d}")
        order(VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10)), D(2025, 2, 2), "100")
    with CaptureQueriesContext(connection) as queries:
        result = club_run(through=D(2025, 2, 2))
    assert len(queries) == few
    assert result.orders_earned == 60


def test_the_nightly_task_is_on_the_beat_and_catches_up_missed_days(store, settings):
    from clubs.tasks import run_clubs

    assert settings.CELERY_BEAT_SCHEDULE["clubs-run"]["task"] == "clubs.tasks.run_clubs"
    owner = CustomerFactory(store=store, customer_no="T1")
    car = VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    start(store)
    order(car, D(2025, 1, 5), "100", ro_no="T-1")
    order(car, D(2025, 1, 9), "200", ro_no="T-2")
    assert run_clubs.delay("2025-01-10").get() == 2  # the beat stopped from S to the 10th: both days caught up
    assert run_clubs.delay("2025-01-10").get() == 0
    assert StoreClub.objects.get().run_through == D(2025, 1, 10)


def test_lifetime_fee_earns_at_three_and_unknown_dms_tiers_are_named(store):
    from clubs.services import lifetime_fee_record

    owner = CustomerFactory(store=store, customer_no="L1", member_tier="白金卡")
    car = VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    out, err = io.StringIO(), io.StringIO()
    call_command("club_start", "--store", store.code, "--date", S.isoformat(), stdout=out, stderr=err)
    assert out.getvalue() == "NJ01: club started on 2025-01-01: 1 members, 0 opening points 普通=1\n"
    assert err.getvalue() == "warning: 1 customers have the unknown DMS tier '白金卡': read as 普通\n"
    member = Membership.objects.get(customer=owner)
    with time_machine.travel(datetime.datetime(2025, 2, 1, 10, tzinfo=datetime.UTC), tick=False):
        lifetime_fee_record(membership=member, reference="FEE-9", user=UserFactory())
        lifetime_fee_record(membership=member, reference="FEE-9", user=UserFactory())
    order(car, D(2025, 2, 1), "1000", ro_no="LF1")
    run(D(2025, 2, 1))
    assert row_of(export(D(2025, 2, 1)), "L1")["tier"] == "终身VIP"
    assert row_of(export(D(2025, 2, 1)), "L1")["balance"] == "60"
    assert TierChange.objects.filter(kind=TierChangeKind.LIFETIME).count() == 1


def test_customer_numbers_sort_by_code_point(store):
    for number in ("a-2", "B10", "B9", "a10"):
        CustomerFactory(store=store, customer_no=number, member_card_no=f"K{number}")
    start(store)
    assert [row["customer_no"] for row in export(S)] == ["B10", "B9", "a-2", "a10"]


def test_a_run_reads_what_was_settled_or_changed_since_the_last_one(store):
    from customers.models import RepairOrder

    owner = CustomerFactory(store=store, customer_no="W1")
    car = VehicleFactory(customer=owner, delivery_date=D(2024, 1, 10))
    start(store)
    order(car, D(2025, 1, 10), "100", ro_no="W-1")
    run(D(2025, 1, 31))
    long_ago = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    settled_later = order(car, D(2025, 2, 2), "200", ro_no="W-2")
    RepairOrder.objects.filter(pk=settled_later.pk).update(updated_at=long_ago)  # settled after the last run
    changed = order(car, D(2025, 1, 20), "300", ro_no="W-3")  # imported since the last run, settled before it
    run(D(2025, 2, 2))
    earned = dict(PointsEntry.objects.filter(kind=EntryKind.ORDER).values_list("repair_order__ro_no", "points"))
    assert earned == {"W-1": 2, "W-2": 4, "W-3": 6}
    # The late order is earned on its own settle date, before the run that found it.
    assert PointsEntry.objects.get(repair_order=changed).on == D(2025, 1, 20)


def test_the_demo_starts_every_store_club_and_runs_it(settings):
    settings.DEMO_MODE = True
    out = io.StringIO()
    call_command("seed_demo", "--customers", "30", "--password", "demo-pw-123", stdout=out)
    assert StoreClub.objects.count() == 3
    assert all(club.run_through == club.started_on + datetime.timedelta(days=350) for club in StoreClub.objects.all())
    members = Membership.objects.count()
    assert f"club_members={members}" in out.getvalue()
    assert members > 0
    assert all(
        member.points_balance == sum(member.points_entries.values_list("points", flat=True))
        for member in Membership.objects.all()
    )


def test_commands_answer_bad_input_with_a_message(store):
    with pytest.raises(CommandError, match="XX"):
        call_command("club_start", "--store", "XX", "--date", "2025-01-01")
    with pytest.raises(CommandError, match=re.escape("'2025-13-01' is not a date: use YYYY-MM-DD.")):
        call_command("club_run", "--date", "2025-13-01")
    with pytest.raises(CommandError, match=re.escape("--until is before --date.")):
        call_command("club_run", "--date", "2025-02-01", "--until", "2025-01-01")
