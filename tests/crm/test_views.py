import datetime

import pytest
import time_machine
from django.urls import reverse

from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

TODAY = datetime.datetime(2026, 11, 22, 10, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=8)))


@pytest.fixture
def figures_data(store_a, store_b):
    customer = CustomerFactory(store=store_a)
    this_month = VehicleFactory(customer=customer, delivery_date=datetime.date(2026, 11, 3))
    VehicleFactory(customer=customer, delivery_date=datetime.date(2026, 10, 31))
    RepairOrderFactory(vehicle=this_month, settle_date=datetime.date(2026, 11, 1))
    RepairOrderFactory(vehicle=this_month, settle_date=datetime.date(2026, 10, 30))
    other = VehicleFactory(customer=CustomerFactory(store=store_b), delivery_date=datetime.date(2026, 11, 5))
    RepairOrderFactory(vehicle=other, settle_date=datetime.date(2026, 11, 6))


@pytest.mark.parametrize(
    ("persona", "landing"),
    [
        ("advisor_a", "service_advisor"),
        ("agent_a", "call_agent"),
        ("manager_a", "manager"),
        ("sales_a", "sales_consultant"),
        ("admin_user", "admin"),
    ],
)
@time_machine.travel(TODAY, tick=False)
def test_each_role_lands_on_its_page_with_its_stores_figures(client, request, figures_data, persona, landing):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse("home"))

    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-landing="{landing}"' in html
    figures = response.context["figures"]
    if persona == "admin_user":  # sees the whole group
        assert figures == {"customers": 2, "vehicles": 3, "deliveries_this_month": 2, "repair_orders_this_month": 2}
    elif persona == "advisor_a":  # the desks also count their own calls of the day; advisors the day's bookings
        assert figures == {"customers": 1, "vehicles": 2, "deliveries_this_month": 1, "repair_orders_this_month": 1,
                           "arrivals_booked": 0, "arrivals_arrived": 0, "arrivals_no_show": 0,
                           "my_tasks": 0}  # fmt: skip
    elif persona == "sales_a":
        assert figures == {"customers": 1, "vehicles": 2, "deliveries_this_month": 1, "repair_orders_this_month": 1,
                           "my_tasks": 0}  # fmt: skip
    else:
        assert figures == {"customers": 1, "vehicles": 2, "deliveries_this_month": 1, "repair_orders_this_month": 1}


def test_anonymous_is_sent_to_login(client, db):
    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


def test_login_page_is_chinese_by_default(client, db):
    response = client.get(reverse("login"))

    assert response.status_code == 200
    assert "登录" in response.content.decode()


def test_healthz(client, db):
    assert client.get("/healthz").json() == {"status": "ok"}
