"""Won back by: a return attributed to the last contact that reached the customer from the start of
the day 30 days before the returning repair order's settle day to that day's end; none beyond."""

import datetime
from decimal import Decimal

import pytest

from customers.models import CustomerWinBack
from customers.states import customer_states_build, customer_states_refresh
from tests.customers.win_back_helpers import D, at, attended, call, campaign, lost_owner, sms
from tests.factories import StoreFactory, UserFactory

pytestmark = pytest.mark.django_db

MARCH = D(2026, 3, 1)
RETURN = D(2026, 3, 15)


@pytest.fixture
def store(db):
    return StoreFactory(code="NJ01")


def win_backs():
    rows = CustomerWinBack.objects.select_related("customer").order_by("customer__customer_no")
    return {
        row.customer.customer_no: (
            row.month, row.returned_on, row.revenue, row.contact_kind, row.contact_rule_code,
            row.contact_campaign_id, row.contact_agent_id, row.contact_at,
        )
        for row in rows
    }  # fmt: skip


def test_the_latest_reaching_contact_within_30_days_wins(store):
    agent = UserFactory(username="agent_x", stores=[store])
    # W1: reached exactly at the start of the day 30 days before (2026-02-13 00:00) counts.
    w1 = lost_owner("W1", store=store, returned_on=RETURN)
    call(w1, at(D(2026, 2, 13), 0, 0), agent=agent)
    # W2: reached one minute before that window (day 31) counts for nothing: no contact.
    w2 = lost_owner("W2", store=store, returned_on=RETURN)
    call(w2, at(D(2026, 2, 12), 23, 59), agent=agent)
    # W3: a reached call, then a delivered SMS; a later no-answer call and undelivered SMS do not count.
    w3 = lost_owner("W3", store=store, returned_on=RETURN, total="1250.50")
    call(w3, at(D(2026, 3, 1)), agent=agent)
    sms(w3, at(D(2026, 3, 10)), code="maintenance_due")
    call(w3, at(D(2026, 3, 14)), agent=agent, outcome="no_answer")
    sms(w3, at(D(2026, 3, 14), 11), delivered=False)
    # W4: a campaign message in the evening of the return day counts; a call the day after does not.
    w4 = lost_owner("W4", store=store, returned_on=RETURN)
    spring = campaign(store)
    sms(w4, at(RETURN, 20), code="", campaign=spring)
    call(w4, at(D(2026, 3, 16)), agent=agent)
    # W5: a club event attended.
    w5 = lost_owner("W5", store=store, returned_on=RETURN)
    attended(w5, at(D(2026, 3, 5), 14))
    # W6: never contacted. W7: still lost (no return), contacted all the same: not a win-back.
    lost_owner("W6", store=store, returned_on=RETURN, total=None)
    w7 = lost_owner("W7", store=store)
    call(w7, at(D(2026, 3, 10)), agent=agent)

    customer_states_build(first=D(2026, 2, 1), last=MARCH)

    revenue = Decimal("880.00")
    assert win_backs() == {
        "W1": (MARCH, RETURN, revenue, "call", "lost_customer", None, agent.pk, at(D(2026, 2, 13), 0, 0)),
        "W2": (MARCH, RETURN, revenue, "", "", None, None, None),
        "W3": (MARCH, RETURN, Decimal("1250.50"), "sms", "maintenance_due", None, None, at(D(2026, 3, 10))),
        "W4": (MARCH, RETURN, revenue, "campaign", "", spring.pk, None, at(RETURN, 20)),
        "W5": (MARCH, RETURN, revenue, "event", "", None, None, at(D(2026, 3, 5), 14)),
        "W6": (MARCH, RETURN, Decimal("0.00"), "", "", None, None, None),
    }
    assert CustomerWinBack.objects.get(customer=w1).repair_order.settle_date == RETURN


def test_the_first_visit_of_the_month_is_the_return(store):
    customer = lost_owner("W1", store=store, returned_on=D(2026, 3, 20), total="500.00")
    vehicle = customer.vehicles.get()
    from tests.factories import RepairOrderFactory

    first = RepairOrderFactory(vehicle=vehicle, store=store, settle_date=D(2026, 3, 8), total_amount="300.00")
    call(customer, at(D(2026, 3, 18)))  # after the return on the 8th: does not count

    customer_states_build(first=D(2026, 2, 1), last=MARCH)

    row = CustomerWinBack.objects.get()
    assert (row.returned_on, row.repair_order_id, row.revenue, row.contact_kind) == (
        D(2026, 3, 8),
        first.pk,
        Decimal("300.00"),
        "",
    )


def test_the_nightly_runs_equal_a_rebuild(store):
    agent = UserFactory(username="agent_x", stores=[store])
    w1 = lost_owner("W1", store=store, returned_on=D(2026, 3, 15))
    call(w1, at(D(2026, 3, 2)), agent=agent)
    w2 = lost_owner("W2", store=store, returned_on=D(2026, 4, 3))
    sms(w2, at(D(2026, 3, 30)))
    lost_owner("W3", store=store, returned_on=D(2026, 4, 28))

    for day in [D(2026, 3, 20), D(2026, 4, 1), D(2026, 4, 30), D(2026, 5, 2)]:
        customer_states_refresh(today=day)
        customer_states_refresh(today=day)  # twice: the same rows
    nightly = win_backs()
    assert {no: (row[0], row[3]) for no, row in nightly.items()} == {
        "W1": (MARCH, "call"), "W2": (D(2026, 4, 1), "sms"), "W3": (D(2026, 4, 1), ""),
    }  # fmt: skip

    CustomerWinBack.objects.all().delete()
    customer_states_build(first=D(2020, 1, 1), last=D(2026, 5, 1))
    assert win_backs() == nightly


def test_the_win_backs_match_the_movement_count(store):
    from customers.models import CustomerStateMovement

    for number in range(3):
        lost_owner(f"W{number}", store=store, returned_on=D(2026, 3, 10 + number))
    customer_states_build(first=D(2026, 2, 1), last=MARCH)
    moved = CustomerStateMovement.objects.filter(
        month=MARCH, previous_state__in=["dormant", "lost"], state="active"
    ).values_list("customers", flat=True)
    assert sum(moved) == CustomerWinBack.objects.filter(month=MARCH).count() == 3
    assert datetime.date(2026, 4, 1) not in set(CustomerWinBack.objects.values_list("month", flat=True))


def test_without_any_contact_source_every_return_is_no_contact(store, monkeypatch):
    from customers import contacts

    monkeypatch.setattr(contacts, "_sources", {})
    customer = lost_owner("W1", store=store, returned_on=RETURN)
    call(customer, at(D(2026, 3, 10)))

    customer_states_build(first=D(2026, 2, 1), last=MARCH)

    assert win_backs() == {"W1": (MARCH, RETURN, Decimal("880.00"), "", "", None, None, None)}


def test_a_visit_booked_with_the_customer_is_a_contact_but_a_walk_in_or_a_cancelled_one_is_not(store):
    from customers.models import Appointment

    advisor = UserFactory(username="advisor_x", stores=[store])
    booked, walked_in, cancelled = (
        lost_owner(number, store=store, returned_on=RETURN) for number in ("W1", "W2", "W3")
    )
    for customer, source, status in (
        (booked, "desk", "arrived"),
        (walked_in, "walk_in", "arrived"),
        (cancelled, "call", "cancelled"),
    ):
        appointment = Appointment.objects.create(
            store=store, customer=customer, vehicle=customer.vehicles.get(), date=RETURN, slot=datetime.time(9),
            purpose="maintenance", source=source, status=status, created_by=advisor,
        )  # fmt: skip
        Appointment.objects.filter(pk=appointment.pk).update(created_at=at(D(2026, 3, 8), 10))

    customer_states_build(first=D(2026, 2, 1), last=MARCH)

    assert {number: row[3:8] for number, row in win_backs().items()} == {
        "W1": ("appointment", "", None, advisor.pk, at(D(2026, 3, 8), 10)),
        "W2": ("", "", None, None, None),
        "W3": ("", "", None, None, None),
    }


def test_a_call_that_booked_a_visit_reached_the_customer(store):
    agent = UserFactory(username="agent_b", stores=[store])
    customer = lost_owner("W1", store=store, returned_on=RETURN)
    call(customer, at(D(2026, 3, 9), 10), agent=agent, outcome="booked", code="maintenance_due")

    customer_states_build(first=D(2026, 2, 1), last=MARCH)

    assert win_backs()["W1"][3:8] == ("call", "maintenance_due", None, agent.pk, at(D(2026, 3, 9), 10))
