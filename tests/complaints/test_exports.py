"""The managers' complaints export follows the rule of every export of customer rows: immediate with
one audit row when no complaint is about a card needing approval; otherwise a request a manager of
that card's store approves, then one download. The monthly rates hold no customer rows."""

import pytest
from django.urls import reverse

from crm.choices import AuditAction, Role
from crm.models import AuditLog, ExportRequest
from tests.complaints.factories import ComplaintFactory, local
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
QUERY = {"first_month": "2026-10", "last_month": "2026-10"}


@pytest.fixture
def second_manager_a(store_a):
    return UserFactory(username="manager_a2", role=Role.MANAGER, stores=[store_a])


@pytest.fixture
def complaints(store_a, customer_a, attitude):
    secret = CustomerFactory(store=store_a, customer_no="CS0001", name="李雷", confidentiality="secret")
    normal = ComplaintFactory(customer=customer_a, complaint_type=attitude, received_at=local(2026, 10, 5, 9, 0))
    confidential = ComplaintFactory(customer=secret, complaint_type=attitude, received_at=local(2026, 10, 6, 9, 0))
    return normal, confidential


def audit(action):
    return list(AuditLog.objects.filter(action=action).order_by("id").values_list("actor__username", "object_type"))


def page_messages(response):
    return [str(message) for message in response.context["messages"]]


def first_cells(response):
    return [line.split(",")[:5] for line in response.content.decode("utf-8-sig").splitlines()[1:]]


def test_without_a_confidential_card_the_export_is_immediate_with_one_audit_row(
    client, manager_a, customer_a, attitude
):
    complaint = ComplaintFactory(customer=customer_a, complaint_type=attitude, received_at=local(2026, 10, 5, 9, 0))
    client.force_login(manager_a)

    response = client.get(reverse("complaints:export"), QUERY)

    assert response["Content-Disposition"] == 'attachment; filename="complaints-202610-202610.csv"'
    assert first_cells(response) == [[str(complaint.pk), "NJ01", "2026-10-05 09:00", "CA0001", "张伟"]]
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.action, entry.object_type, entry.object_ids, entry.detail) == (
        manager_a,
        AuditAction.EXPORT,
        "complaints.complaint",
        [str(complaint.pk)],
        {"stores": [manager_a.stores.get().pk], "period": "202610-202610", "rows": 1, "format": "csv"},
    )


def test_a_complaint_of_a_secret_card_asks_for_approval(client, manager_a, complaints):
    client.force_login(manager_a)

    response = client.get(reverse("complaints:export"), QUERY)

    assert response.templates[0].name == "customers/export_request.html"
    assert (response.context["label"], response.context["row_count"], response.context["approval_row_count"]) == (
        "Complaints 202610-202610",
        2,
        1,
    )
    query = "?first_month=2026-10&last_month=2026-10"
    assert response.context["action"] == reverse("complaints:export_request") + query
    assert "李雷" not in response.content.decode()
    assert AuditLog.objects.count() == 0
    assert ExportRequest.objects.count() == 0


def test_request_approve_download_once(client, manager_a, second_manager_a, complaints, store_a):
    normal, confidential = complaints
    client.force_login(manager_a)

    asked = client.post(
        reverse("complaints:export_request") + "?first_month=2026-10&last_month=2026-10",
        {"reason": "季度投诉复盘"},
        follow=True,
    )

    export_request = ExportRequest.objects.get()
    assert asked.redirect_chain == [(reverse("crm:export_requests"), 302)]
    assert (export_request.kind, export_request.object_ids, export_request.approval_row_count) == (
        "complaints.complaint",
        [normal.pk, confidential.pk],
        1,
    )
    assert list(export_request.stores.all()) == [store_a]
    client.force_login(second_manager_a)
    client.post(reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "approve"})

    client.force_login(manager_a)
    download = reverse("complaints:export_request_download", args=[export_request.pk])
    mine = client.get(reverse("crm:export_requests"))
    first = client.get(download)
    second = client.get(download, follow=True)

    assert [item.download_url for item in mine.context["mine"]] == [download]
    assert [cells[3:] for cells in first_cells(first)] == [["CA0001", "张伟"], ["CS0001", "李雷"]]
    assert first["Content-Disposition"].startswith(f'attachment; filename="export-{export_request.pk}-')
    assert second.redirect_chain == [(reverse("crm:export_requests"), 302)]
    assert page_messages(second)[0].startswith("This export was already downloaded, on ")
    assert audit(AuditAction.EXPORT) == [("manager_a", "complaints.complaint")]
    assert ExportRequest.objects.get().status == "downloaded"


def test_a_refused_request_is_never_downloaded(client, manager_a, second_manager_a, complaints):
    client.force_login(manager_a)
    client.post(reverse("complaints:export_request") + "?first_month=2026-10&last_month=2026-10", {"reason": "x"})
    export_request = ExportRequest.objects.get()
    client.force_login(second_manager_a)
    client.post(reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "refuse"})
    client.force_login(manager_a)

    response = client.get(reverse("complaints:export_request_download", args=[export_request.pk]), follow=True)

    assert page_messages(response)[-1] == "A manager refused this export."
    assert audit(AuditAction.EXPORT) == []


def test_a_request_needs_a_reason(client, manager_a, complaints):
    client.force_login(manager_a)

    response = client.post(
        reverse("complaints:export_request") + "?first_month=2026-10&last_month=2026-10", {"reason": ""}, follow=True
    )

    assert response.redirect_chain == [(reverse("complaints:export") + "?first_month=2026-10&last_month=2026-10", 302)]
    assert ExportRequest.objects.count() == 0


def test_the_monthly_rates_stay_immediate_and_audited(client, manager_a, complaints):
    client.force_login(manager_a)

    response = client.get(reverse("complaints:export"), {**QUERY, "what": "months"})

    assert response["Content-Disposition"] == 'attachment; filename="complaint-rates-202610-202610.csv"'
    assert [line.split(",")[:2] for line in response.content.decode("utf-8-sig").splitlines()[1:]] == [["2026-10", "0"]]
    assert audit(AuditAction.EXPORT) == [("manager_a", "complaints.monthly")]
    assert ExportRequest.objects.count() == 0


def test_another_stores_manager_can_neither_ask_nor_download(client, manager_a, manager_b, complaints):
    client.force_login(manager_a)
    client.post(reverse("complaints:export_request") + "?first_month=2026-10&last_month=2026-10", {"reason": "x"})
    export_request = ExportRequest.objects.get()
    client.force_login(manager_b)

    response = client.get(reverse("complaints:export_request_download", args=[export_request.pk]))

    assert response.status_code == 404
    assert ExportRequest.objects.get().status == "pending"
