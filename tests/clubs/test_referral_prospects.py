"""A club referral is the attribution of a prospect (customers.Prospect, the pipeline of every
source): recording a referral records its prospect, the referral's stage and consultant are kept on
it, the nightly run's win wins it too, and the data migration gave every older referral its
prospect."""

import datetime
import importlib
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from clubs.models import Referral
from clubs.services import referral_assign, referral_record, referral_stage_set
from customers.models import Prospect
from customers.services.prospects import prospects_win_for_deliveries
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=True):
        yield


@pytest.fixture
def club(store_a):
    call_command("club_start", "--store", store_a.code, "--date", "2025-01-01", stdout=io.StringIO())
    return store_a


@pytest.fixture
def referrer(store_a):
    customer = CustomerFactory(store=store_a, customer_no="R1", name="王芳", mobile="13700000001")
    VehicleFactory(customer=customer, delivery_date=D(2024, 1, 10))
    return customer


MARCH_1 = D(2025, 3, 1)


def refer(user, referrer, mobile="139 0000 0001", on=MARCH_1, **kwargs) -> Referral:
    return referral_record(
        user=user, referrer=referrer, prospect_name="李娜", prospect_mobile=mobile, intended_model="天籁",
        referred_on=on, **kwargs,
    )  # fmt: skip


def test_recording_a_referral_records_its_prospect(manager_a, sales_a, referrer, store_a):
    referral = refer(manager_a, referrer, consultant=sales_a)
    prospect = referral.prospect
    assert (prospect.store, prospect.name, prospect.mobile, prospect.intended_model, prospect.source) == (
        store_a, "李娜", "13900000001", "天籁", "owner_referral",
    )  # fmt: skip
    assert (prospect.consultant, prospect.status, prospect.recorded_on, prospect.recorded_by) == (
        sales_a, "new", D(2025, 3, 1), manager_a,
    )  # fmt: skip
    assert refer(manager_a, referrer).pk == referral.pk  # a double submit: one referral, one prospect
    assert Prospect.objects.count() == 1


def test_a_staff_referral_is_a_staff_referred_prospect(manager_a, sales_a):
    referral = referral_record(
        user=manager_a, referrer_staff=sales_a, prospect_name="张三", prospect_mobile="13900000002"
    )
    assert (referral.prospect.source, referral.prospect.mobile) == ("staff_referral", "13900000002")


def test_two_owners_referring_one_number_are_two_prospects(manager_a, referrer, store_a):
    other = CustomerFactory(store=store_a, customer_no="R2", mobile="13700000002")
    first = refer(manager_a, referrer)
    second = refer(manager_a, other, on=D(2025, 3, 5))
    assert first.prospect_id != second.prospect_id
    assert Prospect.objects.filter(mobile="13900000001").count() == 2


def test_stage_and_consultant_are_kept_on_the_prospect(manager_a, sales_a, referrer):
    referral = refer(manager_a, referrer)
    referral_stage_set(user=sales_a, referral=referral, stage="test_drive")
    referral_assign(user=manager_a, referral=referral, consultant=sales_a)
    prospect = Prospect.objects.get()
    assert (prospect.status, prospect.consultant) == ("test_drive_done", sales_a)
    referral_stage_set(user=sales_a, referral=referral, stage="lost", lost_reason="买了别家")
    prospect.refresh_from_db()
    assert (prospect.status, prospect.lost_reason, prospect.lost_note) == ("lost", "other", "买了别家")
    referral_stage_set(user=sales_a, referral=referral, stage="new")
    prospect.refresh_from_db()
    assert (prospect.status, prospect.lost_reason, prospect.lost_note) == ("new", "", "")
    assert [entry.status for entry in prospect.history.order_by("history_id")] == [
        "new", "test_drive_done", "test_drive_done", "lost", "new",
    ]  # fmt: skip


def test_the_nightly_runs_win_wins_the_prospect(club, manager_a, referrer):
    referral = refer(manager_a, referrer)
    car = VehicleFactory(customer=CustomerFactory(store=club, mobile="13900000001"), delivery_date=D(2025, 4, 1))
    call_command("club_run", "--date", "2025-04-30", stdout=io.StringIO())
    referral.refresh_from_db()
    prospect = referral.prospect
    assert (referral.stage, prospect.status, prospect.won_vehicle, prospect.won_customer, prospect.won_on) == (
        "won", "won", car, car.customer, D(2025, 4, 1),
    )  # fmt: skip
    entry = prospect.history.order_by("-history_id").first()
    assert (entry.status, entry.history_change_reason) == ("won", "won by a referral sale")
    call_command("club_run", "--date", "2025-04-30", stdout=io.StringIO())
    assert prospect.history.count() == 2


def test_a_prospect_won_by_the_delivery_first_is_left_as_it_is(club, manager_a, referrer):
    referral = refer(manager_a, referrer)
    car = VehicleFactory(customer=CustomerFactory(store=club, mobile="13900000001"), delivery_date=D(2025, 4, 1))
    assert prospects_win_for_deliveries(store_ids=None, through=D(2025, 4, 30)) == [referral.prospect_id]
    call_command("club_run", "--date", "2025-04-30", stdout=io.StringIO())
    referral.refresh_from_db()
    assert (referral.stage, referral.won_vehicle, referral.prospect.won_vehicle) == ("won", car, car)
    assert referral.prospect.history.count() == 2  # created, won once


def test_the_data_migration_gives_older_referrals_their_prospect(manager_a, sales_a, referrer, store_a):
    car = VehicleFactory(customer=CustomerFactory(store=store_a, mobile="13900000003"), delivery_date=D(2025, 4, 1))
    rows = [
        Referral.objects.create(store=store_a, referrer=referrer, prospect_name="甲", prospect_mobile="13900000001",
                                referred_on=D(2025, 3, 1), consultant=sales_a, stage="test_drive",
                                recorded_by=manager_a),
        Referral.objects.create(store=store_a, referrer_staff=sales_a, prospect_name="乙",
                                prospect_mobile="13900000002", referred_on=D(2025, 3, 2), stage="lost",
                                lost_reason="太贵"),
        Referral.objects.create(store=store_a, referrer=referrer, prospect_name="丙", prospect_mobile="13900000003",
                                referred_on=D(2025, 3, 3), stage="won", won_vehicle=car, won_customer=car.customer,
                                won_on=D(2025, 4, 1)),
    ]  # fmt: skip
    migration = importlib.import_module("clubs.migrations.0003_referral_prospects")
    # The models as the migration sees them (no history signals: it writes the history line itself).
    state_apps = MigrationLoader(connection).project_state(("clubs", "0003_referral_prospects")).apps
    migration.referrals_become_prospects(state_apps, None)
    migration.referrals_become_prospects(state_apps, None)  # twice: nothing more
    assert Prospect.objects.count() == 3
    found = []
    for referral in rows:
        referral.refresh_from_db()
        prospect = referral.prospect
        found.append(
            (prospect.name, prospect.mobile, prospect.source, prospect.status, prospect.lost_reason,
             prospect.lost_note, prospect.consultant_id, prospect.won_vehicle_id, prospect.recorded_on,
             prospect.recorded_by_id, prospect.history.get().history_change_reason)
        )  # fmt: skip
    assert found == [
        ("甲", "13900000001", "owner_referral", "test_drive_done", "", "", sales_a.pk, None, D(2025, 3, 1),
         manager_a.pk, "from a referral"),
        ("乙", "13900000002", "staff_referral", "lost", "other", "太贵", None, None, D(2025, 3, 2), None,
         "from a referral"),
        ("丙", "13900000003", "owner_referral", "won", "", "", None, car.pk, D(2025, 3, 3), None,
         "from a referral"),
    ]  # fmt: skip
