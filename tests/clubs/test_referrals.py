"""Referrals (保客转介绍, docs/referrals.md): recording them (clubs.services.referral_record,
referral_stage_set), matching them to deliveries through the nightly run (call_command club_run),
the points and the referral-sales report, with exact values."""

import csv
import datetime
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.utils import translation

from clubs.choices import EntryKind, ReferralStage
from clubs.models import PointsEntry, Referral
from clubs.selectors import ReferralMonth, referral_report
from clubs.services import referral_assign, referral_record, referral_stage_set
from crm.choices import AuditAction, Role
from crm.exceptions import ApplicationError
from crm.models import AuditLog
from tests.factories import CustomerFactory, StoreFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    """Today is 2 December 2026 (Beijing time), whenever the tests run."""
    with time_machine.travel(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=True):
        yield


@pytest.fixture(autouse=True)
def english_messages(settings):
    """Messages are read by their English msgids here (the pages' tests read them in Chinese)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


D = datetime.date
S = D(2025, 1, 1)


def start(store, day=S):
    call_command("club_start", "--store", store.code, "--date", day.isoformat(), stdout=io.StringIO())


def run(day, until=None):
    args = ["club_run", "--date", day.isoformat()]
    if until:
        args += ["--until", until.isoformat()]
    call_command(*args, stdout=io.StringIO())


def export(day: datetime.date) -> dict[str, dict]:
    out = io.StringIO()
    call_command("export_points", "--date", day.isoformat(), "--format", "csv", stdout=out, stderr=io.StringIO())
    return {row["customer_no"]: row for row in csv.DictReader(io.StringIO(out.getvalue()))}


BEFORE_S = D(2024, 1, 10)


def owner(store, customer_no, *, delivered=BEFORE_S, mobile=None):
    """A customer with a car delivered before S: a member once the club starts."""
    kwargs = {"mobile": mobile} if mobile else {}
    customer = CustomerFactory(store=store, customer_no=customer_no, **kwargs)
    if delivered:
        VehicleFactory(customer=customer, delivery_date=delivered)
    return customer


def buyer(store, mobile, delivered, *, customer_no=None, vin=None):
    """The prospect turned customer: a card with the referred mobile and a car delivered on ``delivered``."""
    customer = CustomerFactory(store=store, mobile=mobile, **({"customer_no": customer_no} if customer_no else {}))
    return VehicleFactory(customer=customer, delivery_date=delivered, **({"vin": vin} if vin else {}))


def refer(user, *, referrer=None, staff=None, mobile, on, name="李娜", **kwargs):
    return referral_record(
        user=user, referrer=referrer, referrer_staff=staff, prospect_name=name, prospect_mobile=mobile,
        referred_on=on, **kwargs,
    )  # fmt: skip


def refusal(action) -> str:
    """The message of the ApplicationError ``action()`` raises."""
    with pytest.raises(ApplicationError) as refused:
        action()
    return refused.value.message


def ledger(customer) -> list[tuple]:
    return list(
        PointsEntry.objects.filter(membership__customer=customer, kind=EntryKind.REFERRAL)
        .order_by("id")
        .values_list("on", "points", "expires_on", "reference")
    )


def state(referral) -> tuple:
    referral.refresh_from_db()
    return referral.stage, referral.won_vehicle_id, referral.won_customer_id, referral.won_on


@pytest.fixture
def club(store_a):
    start(store_a)
    return store_a


# --- matching through the nightly run -----------------------------------------------------------


def test_a_won_referral_pays_500_on_the_delivery_day_once_and_shows_in_export_points(club, manager_a):
    referrer = owner(club, "R1")
    referral = refer(manager_a, referrer=referrer, mobile="139 0000 0001", on=D(2025, 3, 1))
    car = buyer(club, "13900000001", D(2025, 5, 10), customer_no="P1")
    run(S, D(2025, 5, 9))
    assert state(referral) == (ReferralStage.NEW, None, None, None)
    run(D(2025, 5, 10))
    assert state(referral) == (ReferralStage.WON, car.pk, car.customer_id, D(2025, 5, 10))
    won = referral.history.order_by("history_id").last()
    assert (won.stage, won.won_vehicle_id, won.history_type, won.history_change_reason) == (
        ReferralStage.WON, car.pk, "~", "won by a delivery",
    )  # fmt: skip
    assert ledger(referrer) == [(D(2025, 5, 10), 500, D(2026, 5, 10), f"referral:{referral.pk}")]
    assert export(D(2025, 5, 9))["R1"]["balance"] == "0"
    assert export(D(2025, 5, 10))["R1"] == {
        "customer_no": "R1", "card_no": "MNJ01000001", "tier": "普通", "balance": "500", "expiring_30d": "0",
    }  # fmt: skip
    assert export(D(2026, 4, 10))["R1"]["expiring_30d"] == "500"
    # A second car to the same buyer is not a second referral sale of this referral.
    buyer_second_car = VehicleFactory(customer=car.customer, delivery_date=D(2025, 6, 1))
    run(D(2025, 5, 11), D(2025, 7, 1))
    assert state(referral) == (ReferralStage.WON, car.pk, car.customer_id, D(2025, 5, 10))
    assert ledger(referrer) == [(D(2025, 5, 10), 500, D(2026, 5, 10), f"referral:{referral.pk}")]
    assert not Referral.objects.filter(won_vehicle=buyer_second_car).exists()


def test_a_rerun_changes_nothing(club, manager_a):
    referrer = owner(club, "R1")
    referral = refer(manager_a, referrer=referrer, mobile="13900000001", on=D(2025, 3, 1))
    buyer(club, "13900000001", D(2025, 5, 10))
    run(S, D(2025, 6, 30))
    referral.refresh_from_db()
    before = (list(PointsEntry.objects.order_by("id").values()), list(Referral.objects.values()))
    run(S, D(2025, 6, 30))
    run(D(2025, 5, 10))
    run(D(2025, 6, 30))
    assert (list(PointsEntry.objects.order_by("id").values()), list(Referral.objects.values())) == before


@pytest.mark.parametrize(("days", "stage"), [(180, ReferralStage.WON), (181, ReferralStage.NEW)])
def test_the_window_is_180_days(club, manager_a, days, stage):
    referrer = owner(club, "R1")
    referral = refer(manager_a, referrer=referrer, mobile="13900000001", on=D(2025, 2, 1))
    delivered = D(2025, 2, 1) + datetime.timedelta(days=days)
    assert delivered == (D(2025, 7, 31) if days == 180 else D(2025, 8, 1))
    buyer(club, "13900000001", delivered)
    run(S, D(2025, 9, 1))
    assert state(referral)[0] == stage
    assert [points for _on, points, _expires, _ref in ledger(referrer)] == ([500] if days == 180 else [])


def test_two_referrals_for_one_mobile_the_earliest_wins_the_other_stays_open(club, manager_a):
    first_referrer, second_referrer = owner(club, "R1"), owner(club, "R2")
    second = refer(manager_a, referrer=second_referrer, mobile="13900000001", on=D(2025, 3, 5))
    first = refer(manager_a, referrer=first_referrer, mobile="13900000001", on=D(2025, 3, 1))
    car = buyer(club, "13900000001", D(2025, 5, 10))
    run(S, D(2025, 5, 31))
    assert state(first) == (ReferralStage.WON, car.pk, car.customer_id, D(2025, 5, 10))
    assert state(second) == (ReferralStage.NEW, None, None, None)
    assert [points for _on, points, _expires, _ref in ledger(first_referrer)] == [500]
    assert ledger(second_referrer) == []
    # Once per vehicle: a second car to that mobile within the second referral's window is its sale.
    second_car = VehicleFactory(customer=car.customer, delivery_date=D(2025, 8, 1))
    run(D(2025, 6, 1), D(2025, 8, 1))
    assert state(second) == (ReferralStage.WON, second_car.pk, car.customer_id, D(2025, 8, 1))
    assert ledger(second_referrer) == [(D(2025, 8, 1), 500, D(2026, 8, 1), f"referral:{second.pk}")]
    assert [points for _on, points, _expires, _ref in ledger(first_referrer)] == [500]


def test_a_staff_referral_wins_without_points(club, manager_a, sales_a):
    referral = refer(manager_a, staff=sales_a, mobile="13900000001", on=D(2025, 3, 1))
    assert referral.store == club
    car = buyer(club, "13900000001", D(2025, 4, 1))
    run(S, D(2025, 4, 30))
    assert state(referral) == (ReferralStage.WON, car.pk, car.customer_id, D(2025, 4, 1))
    assert PointsEntry.objects.filter(kind=EntryKind.REFERRAL).count() == 0


def test_a_referrer_who_is_not_a_member_earns_no_points(club, manager_a):
    not_member = owner(club, "N1", delivered=None)  # no delivered car, no card: never joins
    referral = refer(manager_a, referrer=not_member, mobile="13900000001", on=D(2025, 3, 1))
    car = buyer(club, "13900000001", D(2025, 4, 1))
    run(S, D(2025, 4, 30))
    assert state(referral) == (ReferralStage.WON, car.pk, car.customer_id, D(2025, 4, 1))
    assert PointsEntry.objects.filter(kind=EntryKind.REFERRAL).count() == 0
    assert "N1" not in export(D(2025, 4, 30))


def test_a_lost_referral_is_not_matched_and_a_reopened_one_is(club, manager_a, sales_a):
    referrer = owner(club, "R1")
    referral = refer(manager_a, referrer=referrer, mobile="13900000001", on=D(2025, 3, 1))
    referral_stage_set(user=sales_a, referral=referral, stage=ReferralStage.LOST, lost_reason="买了别的品牌")
    buyer(club, "13900000001", D(2025, 4, 1))
    run(S, D(2025, 4, 30))
    assert state(referral)[0] == ReferralStage.LOST
    referral_stage_set(user=sales_a, referral=referral, stage=ReferralStage.CONTACTED)
    run(D(2025, 5, 1))
    assert state(referral)[0] == ReferralStage.WON
    assert [points for _on, points, _expires, _ref in ledger(referrer)] == [500]


# --- the referral-sales report ------------------------------------------------------------------


def test_the_report_of_a_constructed_month(club, manager_a, sales_a):
    other_store = StoreFactory(code="NJ02")
    member, not_member = owner(club, "R1"), owner(club, "N1", delivered=None)
    won_member = refer(manager_a, referrer=member, mobile="13900000001", on=D(2025, 5, 20))
    won_staff = refer(manager_a, staff=sales_a, mobile="13900000002", on=D(2025, 6, 2))
    won_not_member = refer(manager_a, referrer=not_member, mobile="13900000003", on=D(2025, 6, 3))
    refer(manager_a, referrer=member, mobile="13900000004", on=D(2025, 6, 10))  # stays open
    buyer(club, "13900000001", D(2025, 6, 5))
    buyer(club, "13900000002", D(2025, 6, 20))
    buyer(club, "13900000003", D(2025, 7, 1))  # won in July
    buyer(club, "13900000009", D(2025, 6, 28))  # a sale without referral
    VehicleFactory(customer=CustomerFactory(store=other_store), delivery_date=D(2025, 6, 15))  # another store
    run(S, D(2025, 7, 31))
    assert [state(referral)[3] for referral in (won_member, won_staff, won_not_member)] == [
        D(2025, 6, 5), D(2025, 6, 20), D(2025, 7, 1),
    ]  # fmt: skip

    report = referral_report(store_ids=[club.pk], first_month=D(2025, 5, 1), last_month=D(2025, 7, 1))
    assert report.rows == [
        ReferralMonth(D(2025, 5, 1), "NJ01", club.name, recorded=1, won=0, deliveries=0, points=0),
        ReferralMonth(D(2025, 6, 1), "NJ01", club.name, recorded=3, won=2, deliveries=3, points=500),
        ReferralMonth(D(2025, 7, 1), "NJ01", club.name, recorded=0, won=1, deliveries=1, points=0),
    ]
    assert [row.share for row in report.rows] == [None, Decimal("66.7"), Decimal("100.0")]
    both = referral_report(store_ids=[club.pk, other_store.pk], first_month=D(2025, 6, 1), last_month=D(2025, 6, 1))
    assert [(row.store_code, row.won, row.deliveries) for row in both.rows] == [("NJ01", 2, 3), ("NJ02", 0, 1)]
    assert both.totals == [ReferralMonth(D(2025, 6, 1), "", "", recorded=3, won=2, deliveries=4, points=500)]
    assert both.totals[0].share == Decimal("50.0")


# --- recording: what is refused, and why -------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["139 0000 0001", "+86 139-0000-0001", "0086 13900000001", "１３９００００００01", " 13900000001 "]
)
def test_the_mobile_is_normalised(store_a, manager_a, typed):
    referral = refer(manager_a, referrer=owner(store_a, "R1"), mobile=typed, on=D(2025, 3, 1))
    assert referral.prospect_mobile == "13900000001"


BAD_MOBILE = "Enter the prospect's mobile: a mainland mobile number of 11 digits, such as 138 0013 8000."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"mobile": "12345"}, BAD_MOBILE),
        ({"mobile": "025-84561234"}, BAD_MOBILE),
        ({"mobile": ""}, BAD_MOBILE),
        ({"name": "  "}, "Enter the prospect's name."),
        ({"name": "李" * 101}, "The prospect's name is at most 100 characters."),
        ({"intended_model": "X" * 101}, "The intended model is at most 100 characters."),
        ({"on": D(2099, 1, 1)}, "A referral cannot be dated in the future."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(store_a, manager_a, change, message):
    referrer = owner(store_a, "R1")
    arguments = {"referrer": referrer, "mobile": "13900000001", "on": D(2025, 3, 1), **change}
    with pytest.raises(ApplicationError) as refused:
        refer(manager_a, **arguments)
    assert refused.value.message == message
    assert Referral.objects.count() == 0


def test_exactly_one_referrer(store_a, manager_a, sales_a):
    message = "Name either the customer or the member of staff who referred the prospect."
    assert refusal(lambda: refer(manager_a, mobile="13900000001", on=D(2025, 3, 1))) == message
    referrer = owner(store_a, "R1")
    assert refusal(lambda: refer(manager_a, referrer=referrer, staff=sales_a, mobile="13900000001", on=S)) == message


def test_a_customer_of_another_store_is_refused(store_a, manager_b):
    assert (
        refusal(lambda: refer(manager_b, referrer=owner(store_a, "R1"), mobile="13900000001", on=D(2025, 3, 1)))
        == "This customer is not one of your stores' customers."
    )
    assert Referral.objects.count() == 0


def test_an_owners_number_and_the_referrers_own_number_are_refused(store_a, manager_a):
    referrer = owner(store_a, "R1", mobile="13700000001")
    owner(store_a, "O1", mobile="13900000001", delivered=D(2025, 1, 5))
    assert refusal(lambda: refer(manager_a, referrer=referrer, mobile="13900000001", on=D(2025, 3, 1))) == (
        "This mobile number belongs to a customer who has already taken delivery of a car: a referral is for a new "
        "customer (an owner buying again is a repeat purchase, not a referral)."
    )
    assert (
        refusal(lambda: refer(manager_a, referrer=referrer, mobile="13700000001", on=D(2025, 3, 1)))
        == "A customer cannot refer their own mobile number."
    )
    # A card with that number but no car bought yet (a lead from the DMS) may be referred.
    owner(store_a, "L1", mobile="13900000002", delivered=None)
    assert refer(manager_a, referrer=referrer, mobile="13900000002", on=D(2025, 3, 1)).stage == ReferralStage.NEW


def test_the_consultant_must_be_a_sales_consultant_of_the_store(store_a, store_b, manager_a, advisor_a, sales_a):
    referrer = owner(store_a, "R1")
    sales_b = UserFactory(username="sales_b", role=Role.SALES_CONSULTANT, stores=[store_b])
    for wrong in (advisor_a, sales_b):
        with pytest.raises(ApplicationError) as refused:
            refer(manager_a, referrer=referrer, mobile="13900000001", on=D(2025, 3, 1), consultant=wrong)
        assert refused.value.message == f"王明 is not a sales consultant of {store_a.name}."
    referral = refer(manager_a, referrer=referrer, mobile="13900000001", on=D(2025, 3, 1), consultant=sales_a)
    assert referral.consultant == sales_a


def test_a_double_submit_records_one_referral_and_is_audited(store_a, manager_a, sales_a):
    referrer = owner(store_a, "R1")
    first = refer(manager_a, referrer=referrer, mobile="13900000001", on=D(2025, 3, 1), intended_model="轩逸")
    again = refer(manager_a, referrer=referrer, mobile="139 0000 0001", on=D(2025, 3, 1), intended_model="轩逸")
    assert again.pk == first.pk
    assert Referral.objects.count() == 1
    assert (first.store, first.recorded_by, first.prospect_name, first.intended_model) == (
        store_a, manager_a, "李娜", "轩逸",
    )  # fmt: skip
    audit = AuditLog.objects.get(action=AuditAction.CLUB_REFERRAL)
    assert (audit.actor, audit.object_type, audit.object_ids) == (manager_a, "clubs.referral", [str(first.pk)])
    assert audit.detail == {
        "store": "NJ01", "referrer": referrer.pk, "referrer_staff": None, "consultant": None,
        "referred_on": "2025-03-01",
    }  # fmt: skip
    assert first.history.get().history_user == manager_a
    # Another staff referral of the same number is a referral of its own (the earliest one wins).
    staff = refer(manager_a, staff=sales_a, mobile="13900000001", on=D(2025, 3, 2))
    assert staff.pk != first.pk


def test_a_staff_referral_of_staff_in_several_stores_names_its_store(store_a, store_b, admin_user):
    both = UserFactory(username="sales_ab", role=Role.SALES_CONSULTANT, stores=[store_a, store_b])
    assert (
        refusal(lambda: refer(admin_user, staff=both, mobile="13900000001", on=D(2025, 3, 1)))
        == "Choose the store the prospect is referred to."
    )
    assert refer(admin_user, staff=both, mobile="13900000001", on=D(2025, 3, 1), store=store_b).store == store_b
    elsewhere = UserFactory(username="sales_c", role=Role.SALES_CONSULTANT, stores=[StoreFactory(code="SH01")])
    assert (
        refusal(lambda: refer(admin_user, staff=elsewhere, mobile="13900000001", on=D(2025, 3, 1), store=store_a))
        == f"王明 does not work at {store_a.name}."
    )


# --- the stage ----------------------------------------------------------------------------------


def test_stage_changes_keep_history_lost_needs_a_reason_won_is_the_runs(club, manager_a, sales_a):
    referral = refer(manager_a, referrer=owner(club, "R1"), mobile="13900000001", on=D(2025, 3, 1))
    assert (
        refusal(lambda: referral_stage_set(user=sales_a, referral=referral, stage=ReferralStage.LOST, lost_reason=" "))
        == "Say why the prospect was lost."
    )
    assert (
        refusal(lambda: referral_stage_set(user=sales_a, referral=referral, stage=ReferralStage.WON))
        == "A referral is won only when the prospect takes delivery of a car: the nightly run matches it."
    )
    assert (
        refusal(lambda: referral_stage_set(user=sales_a, referral=referral, stage="bought"))
        == "Choose one of the stages."
    )
    referral_stage_set(user=sales_a, referral=referral, stage=ReferralStage.CONTACTED)
    referral_stage_set(user=sales_a, referral=referral, stage=ReferralStage.TEST_DRIVE, lost_reason="ignored")
    referral_stage_set(user=sales_a, referral=referral, stage=ReferralStage.TEST_DRIVE)  # no change, no history
    history = list(referral.history.order_by("history_id").values_list("stage", "lost_reason", "history_user"))
    assert history == [
        ("new", "", manager_a.pk), ("contacted", "", sales_a.pk), ("test_drive", "", sales_a.pk),
    ]  # fmt: skip
    buyer(club, "13900000001", D(2025, 4, 1))
    run(S, D(2025, 4, 1))
    assert refusal(
        lambda: referral_stage_set(user=sales_a, referral=referral, stage=ReferralStage.LOST, lost_reason="改主意")
    ) == ("This referral is won (the car was delivered on 2025-04-01): its stage no longer changes.")
    assert state(referral)[0] == ReferralStage.WON


def test_a_won_referral_keeps_its_consultant_and_a_consultant_is_of_the_store(club, store_b, manager_a, sales_a):
    referral = refer(manager_a, referrer=owner(club, "R1"), mobile="13900000001", on=D(2025, 3, 1))
    sales_b = UserFactory(username="sales_b", role=Role.SALES_CONSULTANT, stores=[store_b])
    assert refusal(lambda: referral_assign(user=manager_a, referral=referral, consultant=sales_b)) == (
        f"王明 is not a sales consultant of {club.name}."
    )
    assert referral_assign(user=manager_a, referral=referral, consultant=sales_a).consultant == sales_a
    buyer(club, "13900000001", D(2025, 4, 1))
    run(S, D(2025, 4, 1))
    assert refusal(lambda: referral_assign(user=manager_a, referral=referral, consultant=None)) == (
        "This referral is won: its sales consultant no longer changes."
    )
    referral.refresh_from_db()
    assert referral.consultant == sales_a
