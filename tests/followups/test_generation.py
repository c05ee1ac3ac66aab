"""Every rule and edge of docs/followups.md, generated through the real SQL."""

import datetime
import io
import zoneinfo

import pytest
from django.core.management import call_command

from crm.models import CalendarDay
from customers.satisfaction import satisfaction_result_record
from followups.models import FollowupTask, GenerationRun
from followups.services import followups_generate_day, followups_generate_range
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, VehicleFactory
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db
D = datetime.date
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


@pytest.fixture
def store():
    return StoreFactory(code="NJ01", name="江宁店")


def generate(day, store, **kwargs):
    return followups_generate_day(day=day, store_ids=[store.pk], **kwargs)


def tasks(code=None):
    # One INSERT … SELECT numbers its rows in the query plan's order: order a day's tasks by unit.
    queryset = FollowupTask.objects.order_by("rule_date", "unit_id", "id")
    if code:
        queryset = queryset.filter(code=code)
    return [(task.code, task.unit_id, task.rule_date, task.queue_date) for task in queryset]


def vehicle(store, **fields):
    fields.setdefault("delivery_date", None)
    return VehicleFactory(customer__store=store, store=store, **fields)


# --- vehicle rules and working-day shifts ------------------------------------------------------


def test_delivery_thanks_on_a_working_day(store):
    car = vehicle(store, delivery_date=D(2026, 11, 2))

    made = generate(D(2026, 11, 5), store)

    assert made["delivery_thanks"] == 1
    assert tasks("delivery_thanks") == [("delivery_thanks", car.pk, D(2026, 11, 5), D(2026, 11, 5))]
    task = FollowupTask.objects.get(code="delivery_thanks")
    assert (task.vehicle_id, task.customer_id, task.channel, task.work_date) == (
        car.pk,
        car.customer_id,
        "phone",
        D(2026, 11, 5),
    )


def test_a_weekend_rule_date_is_queued_on_monday(store):
    car = vehicle(store, delivery_date=D(2026, 11, 18))  # R = Saturday 21 November

    assert generate(D(2026, 11, 21), store)["delivery_thanks"] == 0
    assert generate(D(2026, 11, 23), store)["delivery_thanks"] == 1
    assert tasks("delivery_thanks") == [("delivery_thanks", car.pk, D(2026, 11, 21), D(2026, 11, 23))]


def test_holiday_shift_and_adjusted_working_day(store):
    in_holiday = vehicle(store, delivery_date=D(2026, 10, 4))  # R = 7 Oct, 国庆 → Thursday 8 Oct
    on_adjusted_saturday = vehicle(store, delivery_date=D(2026, 10, 7))  # R = Saturday 10 Oct, 调休上班

    for day in (D(2026, 10, 7), D(2026, 10, 8), D(2026, 10, 10)):
        generate(day, store)

    assert tasks("delivery_thanks") == [
        ("delivery_thanks", in_holiday.pk, D(2026, 10, 7), D(2026, 10, 8)),
        ("delivery_thanks", on_adjusted_saturday.pk, D(2026, 10, 10), D(2026, 10, 10)),
    ]


def test_2027_uses_the_computed_fallback_calendar(store):
    national_day = vehicle(store, delivery_date=D(2027, 9, 28))  # R = Fri 1 Oct 2027 → Mon 4 Oct
    mid_autumn = vehicle(store, delivery_date=D(2027, 9, 12))  # R = Wed 15 Sep 2027 (中秋) → Thu 16 Sep

    for day in (D(2027, 9, 15), D(2027, 9, 16), D(2027, 10, 1), D(2027, 10, 4)):
        generate(day, store)

    assert tasks("delivery_thanks") == [
        ("delivery_thanks", mid_autumn.pk, D(2027, 9, 15), D(2027, 9, 16)),
        ("delivery_thanks", national_day.pk, D(2027, 10, 1), D(2027, 10, 4)),
    ]


def test_an_admin_override_beats_the_computed_calendar(store):
    CalendarDay.objects.create(date=D(2027, 10, 4), kind="holiday", name="国庆节")
    CalendarDay.objects.create(date=D(2027, 9, 26), kind="working_day", name="国庆调休")
    national_day = vehicle(store, delivery_date=D(2027, 9, 28))  # R = 1 Oct → 4 Oct is now off → Tue 5 Oct
    adjusted_sunday = vehicle(store, delivery_date=D(2027, 9, 23))  # R = Sunday 26 Sep, now a working day

    for day in (D(2027, 9, 26), D(2027, 10, 4), D(2027, 10, 5)):
        generate(day, store)

    assert tasks("delivery_thanks") == [
        ("delivery_thanks", adjusted_sunday.pk, D(2027, 9, 26), D(2027, 9, 26)),
        ("delivery_thanks", national_day.pk, D(2027, 10, 1), D(2027, 10, 5)),
    ]


def test_first_service_invite_and_insurance_renewal(store):
    car = vehicle(store, delivery_date=D(2026, 11, 16), insurance_expiry=D(2027, 1, 5))

    made = generate(D(2026, 11, 23), store)

    assert made["first_service_invite"] == 1
    assert tasks("first_service_invite") == [("first_service_invite", car.pk, D(2026, 11, 23), D(2026, 11, 23))]
    # 5 Jan 2027 − 45 days = Sat 21 Nov 2026, queued on Monday 23 Nov.
    assert tasks("insurance_renewal") == [("insurance_renewal", car.pk, D(2026, 11, 21), D(2026, 11, 23))]


def test_post_repair_callback_is_one_task_per_vehicle_per_day(store):
    car = vehicle(store)
    RepairOrderFactory(vehicle=car, settle_date=D(2026, 11, 17))
    RepairOrderFactory(vehicle=car, settle_date=D(2026, 11, 17))
    RepairOrderFactory(vehicle=car, settle_date=D(2026, 11, 18))

    generate(D(2026, 11, 20), store)
    generate(D(2026, 11, 23), store)

    assert tasks("post_repair_callback") == [
        ("post_repair_callback", car.pk, D(2026, 11, 20), D(2026, 11, 20)),
        ("post_repair_callback", car.pk, D(2026, 11, 21), D(2026, 11, 23)),
    ]


def test_warranty_expiry_from_dms_value_and_from_delivery_with_29_february(store):
    dms = vehicle(store, delivery_date=D(2020, 1, 1), warranty_end=D(2027, 2, 21))  # R = Mon 23 Nov 2026
    leap = vehicle(store, delivery_date=D(2024, 2, 29))  # warranty end 28 Feb 2026 → R = Sun 30 Nov 2025 → Mon 1 Dec
    not_yet = vehicle(store, delivery_date=D(2025, 2, 28), warranty_end=D(2030, 1, 1))

    generate(D(2026, 11, 23), store)
    generate(D(2025, 12, 1), store)

    assert tasks("warranty_expiry") == [
        ("warranty_expiry", leap.pk, D(2025, 11, 30), D(2025, 12, 1)),
        ("warranty_expiry", dms.pk, D(2026, 11, 23), D(2026, 11, 23)),
    ]
    assert not FollowupTask.objects.filter(vehicle=not_yet, code="warranty_expiry").exists()


def test_maintenance_due_uses_the_daily_mileage(store):
    # a = 15000 km / 150 days = 100 km a day → ceil(5000 / 100) = 50 days → next_due 21 Jul → R = Tue 14 Jul.
    driven = vehicle(store, delivery_date=D(2026, 1, 2))
    RepairOrderFactory(vehicle=driven, settle_date=D(2026, 6, 1), mileage=15000, repair_type="scheduled_maintenance")
    RepairOrderFactory(vehicle=driven, settle_date=D(2026, 6, 20), mileage=16000, repair_type="general_repair")
    # Serviced 20 days after delivery: no usable a → next_due = M + 180 = 28 Nov 2026 → R = Sat 21 Nov → Mon 23.
    fresh = vehicle(store, delivery_date=D(2026, 5, 12))
    RepairOrderFactory(vehicle=fresh, settle_date=D(2026, 6, 1), mileage=900, repair_type="first_service")
    # Slow driver: a = 10 km a day → 500 days, capped at 180 → 28 Nov → R = 21 Nov, queued 23 Nov.
    slow = vehicle(store, delivery_date=D(2025, 12, 3))
    RepairOrderFactory(vehicle=slow, settle_date=D(2026, 6, 1), mileage=1800, repair_type="maintenance")
    # A later maintenance replaces the earlier one.
    serviced_again = vehicle(store, delivery_date=D(2026, 1, 2))
    RepairOrderFactory(vehicle=serviced_again, settle_date=D(2026, 6, 1), mileage=15000, repair_type="maintenance")
    RepairOrderFactory(vehicle=serviced_again, settle_date=D(2026, 7, 1), mileage=18000, repair_type="maintenance")

    generate(D(2026, 7, 14), store)
    generate(D(2026, 11, 23), store)

    assert tasks("maintenance_due") == [
        ("maintenance_due", driven.pk, D(2026, 7, 14), D(2026, 7, 14)),
        ("maintenance_due", fresh.pk, D(2026, 11, 21), D(2026, 11, 23)),
        ("maintenance_due", slow.pk, D(2026, 11, 21), D(2026, 11, 23)),
    ]


def test_maintenance_interval_and_distance_are_store_settings(store):
    rules_for(store, maintenance_due={"interval_days": 90, "distance_km": 3000})
    car = vehicle(store, delivery_date=D(2025, 1, 1))
    RepairOrderFactory(vehicle=car, settle_date=D(2026, 8, 1), mileage=100, repair_type="maintenance")

    generate(D(2026, 10, 23), store)  # 1 Aug + 90 = 30 Oct, − 7 = Fri 23 Oct

    assert tasks("maintenance_due") == [("maintenance_due", car.pk, D(2026, 10, 23), D(2026, 10, 23))]


# --- customer rules ---------------------------------------------------------------------------


def test_birthday_sms_six_days_ahead_even_at_the_weekend(store):
    customer = CustomerFactory(store=store, birthday=D(1990, 11, 28))
    CustomerFactory(store=store, birthday=D(1990, 11, 29))

    made = generate(D(2026, 11, 22), store)  # a Sunday: SMS go out every day

    assert made["birthday"] == 1
    assert tasks("birthday") == [("birthday", customer.pk, D(2026, 11, 22), D(2026, 11, 22))]
    assert FollowupTask.objects.get(code="birthday").vehicle_id is None


def test_a_29_february_birthday_is_28_february_in_a_non_leap_year(store):
    leapling = CustomerFactory(store=store, birthday=D(1992, 2, 29))
    twenty_eighth = CustomerFactory(store=store, birthday=D(1990, 2, 28))

    generate(D(2027, 2, 22), store)  # 28 Feb 2027 − 6
    generate(D(2028, 2, 22), store)  # 28 Feb 2028 − 6
    generate(D(2028, 2, 23), store)  # 29 Feb 2028 − 6

    assert tasks("birthday") == [
        ("birthday", leapling.pk, D(2027, 2, 22), D(2027, 2, 22)),
        ("birthday", twenty_eighth.pk, D(2027, 2, 22), D(2027, 2, 22)),
        ("birthday", twenty_eighth.pk, D(2028, 2, 22), D(2028, 2, 22)),
        ("birthday", leapling.pk, D(2028, 2, 23), D(2028, 2, 23)),
    ]


def test_a_lunar_birthday_is_greeted_on_its_solar_date_instead_of_the_solar_birthday(store):
    mid_autumn = CustomerFactory(store=store, birthday=D(1980, 3, 3), lunar_birthday_month=8, lunar_birthday_day=15)
    solar = CustomerFactory(store=store, birthday=D(1980, 3, 3))
    # Lunar 2/30 in 2026, whose second month has 29 days: greeted on lunar 2/29 (16 April 2026).
    thirtieth = CustomerFactory(store=store, lunar_birthday_month=2, lunar_birthday_day=30)
    twenty_ninth = CustomerFactory(store=store, lunar_birthday_month=2, lunar_birthday_day=29)
    # 2025 has a leap sixth month: lunar 6/10 is greeted on the regular month's day (4 July 2025),
    # never on the leap month's (3 August 2025).
    sixth = CustomerFactory(store=store, lunar_birthday_month=6, lunar_birthday_day=10)

    generate(D(2026, 2, 25), store)  # 3 March − 6: the solar birthday only
    generate(D(2026, 9, 19), store)  # 25 September 2026 (lunar 8/15) − 6
    generate(D(2026, 4, 10), store)  # 16 April 2026 (lunar 2/29) − 6
    generate(D(2025, 6, 28), store)  # 4 July 2025 (lunar 6/10) − 6
    generate(D(2025, 7, 28), store)  # 3 August 2025 (leap lunar 6/10) − 6

    assert tasks("birthday") == [
        ("birthday", sixth.pk, D(2025, 6, 28), D(2025, 6, 28)),
        ("birthday", solar.pk, D(2026, 2, 25), D(2026, 2, 25)),
        ("birthday", thirtieth.pk, D(2026, 4, 10), D(2026, 4, 10)),
        ("birthday", twenty_ninth.pk, D(2026, 4, 10), D(2026, 4, 10)),
        ("birthday", mid_autumn.pk, D(2026, 9, 19), D(2026, 9, 19)),
    ]
    assert FollowupTask.objects.get(code="birthday", customer=mid_autumn).subject_date == D(2026, 9, 25)


def test_holiday_greeting_goes_to_every_owner_six_days_before(store):
    owners = [CustomerFactory(store=store), CustomerFactory(store=store)]

    assert generate(D(2027, 9, 24), store)["holiday_greeting"] == 0
    assert generate(D(2027, 9, 25), store)["holiday_greeting"] == 2  # 国庆 2027
    assert generate(D(2027, 9, 9), store)["holiday_greeting"] == 2  # 中秋 2027 (15 Sep)

    task = FollowupTask.objects.filter(code="holiday_greeting", rule_date=D(2027, 9, 25)).first()
    assert task.detail == {"holiday": "国庆"}
    assert set(FollowupTask.objects.values_list("unit_id", flat=True)) == {owner.pk for owner in owners}


def test_lost_customer_window_on_the_first_of_odd_months(store):
    lost_edge_old = CustomerFactory(store=store)  # L = 1 Jan 2026 = R − 12 months
    vehicle(store, customer=lost_edge_old, delivery_date=D(2026, 1, 1))
    lost_edge_recent = CustomerFactory(store=store)  # L = 1 Jul 2026 = R − 6 months
    car = vehicle(store, customer=lost_edge_recent, delivery_date=D(2020, 5, 5))
    RepairOrderFactory(vehicle=car, settle_date=D(2026, 7, 1))
    active = CustomerFactory(store=store)  # L = 2 Jul 2026: back within 6 months
    vehicle(store, customer=active, delivery_date=D(2026, 7, 2))
    gone = CustomerFactory(store=store)  # L = 31 Dec 2025: more than 12 months
    vehicle(store, customer=gone, delivery_date=D(2025, 12, 31))

    # R = Fri 1 Jan 2027 (元旦, computed) → queued Mon 4 Jan 2027.
    assert generate(D(2027, 1, 1), store)["lost_customer"] == 0
    generate(D(2027, 1, 4), store)
    generate(D(2027, 2, 1), store)  # not an odd month

    assert tasks("lost_customer") == [
        ("lost_customer", lost_edge_old.pk, D(2027, 1, 1), D(2027, 1, 4)),
        ("lost_customer", lost_edge_recent.pk, D(2027, 1, 1), D(2027, 1, 4)),
    ] or tasks("lost_customer") == [
        ("lost_customer", lost_edge_recent.pk, D(2027, 1, 1), D(2027, 1, 4)),
        ("lost_customer", lost_edge_old.pk, D(2027, 1, 1), D(2027, 1, 4)),
    ]


def test_points_expiry_ten_months_after_the_last_visit_with_month_end_clamping(store):
    member = CustomerFactory(store=store, member_card_no="M1", points_balance=300)
    vehicle(store, customer=member, delivery_date=D(2026, 4, 30))  # + 10 months = 28 Feb 2027
    no_points = CustomerFactory(store=store, member_card_no="M2", points_balance=0)
    vehicle(store, customer=no_points, delivery_date=D(2026, 4, 30))
    came_back = CustomerFactory(store=store, member_card_no="M3", points_balance=50)
    car = vehicle(store, customer=came_back, delivery_date=D(2026, 4, 30))
    RepairOrderFactory(vehicle=car, settle_date=D(2026, 9, 1))

    generate(D(2027, 2, 28), store)

    assert tasks("points_expiry") == [("points_expiry", member.pk, D(2027, 2, 28), D(2027, 2, 28))]
    assert FollowupTask.objects.get(code="points_expiry").detail == {"points": 300}


def _result(customer, at, *, score=None, verdict=None, reference):
    satisfaction_result_record(
        customer=customer, department="service", source="call", reference=reference, at=at, score=score, verdict=verdict
    )


def test_dissatisfied_followup_takes_the_previous_month_and_whoever_is_still_dissatisfied(store):
    unhappy = CustomerFactory(store=store)
    won_back = CustomerFactory(store=store)
    still_unhappy = CustomerFactory(store=store)
    _result(unhappy, datetime.datetime(2026, 10, 31, 23, 30, tzinfo=SHANGHAI), score=2, reference="t:1")
    # Dissatisfied in September, satisfied in October: no longer dissatisfied on 1 November.
    _result(won_back, datetime.datetime(2026, 9, 30, 12, 0, tzinfo=SHANGHAI), verdict="dissatisfied", reference="t:2")
    _result(won_back, datetime.datetime(2026, 10, 10, 12, 0, tzinfo=SHANGHAI), score=5, reference="t:3")
    # Dissatisfied in September and nothing since: still dissatisfied, called every month.
    _result(still_unhappy, datetime.datetime(2026, 9, 30, 12, 0, tzinfo=SHANGHAI), score=1, reference="t:4")
    # A result after the 1st is not yet known on the 1st.
    _result(won_back, datetime.datetime(2026, 11, 1, 0, 30, tzinfo=SHANGHAI), score=1, reference="t:5")

    assert generate(D(2026, 11, 1), store)["dissatisfied_followup"] == 0  # Sunday: queued Monday
    generate(D(2026, 11, 2), store)

    assert tasks("dissatisfied_followup") == [
        ("dissatisfied_followup", unhappy.pk, D(2026, 11, 1), D(2026, 11, 2)),
        ("dissatisfied_followup", still_unhappy.pk, D(2026, 11, 1), D(2026, 11, 2)),
    ]
    assert FollowupTask.objects.get(customer=still_unhappy).subject_date == D(2026, 9, 30)


def test_event_notice_generates_nothing_until_events_exist(store):
    CustomerFactory(store=store)
    assert generate(D(2026, 11, 23), store)["event_notice"] == 0


# --- who gets nothing -------------------------------------------------------------------------


def test_opt_outs_do_not_call_invalid_numbers_and_transferred_vehicles(store):
    opted_out = CustomerFactory(store=store, birthday=D(1990, 11, 28), sms_opt_out=True)
    landline_only = CustomerFactory(store=store, birthday=D(1990, 11, 28), mobile="", landline="025-52101234")
    reachable = CustomerFactory(store=store, birthday=D(1990, 11, 28))
    all_sold = CustomerFactory(store=store, birthday=D(1990, 11, 28))
    vehicle(store, customer=all_sold, status="transferred")
    one_left = CustomerFactory(store=store, birthday=D(1990, 11, 28))
    vehicle(store, customer=one_left, status="scrapped")
    vehicle(store, customer=one_left)

    no_call = CustomerFactory(store=store, do_not_call=True)
    vehicle(store, customer=no_call, delivery_date=D(2026, 11, 2))
    landline_car = vehicle(store, customer=CustomerFactory(store=store, mobile="", landline="025-52101234"),
                           delivery_date=D(2026, 11, 2))  # fmt: skip
    vehicle(store, customer=CustomerFactory(store=store, mobile="12345"), delivery_date=D(2026, 11, 2))
    vehicle(store, delivery_date=D(2026, 11, 2), status="transferred")

    generate(D(2026, 11, 22), store)
    generate(D(2026, 11, 5), store)

    assert sorted(unit for _code, unit, *_rest in tasks("birthday")) == sorted([reachable.pk, one_left.pk])
    assert landline_only.pk not in [unit for _code, unit, *_rest in tasks("birthday")]
    assert opted_out.pk not in [unit for _code, unit, *_rest in tasks("birthday")]
    assert [unit for _code, unit, *_rest in tasks("delivery_thanks")] == [landline_car.pk]


# --- idempotence, backfill, scripts -----------------------------------------------------------


def test_generating_twice_makes_nothing_new(store):
    vehicle(store, delivery_date=D(2026, 11, 2))
    CustomerFactory(store=store, birthday=D(1990, 11, 11))

    first = generate(D(2026, 11, 5), store)
    second = generate(D(2026, 11, 5), store)

    assert sum(first.values()) == 2
    assert sum(second.values()) == 0
    assert FollowupTask.objects.count() == 2
    assert GenerationRun.objects.filter(date=D(2026, 11, 5), code="delivery_thanks").get().created_count == 1


def test_backfill_across_an_outage_equals_daily_runs(store):
    cars = [vehicle(store, delivery_date=D(2026, 11, day)) for day in range(10, 21)]

    followups_generate_range(start=D(2026, 11, 13), end=D(2026, 11, 23), store_ids=[store.pk])
    again = followups_generate_range(start=D(2026, 11, 13), end=D(2026, 11, 23), store_ids=[store.pk])

    assert sum(sum(made.values()) for made in again.values()) == 0
    assert [(unit, q) for _code, unit, _r, q in tasks("delivery_thanks")] == [
        (cars[0].pk, D(2026, 11, 13)),
        (cars[1].pk, D(2026, 11, 16)),  # R Sat 14
        (cars[2].pk, D(2026, 11, 16)),  # R Sun 15
        (cars[3].pk, D(2026, 11, 16)),
        (cars[4].pk, D(2026, 11, 17)),
        (cars[5].pk, D(2026, 11, 18)),
        (cars[6].pk, D(2026, 11, 19)),
        (cars[7].pk, D(2026, 11, 20)),
        (cars[8].pk, D(2026, 11, 23)),  # R Sat 21
        (cars[9].pk, D(2026, 11, 23)),  # R Sun 22
        (cars[10].pk, D(2026, 11, 23)),
    ]


def test_a_disabled_rule_makes_nothing(store):
    rules_for(store, delivery_thanks={"is_enabled": False})
    vehicle(store, delivery_date=D(2026, 11, 2))

    assert generate(D(2026, 11, 5), store)["delivery_thanks"] == 0


def test_offset_is_editable_per_store(store):
    rules_for(store, delivery_thanks={"offset_days": 1})
    car = vehicle(store, delivery_date=D(2026, 11, 2))

    generate(D(2026, 11, 3), store)

    assert tasks("delivery_thanks") == [("delivery_thanks", car.pk, D(2026, 11, 3), D(2026, 11, 3))]


def test_query_count_does_not_grow_with_customers(store, django_assert_max_num_queries):
    big = StoreFactory(code="NJ09")
    rules_for(store)
    rules_for(big)
    for _index in range(3):
        vehicle(store, delivery_date=D(2026, 11, 2))
    for _index in range(30):
        vehicle(big, delivery_date=D(2026, 11, 2))

    def run(on_store):
        with django_assert_max_num_queries(60) as context:
            generate(D(2026, 11, 5), on_store)
        return len(context.captured_queries)

    assert run(store) == run(big)
    assert FollowupTask.objects.filter(store=big).count() == 30


def test_generate_followups_command_prints_counts_and_export_tasks_prints_the_contract(store):
    other = StoreFactory(code="NJ02")
    car = vehicle(store, delivery_date=D(2026, 11, 2), vin="LVIN0000000000002")
    second = vehicle(other, delivery_date=D(2026, 11, 2), vin="LVIN0000000000001")
    birthday = CustomerFactory(store=store, birthday=D(1980, 11, 11), customer_no="C0000001")
    output = io.StringIO()

    call_command("generate_followups", "--date", "2026-11-05", stdout=output)

    assert output.getvalue() == (
        "2026-11-05: 3 tasks appointment_reminder=0 birthday=1 delivery_day1_call=0 delivery_thanks=2 "
        "dissatisfied_followup=0 event_notice=0 first_service_invite=0 holiday_greeting=0 inspection_due=0 "
        "insurance_renewal=0 lost_customer=0 maintenance_due=0 no_show_followup=0 points_expiry=0 "
        "post_repair_callback=0 warranty_expiry=0\n"
    )
    export = io.StringIO()
    call_command("export_tasks", "--date", "2026-11-05", "--format", "csv", stdout=export)
    rows = sorted(
        [
            ["delivery_thanks", car.customer.customer_no, car.vin, "phone", "2026-11-05"],
            ["delivery_thanks", second.customer.customer_no, second.vin, "phone", "2026-11-05"],
        ]
    )
    expected = ["rule,customer_no,vin,channel,due_date", f"birthday,{birthday.customer_no},,sms,2026-11-05"]
    expected += [",".join(row) for row in rows]
    assert export.getvalue().splitlines() == expected


def test_generate_followups_command_rejects_bad_dates():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="is not a date"):
        call_command("generate_followups", "--date", "2026-13-01")
