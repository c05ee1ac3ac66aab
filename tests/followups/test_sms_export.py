"""The day's SMS list as a CSV follows the rule of every export of customer rows: immediate with one
audit row when no card needs approval; a request a manager of the card's store approves, then one
download, when a card is graded 秘密 or above or is a key customer."""

import datetime

import pytest
from django.urls import reverse

from crm.choices import AuditAction, Role
from crm.models import AuditLog, ExportRequest
from followups.models import FollowupTask
from followups.services import followups_generate_day
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
DAY = datetime.date(2026, 11, 22)
LIST = {"date": DAY.isoformat(), "format": "csv"}
HEADER = "门店,回访规则,客户编号,姓名,手机,车牌号,内容"  # the reader's language, the rule in words


def birthday_customer(store, **fields):
    return CustomerFactory(store=store, birthday=datetime.date(1990, 11, 28), **fields)


@pytest.fixture
def second_manager_a(store_a):
    return UserFactory(username="manager_a2", role=Role.MANAGER, stores=[store_a])


def audit(action):
    return list(AuditLog.objects.filter(action=action).order_by("id").values_list("actor__username", "object_type"))


def page_messages(response):
    return [str(message) for message in response.context["messages"]]


def test_without_a_confidential_card_the_list_is_immediate_with_one_audit_row(client, manager_a, store_a):
    birthday_customer(store_a, name="韩梅梅", mobile="13900001111", customer_no="C9")
    followups_generate_day(day=DAY, store_ids=[store_a.pk])
    client.force_login(manager_a)

    response = client.get(reverse("followups:sms"), LIST)

    assert response["Content-Disposition"] == 'attachment; filename="sms-2026-11-22.csv"'
    assert response.content.decode("utf-8-sig").splitlines() == [HEADER, "NJ01,生日祝福,C9,韩梅梅,13900001111,,"]
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.action, entry.object_type, entry.detail) == (
        manager_a,
        AuditAction.EXPORT,
        "followups.smslist",
        {"date": "2026-11-22", "rows": 1, "format": "csv"},
    )
    assert ExportRequest.objects.count() == 0


@pytest.mark.parametrize("card", [{"confidentiality": "secret"}, {"is_key_customer": True}])
def test_a_secret_or_key_card_asks_for_approval_instead_of_a_file(client, manager_a, store_a, card):
    birthday_customer(store_a, name="韩梅梅", customer_no="C9")
    birthday_customer(store_a, name="李雷", customer_no="C8", **card)
    followups_generate_day(day=DAY, store_ids=[store_a.pk])
    client.force_login(manager_a)

    response = client.get(reverse("followups:sms"), LIST)

    assert response["Content-Type"].startswith("text/html")
    assert response.templates[0].name == "customers/export_request.html"
    assert (response.context["row_count"], response.context["approval_row_count"]) == (2, 1)
    assert response.context["action"] == reverse("followups:sms_export_request") + "?date=2026-11-22&q="
    assert "李雷" not in response.content.decode()
    assert AuditLog.objects.count() == 0
    assert ExportRequest.objects.count() == 0


def test_request_approve_download_once(client, manager_a, second_manager_a, store_a):
    birthday_customer(store_a, name="韩梅梅", mobile="13900001111", customer_no="C9")
    birthday_customer(store_a, name="李雷", mobile="13900002222", customer_no="C8", confidentiality="secret")
    followups_generate_day(day=DAY, store_ids=[store_a.pk])
    client.force_login(manager_a)

    asked = client.post(
        reverse("followups:sms_export_request") + "?date=2026-11-22&q=", {"reason": "上传短信平台"}, follow=True
    )

    export_request = ExportRequest.objects.get()
    assert asked.redirect_chain == [(reverse("crm:export_requests"), 302)]
    task_ids = sorted(FollowupTask.objects.filter(queue_date=DAY).values_list("pk", flat=True))
    assert (export_request.kind, export_request.label, export_request.status) == (
        "followups.smslist",
        "2026-11-22 短信清单",
        "pending",
    )
    assert (sorted(export_request.object_ids), export_request.row_count, export_request.approval_row_count) == (
        task_ids,
        2,
        1,
    )
    assert list(export_request.stores.all()) == [store_a]
    client.force_login(second_manager_a)
    client.post(reverse("crm:export_request_decide", args=[export_request.pk]), {"decision": "approve"})

    client.force_login(manager_a)
    download = reverse("followups:export_request_download", args=[export_request.pk])
    mine = client.get(reverse("crm:export_requests"))
    first = client.get(download)
    second = client.get(download, follow=True)

    assert [item.download_url for item in mine.context["mine"]] == [download]
    assert first.status_code == 200
    assert first.content.decode("utf-8-sig").splitlines() == [
        HEADER,
        "NJ01,生日祝福,C8,李雷,13900002222,,",
        "NJ01,生日祝福,C9,韩梅梅,13900001111,,",
    ]
    assert second.redirect_chain == [(reverse("crm:export_requests"), 302)]
    assert page_messages(second)[0].startswith("此导出已于 ")
    assert audit(AuditAction.EXPORT) == [("manager_a", "followups.smslist")]
    assert [user for user, _type in audit(AuditAction.EXPORT_APPROVE)] == ["manager_a2"]
    assert ExportRequest.objects.get().status == "downloaded"


def test_a_list_needing_no_approval_is_not_requested(client, manager_a, store_a):
    birthday_customer(store_a, customer_no="C9")
    followups_generate_day(day=DAY, store_ids=[store_a.pk])
    client.force_login(manager_a)

    response = client.post(reverse("followups:sms_export_request") + "?date=2026-11-22", {"reason": "x"}, follow=True)

    assert page_messages(response) == ["此导出无需审批，请直接下载。"]
    assert ExportRequest.objects.count() == 0
    assert audit(AuditAction.EXPORT_REQUEST) + audit(AuditAction.EXPORT) == []


def test_only_staff_with_the_export_permission_ask_or_download(client, agent_a, manager_a, store_a):
    birthday_customer(store_a, customer_no="C8", confidentiality="secret")
    followups_generate_day(day=DAY, store_ids=[store_a.pk])
    client.force_login(manager_a)
    client.post(reverse("followups:sms_export_request") + "?date=2026-11-22", {"reason": "x"})
    export_request = ExportRequest.objects.get()
    client.force_login(agent_a)

    asked = client.post(reverse("followups:sms_export_request") + "?date=2026-11-22", {"reason": "x"})
    download = client.get(reverse("followups:export_request_download", args=[export_request.pk]))

    assert (asked.status_code, download.status_code) == (403, 403)
    assert ExportRequest.objects.count() == 1


def test_a_segment_export_request_is_not_downloaded_as_an_sms_list(client, manager_a, store_a):
    from customers.facts import customer_stats_refresh
    from customers.models import Segment

    CustomerFactory(store=store_a, customer_no="S1", confidentiality="secret")
    customer_stats_refresh()
    segment = Segment.objects.create(name="全部", store=store_a, definition={})
    client.force_login(manager_a)
    client.post(reverse("customers:segment_export_request", args=[segment.pk, "csv"]), {"reason": "x"})

    response = client.get(reverse("followups:export_request_download", args=[ExportRequest.objects.get().pk]))

    assert response.status_code == 404
