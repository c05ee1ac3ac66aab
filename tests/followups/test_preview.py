"""Tomorrow's queue preview across a group manager's stores (issue 16): one statement per rule (per
code, channel and parameters) whatever the number of stores, giving each store's rule exactly what
that store's own preview gives and what generation then makes, for every registered rule builder."""

import datetime
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from clubs.models import ClubEvent
from crm.choices import Role
from customers.facts import customer_stats_refresh
from customers.models import Appointment, Segment
from customers.rule_builders import rule_builders
from customers.satisfaction import satisfaction_result_record
from followups.selectors import queue_preview
from followups.services import followups_generate_day
from tests.factories import CustomerFactory, RepairOrderFactory, StoreFactory, UserFactory, VehicleFactory
from tests.followups.factories import rules_for

pytestmark = pytest.mark.django_db
D = datetime.date
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
# session, the user with their groups, permissions and store IDs (crm/auth_backends.py), the
# manager's TOTP device
REQUEST = 3


@pytest.fixture
def stores():
    """Three stores with their default rules."""
    made = [StoreFactory(code=f"NJ0{number}", name=f"南京{number}店") for number in (1, 2, 3)]
    for store in made:
        rules_for(store)
    return made


def manager_of(stores):
    return UserFactory(role=Role.MANAGER, stores=stores)


def preview_counts(user, day) -> dict[tuple[int, str], int]:
    """The preview's new tasks per (store, rule code), the rules with none left out."""
    rows = queue_preview(user=user, day=day)
    return {(row["rule"].store_id, row["rule"].code): row["generated"] for row in rows if row["generated"]}


def each_store_alone(stores, day) -> dict[tuple[int, str], int]:
    """The per-store computation: each store's preview as its own manager sees it."""
    counts = {}
    for store in stores:
        counts.update(preview_counts(manager_of([store]), day))
    return counts


def generated(stores, day) -> dict[tuple[int, str], int]:
    """What generation makes, store by store (run it last: it writes the tasks)."""
    made = {}
    for store in stores:
        for code, count in followups_generate_day(day=day, store_ids=[store.pk]).items():
            if count:
                made[(store.pk, code)] = count
    return made


def owner(store, **fields):
    return CustomerFactory(store=store, **fields)


def car(store, customer=None, **fields):
    return VehicleFactory(customer=customer or owner(store), store=store, **fields)


# --- every rule builder: store k gets k tasks of the rule on the scenario's day --------------------
# A scenario makes the data and returns the day; the stores' counts must be [1, 2, 3].


def _vehicle_dates(column, value, day):
    def scenario(stores):
        for number, store in enumerate(stores, start=1):
            for _unit in range(number):
                car(store, **{"delivery_date": D(2024, 1, 1), column: value})
        return day

    return scenario


def _post_repair(stores):
    first, second, third = stores
    # Two orders of one vehicle on one day are one task; the same vehicle settled at another store
    # that day is that store's task too.
    travelling = car(first)
    RepairOrderFactory(vehicle=travelling, store=first, settle_date=D(2026, 11, 17))
    RepairOrderFactory(vehicle=travelling, store=first, settle_date=D(2026, 11, 17))
    RepairOrderFactory(vehicle=travelling, store=third, settle_date=D(2026, 11, 17))
    for store, own in ((second, 2), (third, 2)):
        for _unit in range(own):
            RepairOrderFactory(vehicle=car(store), store=store, settle_date=D(2026, 11, 17))
    return D(2026, 11, 20)  # R = 17 Nov + 3


def _warranty(stores):
    for number, store in enumerate(stores, start=1):
        car(store, delivery_date=D(2020, 1, 1), warranty_end=D(2027, 2, 21))  # the DMS's value
        for _unit in range(number - 1):
            car(store, delivery_date=D(2025, 2, 21))  # + 24 months
    return D(2026, 11, 23)  # R = 21 Feb 2027 − 90 days = Mon 23 Nov


def _maintenance(stores):
    first, second, third = stores
    # Serviced 1 June (no usable mileage): due 28 Nov, R = Sat 21 Nov, queued Mon 23 Nov.
    for store, own in ((first, 1), (third, 2)):
        for _unit in range(own):
            serviced = car(store, delivery_date=D(2025, 1, 1))
            RepairOrderFactory(vehicle=serviced, store=store, settle_date=D(2026, 6, 1), mileage=0)
    # The first store's vehicle serviced last at the second: the second reminds it.
    moved = car(first, delivery_date=D(2025, 1, 1))
    RepairOrderFactory(vehicle=moved, store=first, settle_date=D(2026, 5, 1), mileage=0)
    RepairOrderFactory(vehicle=moved, store=second, settle_date=D(2026, 6, 1), mileage=0)
    # Serviced at two stores on the same last day: both remind it, as each store's own SELECT does.
    twice = car(third, delivery_date=D(2025, 1, 1))
    RepairOrderFactory(vehicle=twice, store=third, settle_date=D(2026, 6, 1), mileage=0)
    RepairOrderFactory(vehicle=twice, store=second, settle_date=D(2026, 6, 1), mileage=0)
    return D(2026, 11, 23)


def _birthday(stores):
    for number, store in enumerate(stores, start=1):
        for _unit in range(number):
            owner(store, birthday=D(1990, 11, 28))
    return D(2026, 11, 22)  # 28 Nov − 6, an SMS on a Sunday


def _holiday(stores):
    for number, store in enumerate(stores, start=1):
        for _unit in range(number):
            owner(store)
    return D(2027, 9, 25)  # 国庆 2027 − 6: every owner


def _lost_customer(stores):
    for number, store in enumerate(stores, start=1):
        for _unit in range(number):
            car(store, delivery_date=D(2026, 3, 1))  # last visit 1 Mar 2026: 6 to 12 months before R
    return D(2027, 1, 4)  # R = Fri 1 Jan 2027 (元旦), queued Monday


def _points_expiry(stores):
    for number, store in enumerate(stores, start=1):
        for unit in range(number):
            member = owner(store, member_card_no=f"M{store.pk}-{unit}", points_balance=300)
            car(store, member, delivery_date=D(2026, 4, 30))  # + 10 months = 28 Feb 2027
    return D(2027, 2, 28)


def _dissatisfied(stores):
    for number, store in enumerate(stores, start=1):
        for unit in range(number):
            satisfaction_result_record(
                customer=owner(store), department="service", source="call", reference=f"t:{store.pk}-{unit}",
                at=datetime.datetime(2026, 10, 15, 12, 0, tzinfo=SHANGHAI), score=2, verdict=None,
            )  # fmt: skip
    return D(2026, 11, 2)  # R = Sun 1 Nov, queued Monday


def _event_notice(stores):
    day = D(2026, 11, 22)
    for number, store in enumerate(stores, start=1):
        segment = Segment.objects.create(name=f"江宁车主{number}", store=store, definition={"districts": ["江宁区"]})
        ClubEvent.objects.create(
            store=store, title=f"秋季自驾游{number}", kind="self_drive_tour", place="汤山",
            starts_at=datetime.datetime(2026, 11, 29, 9, 0, tzinfo=SHANGHAI),
            ends_at=datetime.datetime(2026, 11, 29, 17, 0, tzinfo=SHANGHAI),
            capacity=10, segment=segment, points_for_attending=100,
        )  # fmt: skip
        for _unit in range(number):
            owner(store, district="江宁区")
        owner(store, district="鼓楼区")  # not in the segment
    customer_stats_refresh(today=day)
    return day  # 7 days before the events


def _appointment(stores, *, day, status):
    for number, store in enumerate(stores, start=1):
        for _unit in range(number):
            vehicle = car(store)
            Appointment.objects.create(
                store=store, customer=vehicle.customer, vehicle=vehicle, date=day, slot=datetime.time(9, 0),
                purpose="maintenance", source="desk", status=status,
            )  # fmt: skip


def _appointment_reminder(stores):
    _appointment(stores, day=D(2026, 11, 25), status="booked")
    return D(2026, 11, 24)  # the working day before


def _no_show(stores):
    _appointment(stores, day=D(2026, 11, 23), status="no_show")
    return D(2026, 11, 24)  # the day after


SCENARIOS = {
    "delivery_thanks": _vehicle_dates("delivery_date", D(2026, 11, 2), D(2026, 11, 5)),
    "first_service_invite": _vehicle_dates("delivery_date", D(2026, 11, 16), D(2026, 11, 23)),
    "insurance_renewal": _vehicle_dates("insurance_expiry", D(2027, 1, 5), D(2026, 11, 23)),
    "inspection_due": _vehicle_dates("inspection_due", D(2026, 12, 23), D(2026, 11, 23)),
    "delivery_day1_call": _vehicle_dates("delivery_date", D(2026, 11, 23), D(2026, 11, 24)),
    "post_repair_callback": _post_repair,
    "warranty_expiry": _warranty,
    "maintenance_due": _maintenance,
    "birthday": _birthday,
    "holiday_greeting": _holiday,
    "lost_customer": _lost_customer,
    "points_expiry": _points_expiry,
    "dissatisfied_followup": _dissatisfied,
    "event_notice": _event_notice,
    "appointment_reminder": _appointment_reminder,
    "no_show_followup": _no_show,
}


def test_every_registered_rule_builder_has_a_scenario():
    assert set(SCENARIOS) == set(rule_builders())


@pytest.mark.parametrize("code", sorted(SCENARIOS))
def test_the_preview_across_stores_is_each_stores_own_and_what_generation_makes(stores, code):
    day = SCENARIOS[code](stores)

    across = preview_counts(manager_of(stores), day)
    alone = each_store_alone(stores, day)
    made = generated(stores, day)

    assert [across.get((store.pk, code), 0) for store in stores] == [1, 2, 3]
    assert across == alone
    assert across == made


def test_stores_whose_rule_differs_get_their_own_statement_and_their_own_numbers(stores):
    _first, second, third = stores
    day = D(2026, 11, 23)  # Monday: the phone rules' R = 21, 22 and 23 Nov
    rules_for(second, delivery_thanks={"offset_days": 4}, maintenance_due={"interval_days": 90})
    rules_for(third, birthday={"channel": "phone"}, first_service_invite={"is_enabled": False})
    for store in stores:
        car(store, delivery_date=D(2026, 11, 20))  # + 3 = 23 Nov; + 4 = 24 Nov
        car(store, delivery_date=D(2026, 11, 16))  # first service invite: + 7 = 23 Nov
        # Due on 1 Jun + 180 = 28 Nov, R = 21 Nov; every 90 days (the second store) due 30 Aug.
        serviced = car(store, delivery_date=D(2025, 1, 1))
        RepairOrderFactory(vehicle=serviced, store=store, settle_date=D(2026, 6, 1), mileage=0)
        for birthday in (D(1990, 11, 27), D(1990, 11, 28), D(1990, 11, 29)):
            owner(store, birthday=birthday)  # − 6: 21, 22, 23 Nov
    car(second, delivery_date=D(2026, 11, 19))  # + 4 = 23 Nov
    every_90_days = car(second, delivery_date=D(2025, 1, 1))  # 30 Aug + 90 = 28 Nov (+ 180: in February)
    RepairOrderFactory(vehicle=every_90_days, store=second, settle_date=D(2026, 8, 30), mileage=0)
    user = manager_of(stores)

    with CaptureQueriesContext(connection) as queries:
        across = preview_counts(user, day)
    alone = each_store_alone(stores, day)
    made = generated(stores, day)

    def counts(code):
        return [across.get((store.pk, code), 0) for store in stores]

    assert counts("delivery_thanks") == [1, 1, 1]
    assert counts("first_service_invite") == [1, 1, 0]  # off in the third store
    assert counts("maintenance_due") == [1, 1, 1]  # the second's every 90 days
    assert counts("birthday") == [1, 1, 3]  # the third's by phone: R = 21, 22 and 23 Nov queued Monday
    assert across == alone
    assert across == made
    # The calendar, the user's stores, the rules, the tasks rolled over, the appointment reminder's
    # calendar and the club's events (none), the counts' transaction (savepoint, JIT off, release),
    # then a count per code, channel and parameters: the 12 codes with candidates on the day, plus
    # one for the second store's delivery thanks, one for its maintenance due and one for the
    # third's birthday by phone.
    assert len(queries) == 6 + 3 + 12 + 3


def test_an_inactive_stores_rules_count_nothing_as_generation_makes_nothing_there(client, stores):
    """Generation leaves inactive stores out whole: the preview counts none of their tasks, and the
    page says why beside each of their rules."""
    first, second, _third = stores
    day = D(2026, 11, 24)
    for store in stores:
        car(store, delivery_date=D(2026, 11, 21))  # delivery thanks on 24 Nov
    second.is_active = False
    second.save(update_fields=["is_active"])
    user = manager_of(stores)

    across = preview_counts(user, day)
    made = generated([store for store in stores if store.is_active], day)

    assert [across.get((store.pk, "delivery_thanks"), 0) for store in stores] == [1, 0, 1]
    assert across == made
    assert followups_generate_day(day=day, store_ids=[second.pk]) == {}  # nothing, as the preview said
    client.force_login(user)
    page = client.get(reverse("followups:preview"), {"date": "2026-11-24"})
    row = f'data-rule="delivery_thanks" data-store="{second.code}"'
    assert row in page.content.decode()
    assert page.content.decode().split(row)[1].split("</tr>")[0].count("门店已停用") == 1
    assert page.content.decode().split(f'data-rule="delivery_thanks" data-store="{first.code}"')[1].split(
        "</tr>")[0].count("门店已停用") == 0  # fmt: skip


def _some_of_everything(stores):
    for number, store in enumerate(stores, start=1):
        for _unit in range(number):
            car(store, delivery_date=D(2026, 11, 21))  # delivery thanks on 24 Nov
            owner(store, birthday=D(1990, 11, 30))  # birthday SMS on 24 Nov
        vehicle = car(store)
        Appointment.objects.create(
            store=store, customer=vehicle.customer, vehicle=vehicle, date=D(2026, 11, 25), slot=datetime.time(9, 0),
            purpose="maintenance", source="desk", status="booked",
        )  # fmt: skip


@pytest.mark.parametrize("how_many", [1, 2, 3])
def test_the_preview_page_costs_the_same_queries_for_one_two_or_three_stores(
    client, stores, how_many, django_assert_num_queries
):
    _some_of_everything(stores)
    mine = stores[:how_many]
    user = manager_of(mine)
    client.force_login(user)
    client.get(reverse("followups:preview"))  # warm the session

    # No counts kept: the count runs (inline here: the tests' Celery is eager). + the page's rules
    # and calendar (its key), the task's rules and calendar, the appointment reminder's calendar and
    # the club's events, the counts' transaction (savepoint, JIT off, release; begin and commit
    # outside a test), then one count per rule code with candidates on the day (12 of the 16 default
    # rules; not the lost customers, the dissatisfied, the holiday greeting, the event notice): none
    # per store; then the tasks rolled over.
    with django_assert_num_queries(REQUEST + 6 + 3 + 12 + 1):
        response = client.get(reverse("followups:preview"), {"date": "2026-11-24"})
    assert response.context["preview"].state == "ready"
    # The counts kept: the rules and the calendar (the key), the tasks rolled over; no count.
    with django_assert_num_queries(REQUEST + 3):
        again = client.get(reverse("followups:preview"), {"date": "2026-11-24"})
    assert [row["generated"] for row in again.context["preview"].rows] == [
        row["generated"] for row in response.context["preview"].rows
    ]

    page = {(row["rule"].store_id, row["rule"].code): row["generated"] for row in response.context["preview"].rows}
    assert len(page) == 16 * how_many
    shown = {key: count for key, count in page.items() if count}
    assert shown == each_store_alone(mine, D(2026, 11, 24))
    assert [shown[(store.pk, "delivery_thanks")] for store in mine] == [1, 2, 3][:how_many]
    assert [shown[(store.pk, "birthday")] for store in mine] == [1, 2, 3][:how_many]
    assert [shown[(store.pk, "appointment_reminder")] for store in mine] == [1] * how_many
