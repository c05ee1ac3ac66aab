"""The desks' landing pages: a sales consultant's prospects needing action, an advisor's arrivals."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse

from crm.choices import Role
from customers.models import Appointment, Prospect
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db
D = datetime.date
TODAY = D(2026, 12, 2)
_mobiles = iter(range(13700000000, 13799999999))


@pytest.fixture(autouse=True)
def on_a_wednesday():
    with time_machine.travel(datetime.datetime(2026, 12, 2, 2, 0, tzinfo=datetime.UTC), tick=False):
        yield


def prospect(store, consultant, name, *, status="new", day=TODAY, model=""):
    return Prospect.objects.create(
        store=store, name=name, mobile=str(next(_mobiles)), source="showroom", consultant=consultant, status=status,
        recorded_on=day, intended_model=model, lost_reason="price" if status == "lost" else "",
    )  # fmt: skip


def panel_rows(html: str) -> list[str]:
    panel = html.split('data-panel="my-prospects"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'<li data-panel-row><a href="[^"]+">([^<]+)</a>', panel)


def test_a_sales_consultants_home_lists_their_prospects_needing_action(client, sales_a, store_a, store_b):
    other = UserFactory(username="sales_c", role=Role.SALES_CONSULTANT, stores=[store_a])
    first = prospect(store_a, sales_a, "甲", day=D(2026, 11, 20), model="天籁")
    for index, status in enumerate(["contacted", "test_drive_booked", "new", "new", "contacted"]):
        prospect(store_a, sales_a, f"乙{index}", status=status, day=D(2026, 11, 21 + index))
    prospect(store_a, sales_a, "已试驾", status="test_drive_done")
    prospect(store_a, sales_a, "已战败", status="lost")
    prospect(store_a, other, "别人的")
    prospect(store_b, sales_a, "另一店")  # not one of the consultant's stores
    client.force_login(sales_a)

    response = client.get(reverse("home"))

    html = response.content.decode()
    assert panel_rows(html) == ["乙4", "乙3", "乙2", "乙1", "乙0"]
    assert '<a href="/customers/prospects/?consultant=mine" data-link="my-prospects-all">' in html
    assert 'data-link="record-delivery"' in html
    assert 'data-link="my-tasks"' in html
    assert f'href="{reverse("customers:prospect_create")}"' in html
    assert 'data-figure="my-tasks">0<' in html
    Prospect.objects.exclude(pk=first.pk).filter(name__startswith="乙").delete()
    html = client.get(reverse("home")).content.decode()
    assert panel_rows(html) == ["甲"]
    assert "天籁 · 2026-11-20" in html


def test_a_sales_consultant_with_nothing_to_do_reads_so(client, sales_a):
    client.force_login(sales_a)

    html = client.get(reverse("home")).content.decode()

    assert '<li class="empty">' in html
    assert panel_rows(html) == []


def test_other_roles_have_no_prospect_panel(client, advisor_a, manager_a, sales_a, store_a):
    prospect(store_a, sales_a, "甲")
    for user in (advisor_a, manager_a):
        client.force_login(user)
        assert 'data-panel="my-prospects"' not in client.get(reverse("home")).content.decode()


def booking(store, status, *, day=TODAY, source="desk"):
    customer = CustomerFactory(store=store)
    return Appointment.objects.create(
        store=store, customer=customer, vehicle=VehicleFactory(customer=customer), date=day, slot=datetime.time(9),
        purpose="maintenance", source=source, status=status,
    )  # fmt: skip


def test_an_advisors_home_counts_the_days_arrivals_and_opens_the_board(client, advisor_a, store_a, store_b):
    for status in ["booked", "confirmed", "arrived", "arrived", "no_show", "cancelled"]:
        booking(store_a, status)
    booking(store_a, "arrived", source="walk_in")  # takes no place: left out, as in the bookings report
    booking(store_a, "booked", day=D(2026, 12, 3))
    booking(store_b, "booked")
    client.force_login(advisor_a)

    response = client.get(reverse("home"))

    figures = response.context["figures"]
    assert (figures["arrivals_booked"], figures["arrivals_arrived"], figures["arrivals_no_show"]) == (4, 2, 1)
    html = response.content.decode()
    assert (
        '<a class="figure-link" href="/customers/arrivals/" data-figure-link="arrivals-arrived">'
        '<span class="figure-value" data-figure="arrivals-arrived">2</span>'
    ) in html


def test_a_manager_has_no_arrival_figures(client, manager_a, store_a):
    booking(store_a, "booked")
    client.force_login(manager_a)

    assert "arrivals_booked" not in client.get(reverse("home")).context["figures"]
