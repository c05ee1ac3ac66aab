"""The club events' API: list and detail (read), create (managers), the list of an event and a
registration (a place, else the waiting list)."""

import pytest

from clubs.models import ClubEvent, EventRegistration
from tests.clubs.api.conftest import owner

pytestmark = pytest.mark.django_db

URL = "/api/events/"


def new_event(api_client, manager_a, store_a, **overrides):
    api_client.force_authenticate(manager_a)
    payload = {
        "store": store_a.pk, "title": "新车主课堂", "kind": "new_owner_class", "place": "二楼会议室",
        "starts_at": "2026-12-20T14:00:00+08:00", "ends_at": "2026-12-20T16:00:00+08:00", "capacity": 1,
        "points_for_attending": 50, **overrides,
    }  # fmt: skip
    return api_client.post(URL, payload, format="json")


def test_a_manager_creates_an_event_and_reads_it(api_client, manager_a, store_a):
    response = new_event(api_client, manager_a, store_a)

    assert response.status_code == 201, response.json()
    event = ClubEvent.objects.get()
    assert response.json() == {
        "id": event.pk, "store": store_a.pk, "store_code": "NJ01", "title": "新车主课堂", "kind": "new_owner_class",
        "starts_at": "2026-12-20T14:00:00+08:00", "ends_at": "2026-12-20T16:00:00+08:00", "place": "二楼会议室",
        "capacity": 1, "segment": None, "points_for_attending": 50, "invitation_template": "",
        "places_taken": 0, "waiting": 0, "created_at": "2026-12-10T10:00:00+08:00",
    }  # fmt: skip
    assert api_client.get(f"{URL}{event.pk}/").json()["title"] == "新车主课堂"
    assert api_client.get(URL).json()["count"] == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"ends_at": "2026-12-20T13:00:00+08:00"}, None),  # ends before it starts: the service's message
        ({"capacity": 0}, "capacity"),
        ({"kind": "party"}, "kind"),
        ({"title": ""}, "title"),
    ],
)
def test_bad_events_are_a_400_and_make_nothing(api_client, manager_a, store_a, overrides, field):
    response = new_event(api_client, manager_a, store_a, **overrides)

    assert response.status_code == 400
    assert ClubEvent.objects.count() == 0
    assert list(response.json()) == [field or "detail"]


def test_another_stores_event_is_a_404_and_advisors_do_not_create(api_client, manager_a, manager_b, advisor_a, store_a):
    event_id = new_event(api_client, manager_a, store_a).json()["id"]
    api_client.force_authenticate(manager_b)
    assert api_client.get(f"{URL}{event_id}/").status_code == 404
    assert api_client.get(URL).json()["count"] == 0
    api_client.force_authenticate(advisor_a)
    assert api_client.get(f"{URL}{event_id}/").status_code == 200
    assert new_event(api_client, advisor_a, store_a).status_code == 403


def test_registrations_take_the_places_then_wait(api_client, manager_a, advisor_a, store_a):
    event_id = new_event(api_client, manager_a, store_a).json()["id"]
    first, second = owner(store_a, "A0101", name="王芳"), owner(store_a, "A0102", name="刘洋")
    api_client.force_authenticate(advisor_a)

    answers = [
        api_client.post(f"{URL}{event_id}/registrations/", {"customer": customer.pk}, format="json")
        for customer in (first, second)
    ]

    assert [answer.status_code for answer in answers] == [201, 201]
    assert [answer.json()["status"] for answer in answers] == ["registered", "waiting"]
    assert [row["customer_no"] for row in api_client.get(f"{URL}{event_id}/registrations/").json()["results"]] == [
        "A0101",
        "A0102",
    ]
    assert api_client.get(f"{URL}{event_id}/").json()["places_taken"] == 1
    assert api_client.get(f"{URL}{event_id}/").json()["waiting"] == 1
    assert EventRegistration.objects.filter(source="phone").count() == 2


def test_a_registration_of_another_stores_customer_is_refused(api_client, manager_a, store_a, store_b):
    event_id = new_event(api_client, manager_a, store_a).json()["id"]
    stranger = owner(store_b, "B0101")

    response = api_client.post(f"{URL}{event_id}/registrations/", {"customer": stranger.pk}, format="json")

    assert response.status_code == 400
    assert EventRegistration.objects.count() == 0
