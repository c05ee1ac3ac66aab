"""The complaints API: agents create, managers work and close, advisors read the open ones."""

import pytest
from django.core import mail

from complaints.choices import Status
from complaints.models import Complaint
from tests.complaints.factories import ComplaintFactory, local

pytestmark = pytest.mark.django_db

URL = "/api/complaints/"


@pytest.fixture
def complaint_a(customer_a, attitude):
    return ComplaintFactory(customer=customer_a, complaint_type=attitude)


def payload(customer, attitude, **extra):
    return {
        "customer": customer.pk,
        "channel": "wechat",
        "department": "service",
        "complaint_type": attitude.pk,
        "severity": "medium",
        "description": "微信留言：预约后等待两小时",
        **extra,
    }


def test_an_agent_creates_a_complaint_and_the_manager_is_emailed(
    api_client, agent_a, customer_a, vehicle_a, attitude, routing_a, manager_a, django_capture_on_commit_callbacks
):
    api_client.force_authenticate(agent_a)

    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(URL, payload(customer_a, attitude, vehicle=vehicle_a.pk), format="json")

    assert response.status_code == 201, response.data
    complaint = Complaint.objects.get()
    assert response.data["id"] == complaint.pk
    assert (response.data["plate_no"], response.data["assigned_manager"], response.data["status"]) == (
        "苏A12345",
        manager_a.pk,
        "open",
    )
    assert [message.to for message in mail.outbox] == [["manager_a@example.com"]]


def test_a_customer_of_another_store_cannot_be_used(api_client, agent_a, customer_b, attitude):
    api_client.force_authenticate(agent_a)

    response = api_client.post(URL, payload(customer_b, attitude), format="json")

    assert response.status_code == 400
    assert "customer" in response.data
    assert Complaint.objects.count() == 0


def test_an_agent_cannot_close(api_client, agent_a, complaint_a):
    api_client.force_authenticate(agent_a)

    response = api_client.post(
        f"{URL}{complaint_a.pk}/close/", {"resolution": "x", "confirmation": "satisfied"}, format="json"
    )

    assert response.status_code == 403
    complaint_a.refresh_from_db()
    assert complaint_a.status == Status.OPEN


def test_a_manager_of_store_b_gets_404(api_client, manager_b, complaint_a):
    api_client.force_authenticate(manager_b)

    detail = api_client.get(f"{URL}{complaint_a.pk}/")
    close = api_client.post(
        f"{URL}{complaint_a.pk}/close/", {"resolution": "x", "confirmation": "satisfied"}, format="json"
    )

    assert (detail.status_code, close.status_code) == (404, 404)
    complaint_a.refresh_from_db()
    assert complaint_a.status == Status.OPEN


def test_closing_without_confirmation_is_a_400_with_the_reason(api_client, manager_a, complaint_a):
    api_client.force_authenticate(manager_a)

    response = api_client.post(f"{URL}{complaint_a.pk}/close/", {"resolution": "已处理"}, format="json")

    assert response.status_code == 400
    assert str(response.data["detail"]) == (
        "The complaint cannot be closed without the customer's confirmation: call the customer back "
        "and record whether they are satisfied."
    )
    complaint_a.refresh_from_db()
    assert complaint_a.status == Status.OPEN


def test_a_manager_works_and_closes_a_complaint(api_client, manager_a, complaint_a):
    api_client.force_authenticate(manager_a)

    acted = api_client.post(f"{URL}{complaint_a.pk}/actions/", {"kind": "acknowledged"}, format="json")
    closed = api_client.post(
        f"{URL}{complaint_a.pk}/close/",
        {"resolution": "更换雨刮", "confirmation": "satisfied", "confirmation_note": "客户满意"},
        format="json",
    )
    reopened = api_client.post(f"{URL}{complaint_a.pk}/reopen/", {"reason": "再次异响"}, format="json")

    assert (acted.status_code, acted.data["kind"], acted.data["actor"]) == (201, "acknowledged", manager_a.pk)
    assert (closed.status_code, closed.data["status"], closed.data["customer_confirmation"]) == (
        200,
        "closed",
        "satisfied",
    )
    assert (reopened.status_code, reopened.data["status"], reopened.data["reopened_count"]) == (200, "in_progress", 1)


def test_advisors_read_the_open_ones_of_their_store_and_log_their_own(
    api_client, advisor_a, customer_a, customer_b, attitude
):
    open_one = ComplaintFactory(customer=customer_a, complaint_type=attitude)
    ComplaintFactory(
        customer=customer_a,
        complaint_type=attitude,
        status=Status.CLOSED,
        closed_at=local(2026, 1, 2),
        customer_confirmation="satisfied",
    )
    ComplaintFactory(customer=customer_b, complaint_type=attitude)
    api_client.force_authenticate(advisor_a)

    listing = api_client.get(URL)
    create = api_client.post(URL, payload(customer_a, attitude), format="json")

    assert [row["id"] for row in listing.data["results"]] == [open_one.pk]
    assert create.status_code == 201
    assert create.data["customer"] == customer_a.pk


def test_anonymous_callers_get_401(api_client):
    assert api_client.get(URL).status_code == 401


def test_the_list_runs_a_fixed_number_of_queries(
    api_client, manager_a, customer_a, attitude, django_assert_num_queries
):
    ComplaintFactory.create_batch(6, customer=customer_a, complaint_type=attitude)
    api_client.force_authenticate(manager_a)
    api_client.get(URL)

    # the same user object: permissions and stores are cached; count and page, however many rows
    with django_assert_num_queries(2):
        response = api_client.get(URL)
    assert response.data["count"] == 6


def test_an_integration_sends_attachments_and_a_wrong_type_is_refused(
    api_client, agent_a, customer_a, attitude, settings, tmp_path
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    api_client.force_authenticate(agent_a)

    refused = api_client.post(
        URL,
        {**payload(customer_a, attitude), "attachments": SimpleUploadedFile("a.bat", b"x", "application/x-bat")},
        format="multipart",
    )
    accepted = api_client.post(
        URL,
        {**payload(customer_a, attitude), "attachments": SimpleUploadedFile("photo.jpg", b"\xff\xd8", "image/jpeg")},
        format="multipart",
    )

    assert refused.status_code == 400
    assert "“a.bat” is not an accepted file type" in str(refused.data["detail"])
    assert accepted.status_code == 201
    assert [a.original_name for a in Complaint.objects.get().attachments.all()] == ["photo.jpg"]


def test_a_vehicle_or_staff_member_of_another_store_reads_as_unknown(
    api_client, agent_a, customer_a, customer_b, manager_b, attitude
):
    from tests.factories import VehicleFactory

    foreign_vehicle = VehicleFactory(customer=customer_b)
    api_client.force_authenticate(agent_a)

    foreign = api_client.post(URL, payload(customer_a, attitude, vehicle=foreign_vehicle.pk), format="json")
    missing = api_client.post(URL, payload(customer_a, attitude, vehicle=foreign_vehicle.pk + 1000), format="json")
    staff = api_client.post(URL, payload(customer_a, attitude, staff_concerned=manager_b.pk), format="json")

    assert (foreign.status_code, missing.status_code, staff.status_code) == (400, 400, 400)
    assert [str(error) for error in foreign.data["vehicle"]] == [
        f'Invalid pk "{foreign_vehicle.pk}" - object does not exist.'
    ]
    assert [str(error) for error in missing.data["vehicle"]] == [
        f'Invalid pk "{foreign_vehicle.pk + 1000}" - object does not exist.'
    ]
    assert [str(error) for error in staff.data["staff_concerned"]] == [
        f'Invalid pk "{manager_b.pk}" - object does not exist.'
    ]
    assert Complaint.objects.count() == 0
