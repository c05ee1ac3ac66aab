"""/api/appointments/: list by day and store within the caller's scope, book, cancel, check in."""

import pytest
import time_machine

from customers.models import Appointment
from tests.customers.appointment_helpers import NOW, TODAY, book, owner

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_day():
    with time_machine.travel(NOW, tick=False):
        yield


def test_an_agent_books_through_the_api(api_client, agent_a, store_a):
    customer, vehicle = owner(store_a)
    api_client.force_authenticate(agent_a)

    response = api_client.post("/api/appointments/", {"customer": customer.pk, "vehicle": vehicle.pk,
                               "date": "2026-12-03", "slot": "09:00", "purpose": "first_service",
                               "source": "call", "source_reference": "task:88"}, format="json")  # fmt: skip

    assert response.status_code == 201
    body = response.json()
    assert (body["date"], body["slot"], body["status"], body["source_reference"], body["customer_no"]) == (
        "2026-12-03", "09:00:00", "booked", "task:88", customer.customer_no,
    )  # fmt: skip
    assert Appointment.objects.get().created_by == agent_a


def test_a_full_slot_answers_400_with_the_next_free_slots(api_client, agent_a, advisor_a, store_a):
    for number in range(4):
        book(advisor_a, store_a, name=f"客户{number}")
    customer, vehicle = owner(store_a)
    api_client.force_authenticate(agent_a)

    response = api_client.post("/api/appointments/", {"customer": customer.pk, "vehicle": vehicle.pk,
                               "date": "2026-12-03", "slot": "09:00", "purpose": "repair"}, format="json")  # fmt: skip

    assert response.status_code == 400
    assert response.json()["detail"].startswith("该时段已约满")
    assert response.json()["next_free_slots"] == ["2026-12-03T09:30", "2026-12-03T10:00", "2026-12-03T10:30"]
    assert Appointment.objects.count() == 4


def test_a_vehicle_of_another_customer_is_refused(api_client, agent_a, store_a):
    customer, _vehicle = owner(store_a)
    _other, other_vehicle = owner(store_a, name="李雷")
    api_client.force_authenticate(agent_a)

    response = api_client.post("/api/appointments/", {"customer": customer.pk, "vehicle": other_vehicle.pk,
                               "date": "2026-12-03", "slot": "09:00", "purpose": "repair"}, format="json")  # fmt: skip

    assert response.status_code == 400
    assert response.json()["vehicle"] == ["该车辆不属于此客户。"]
    assert Appointment.objects.count() == 0


def test_manager_b_sees_nothing_of_store_a_and_cannot_book_or_cancel_there(api_client, manager_b, advisor_a, store_a):
    appointment = book(advisor_a, store_a, day=TODAY)
    customer, vehicle = owner(store_a, name="李雷")
    api_client.force_authenticate(manager_b)

    listed = api_client.get("/api/appointments/", {"date": TODAY.isoformat()})
    detail = api_client.get(f"/api/appointments/{appointment.pk}/")
    cancel = api_client.post(f"/api/appointments/{appointment.pk}/cancel/")
    created = api_client.post("/api/appointments/", {"customer": customer.pk, "vehicle": vehicle.pk,
                              "date": "2026-12-03", "slot": "09:00", "purpose": "repair"}, format="json")  # fmt: skip

    assert listed.json()["count"] == 0
    assert (detail.status_code, cancel.status_code, created.status_code) == (404, 404, 400)
    assert Appointment.objects.get().status == "booked"


def test_cancel_and_check_in(api_client, advisor_a, store_a):
    today = book(advisor_a, store_a, day=TODAY, name="今天")
    tomorrow = book(advisor_a, store_a, name="明天")
    api_client.force_authenticate(advisor_a)

    checked_in = api_client.post(f"/api/appointments/{today.pk}/check-in/")
    twice = api_client.post(f"/api/appointments/{today.pk}/check-in/")
    cancelled = api_client.post(f"/api/appointments/{tomorrow.pk}/cancel/", {"reason": "改天"}, format="json")
    cancel_arrived = api_client.post(f"/api/appointments/{today.pk}/cancel/")

    assert (checked_in.json()["status"], twice.json()["status"], cancelled.json()["status"]) == (
        "arrived", "arrived", "cancelled",
    )  # fmt: skip
    assert twice.json()["checked_in_at"] == checked_in.json()["checked_in_at"]
    assert cancel_arrived.status_code == 400
    assert "只有“已预约”或“已确认”的预约可以取消" in cancel_arrived.json()["detail"]


def test_an_agent_may_not_check_in(api_client, agent_a, advisor_a, store_a):
    appointment = book(advisor_a, store_a, day=TODAY)
    api_client.force_authenticate(agent_a)

    response = api_client.post(f"/api/appointments/{appointment.pk}/check-in/")

    assert response.status_code == 403
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_the_list_filters_by_day_and_its_query_count_is_flat(api_client, agent_a, advisor_a, store_a,
                                                              django_assert_num_queries):  # fmt: skip
    for number in range(4):
        book(advisor_a, store_a, day=TODAY, name=f"今天{number}")
        book(advisor_a, store_a, name=f"明天{number}")
    api_client.force_authenticate(agent_a)

    # permissions (2), user's stores, the store filter's store, count, page: none per row
    with django_assert_num_queries(6):
        response = api_client.get("/api/appointments/", {"date": TODAY.isoformat(), "store": store_a.pk})

    assert response.json()["count"] == 4
    assert {row["date"] for row in response.json()["results"]} == {"2026-12-02"}
