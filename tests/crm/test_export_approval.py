"""Exports holding cards graded 秘密 and above, or key customers, need a manager's approval:
request → a manager of the store approves or refuses → the requester downloads once; each step
audited. Exports without such cards stay immediate."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.choices import AuditAction, Role
from crm.models import AuditLog, ExportRequest
from crm.services import export_request_create
from customers.facts import customer_stats_refresh
from customers.models import Segment
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def cards(store_a):
    normal = CustomerFactory(store=store_a, customer_no="N1", mobile="13800000001")
    secret = CustomerFactory(store=store_a, customer_no="S1", mobile="13800000002", confidentiality="secret")
    customer_stats_refresh()
    return normal, secret


@pytest.fixture
def segment(cards, store_a):
    return Segment.objects.create(name="全部客户", store=store_a, definition={})


@pytest.fixture
def second_manager_a(store_a):
    return UserFactory(username="manager_a2", role=Role.MANAGER, stores=[store_a])


def audit(action):
    return list(AuditLog.objects.filter(action=action).order_by("id").values_list("actor__username", "detail"))


def ask(client, segment, reason="年检提醒活动"):
    url = reverse("customers:segment_export_request", args=[segment.pk, "csv"])
    return client.post(url, {"reason": reason}, follow=True)


def page_messages(response):
    return [str(message) for message in response.context["messages"]]


def test_an_export_with_a_secret_card_asks_for_approval_instead_of_a_file(client, manager_a, segment):
    client.force_login(manager_a)

    response = client.get(reverse("customers:segment_export", args=[segment.pk, "csv"]))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert (response.context["row_count"], response.context["approval_row_count"]) == (2, 1)
    assert audit(AuditAction.EXPORT) == []
    assert ExportRequest.objects.count() == 0


def test_request_approve_download_once(client, manager_a, second_manager_a, segment, cards, store_a):
    normal, secret = cards
    client.force_login(manager_a)
    asked = ask(client, segment)

    export_request = ExportRequest.objects.get()
    assert asked.redirect_chain == [(reverse("crm:export_requests"), 302)]
    assert page_messages(asked) == ["导出申请已提交门店经理审批。"]
    assert (export_request.status, export_request.row_count, export_request.approval_row_count) == ("pending", 2, 1)
    assert export_request.object_ids == [normal.pk, secret.pk]
    assert list(export_request.stores.all()) == [store_a]
    assert [(user, detail["rows"], detail["stores"]) for user, detail in audit(AuditAction.EXPORT_REQUEST)] == [
        ("manager_a", 2, [store_a.pk])
    ]
    download = reverse("customers:export_request_download", args=[export_request.pk])
    early = client.get(download, follow=True)
    assert page_messages(early) == ["此导出仍在等待经理审批。"]

    # The requester may not approve his own request.
    own = client.post(
        reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "approve"}, follow=True
    )
    assert page_messages(own) == ["只有相关各门店的经理（申请人本人除外）可以审批。"]
    assert ExportRequest.objects.get().status == "pending"

    client.force_login(second_manager_a)
    pending = client.get(reverse("crm:export_requests"))
    assert [item.pk for item in pending.context["to_decide"]] == [export_request.pk]
    approved = client.post(
        reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "approve"}, follow=True
    )
    assert page_messages(approved) == ["已批准此导出。"]
    again = client.post(
        reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "refuse"}, follow=True
    )
    assert page_messages(again) == ["此导出申请已经审批过。"]
    assert ExportRequest.objects.get().status == "approved"
    assert [user for user, _detail in audit(AuditAction.EXPORT_APPROVE)] == ["manager_a2"]
    assert audit(AuditAction.EXPORT_REFUSE) == []

    client.force_login(manager_a)
    mine = client.get(reverse("crm:export_requests"))
    assert [item.download_url for item in mine.context["mine"]] == [download]
    first = client.get(download)
    second = client.get(download, follow=True)

    assert first.status_code == 200
    lines = first.content.decode("utf-8-sig").splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == ["N1", "S1"]
    assert "13800000002" in lines[2]  # a manager sees whole numbers
    assert len(page_messages(second)) == 1
    assert page_messages(second)[0].startswith("此导出已于 ")
    assert second.redirect_chain == [(reverse("crm:export_requests"), 302)]
    exported = audit(AuditAction.EXPORT)
    assert [(user, detail["rows"], detail["export_request"]) for user, detail in exported] == [
        ("manager_a", 2, export_request.pk)
    ]
    assert ExportRequest.objects.get().status == "downloaded"


def test_a_refused_export_is_never_downloaded(client, manager_a, second_manager_a, segment):
    client.force_login(manager_a)
    ask(client, segment)
    export_request = ExportRequest.objects.get()
    client.force_login(second_manager_a)
    refused = client.post(
        reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "refuse"}, follow=True
    )
    assert page_messages(refused) == ["已拒绝此导出。"]

    client.force_login(manager_a)
    response = client.get(reverse("customers:export_request_download", args=[export_request.pk]), follow=True)

    assert page_messages(response) == ["经理拒绝了此导出。"]
    assert [user for user, _detail in audit(AuditAction.EXPORT_REFUSE)] == ["manager_a2"]
    assert audit(AuditAction.EXPORT) == []


def test_another_stores_manager_neither_sees_nor_decides(client, manager_a, manager_b, segment):
    client.force_login(manager_a)
    ask(client, segment)
    export_request = ExportRequest.objects.get()
    client.force_login(manager_b)

    assert client.get(reverse("crm:export_requests")).context["to_decide"] == []
    decide = client.post(reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "approve"})
    download = client.get(reverse("customers:export_request_download", args=[export_request.pk]))

    assert (decide.status_code, download.status_code) == (404, 404)
    assert ExportRequest.objects.get().status == "pending"


def test_a_key_customer_needs_approval_too(client, admin_user, manager_a, store_a):
    CustomerFactory(store=store_a, customer_no="K1", is_key_customer=True)
    customer_stats_refresh()
    segment = Segment.objects.create(name="大客户", store=store_a, definition={})
    client.force_login(admin_user)

    response = client.get(reverse("customers:segment_export", args=[segment.pk, "xlsx"]))
    ask_response = client.post(reverse("customers:segment_export_request", args=[segment.pk, "xlsx"]), {"reason": "x"})

    assert response.context["approval_row_count"] == 1
    assert ask_response.status_code == 302
    export_request = ExportRequest.objects.get()
    client.force_login(manager_a)  # a manager of the card's store decides on the admin's request
    client.post(reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "approve"})
    assert ExportRequest.objects.get().status == "approved"


def test_a_request_needs_a_reason(client, manager_a, segment):
    client.force_login(manager_a)

    response = ask(client, segment, reason="")

    assert response.redirect_chain == [(reverse("customers:segment_export", args=[segment.pk, "csv"]), 302)]
    assert page_messages(response) == ["请填写导出用途。"]
    assert ExportRequest.objects.count() == 0
    assert audit(AuditAction.EXPORT_REQUEST) == []


def test_an_export_without_such_cards_stays_immediate(client, manager_a, store_a):
    CustomerFactory(store=store_a, customer_no="N1")
    customer_stats_refresh()
    segment = Segment.objects.create(name="普通", store=store_a, definition={})
    client.force_login(manager_a)

    response = client.get(reverse("customers:segment_export", args=[segment.pk, "csv"]))

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert [user for user, _detail in audit(AuditAction.EXPORT)] == ["manager_a"]


def test_a_failure_while_building_the_file_leaves_the_export_approved(
    client, manager_a, second_manager_a, segment, monkeypatch
):
    import customers.exports

    client.force_login(manager_a)
    ask(client, segment)
    export_request = ExportRequest.objects.get()
    client.force_login(second_manager_a)
    client.post(reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "approve"})

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(customers.exports, "export_rows", broken)
    with pytest.raises(OSError, match="disk full"):
        customers.exports.segment_export_download(export_request=export_request, user=manager_a)

    assert ExportRequest.objects.get().status == "approved"
    assert audit(AuditAction.EXPORT) == []


def test_the_requests_page_costs_the_same_queries_however_many_requests_wait(client, second_manager_a, store_a):
    requester = UserFactory(username="desk_a", role=Role.MANAGER, stores=[store_a])

    def ask_once(number):
        export_request_create(
            user=requester,
            kind="customers.segment",
            subject_id=None,
            label=f"导出 {number}",
            file_format="csv",
            object_ids=[1],
            approval_row_count=1,
            store_ids=[store_a.pk],
            reason="年检提醒活动",
        )

    def page_queries():
        client.force_login(second_manager_a)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("crm:export_requests"))
        assert response.status_code == 200
        return len(response.context["to_decide"]), len(queries)

    ask_once(1)
    one = page_queries()
    ask_once(2)
    ask_once(3)
    three = page_queries()

    assert (one[0], three[0]) == (1, 3)
    assert three[1] == one[1]


def test_a_request_names_its_stores_even_when_they_come_as_a_generator(manager_a, store_a):
    export_request = export_request_create(
        user=manager_a,
        kind="customers.segment",
        subject_id=None,
        label="导出",
        file_format="csv",
        object_ids=iter([1, 2]),
        approval_row_count=1,
        store_ids=(store_id for store_id in [store_a.pk, store_a.pk]),
        reason="年检提醒活动",
    )

    assert list(export_request.stores.values_list("id", flat=True)) == [store_a.pk]
    assert [detail["stores"] for _user, detail in audit(AuditAction.EXPORT_REQUEST)] == [[store_a.pk]]
