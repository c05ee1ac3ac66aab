"""A customer's data on request (PIPL): a manager downloads everything the CRM holds about one
customer as one JSON file, audited; other apps' data comes through the providers' registry."""

import json

import pytest
from django.urls import reverse

from crm.models import AuditLog
from customers.privacy import personal_data_providers
from tests.customers.privacy_helpers import VIN, customer_with_everything

pytestmark = pytest.mark.django_db


@pytest.fixture
def everything(store_a, manager_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return customer_with_everything(store=store_a, staff=manager_a)


def download(client, user, customer):
    client.force_login(user)
    return client.get(reverse("customers:personal_data", args=[customer.pk]))


def test_followups_clubs_and_complaints_register_their_providers():
    assert [f"{function.__module__}.{function.__name__}" for function in personal_data_providers()] == [
        "followups.privacy.personal_data",
        "clubs.privacy.personal_data",
        "complaints.privacy.personal_data",
    ]


def test_a_manager_downloads_everything_held_about_the_customer(client, manager_a, everything):
    response = download(client, manager_a, everything.customer)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    file_name = f"customer-{everything.customer.pk}-personal-data.json"
    assert response["Content-Disposition"] == f'attachment; filename="{file_name}"'
    data = json.loads(response.content.decode("utf-8"))
    assert sorted(data) == sorted([
        "exported_at", "customer", "named_staff", "vehicles", "repair_orders", "notes", "consents", "consent_history",
        "card_history", "vehicle_history", "followup_tasks", "calls", "sms", "sms_replies", "campaigns", "complaints",
        "complaint_history",
        "complaint_actions", "complaint_attachments", "deliveries", "satisfaction_results", "delivery_interviews",
        "delivery_interview_history", "prospects", "prospect_history", "appointments", "appointment_history",
        "club_membership", "club_tier_changes", "club_points", "club_stored_value", "club_event_registrations",
        "referrals_made", "referrals_as_prospect", "referral_history",
    ])  # fmt: skip
    card = data["customer"]
    assert (card["customer_no"], card["name"], card["mobile"], card["landline"], card["birthday"], card["address"]) == (
        "CA0417", "王芳", "13955550417", "025-52100417", "1985-04-17", "江宁区双龙大道1号"
    )  # fmt: skip
    assert sorted({"dms_fingerprint", "dms_synced_at", "name_pinyin", "name_initials"} & set(card)) == []
    assert [(row["vin"], row["plate_no"]) for row in data["vehicles"]] == [(VIN, "苏A0417X")]
    assert [(row["ro_no"], row["total_amount"]) for row in data["repair_orders"]] == [("RO0417", "880.00")]
    assert [row["text"] for row in data["notes"]] == ["客户说下月换新车"]
    assert [(row["purpose"], row["is_granted"], row["source"], row["note"]) for row in data["consents"]] == [
        ("marketing", True, "desk", "签字同意")
    ]
    assert [row["history_type"] for row in data["consent_history"]] == ["+"]
    assert [row["employer"] for row in data["card_history"]] == ["南京某公司", "南京某某公司"]
    assert [(row["vin"], row["history_type"]) for row in data["vehicle_history"]] == [(VIN, "+")]
    assert [row["notes"] for row in data["calls"]] == ["客户抱怨等待时间长"]
    assert [row["body"] for row in data["sms"]] == ["【江宁日产】尊敬的王芳：祝您生日快乐！回T退订"]
    assert [row["text"] for row in data["sms_replies"]] == ["谢谢，王芳", "在吗？想改下周的预约"]
    assert [row["description"] for row in data["complaints"]] == ["王芳：保养后异响，电话13955550417"]
    assert [(row["history_type"], row["description"]) for row in data["complaint_history"]] == [
        ("+", "王芳：保养后异响，电话13955550417")
    ]
    assert [row["note"] for row in data["complaint_actions"]] == ["王芳本人来电"]
    assert [row["original_name"] for row in data["complaint_attachments"]] == ["letter.png"]
    assert [code for code in (row["code"] for row in data["followup_tasks"])] == ["post_repair_callback", "birthday"]


def test_the_download_holds_the_desks_and_the_clubs_records(client, manager_a, everything):
    data = json.loads(download(client, manager_a, everything.customer).content.decode("utf-8"))

    # The interview's result states each factor's score, then the customer's comment.
    assert [(row["source"], row["score"], row["statement"].splitlines()[-1])
            for row in data["satisfaction_results"]] == [
        ("sms_reply", 4, "短信回复：4 师傅很辛苦"),
        ("delivery_interview", 4, "客户意见：交车讲解很耐心"),
    ]  # fmt: skip
    assert [(row["comment"], row["lowest_score"]) for row in data["delivery_interviews"]] == [("交车讲解很耐心", 4)]
    assert [(row["history_type"], row["comment"]) for row in data["delivery_interview_history"]] == [
        ("+", "交车讲解很耐心")
    ]
    assert [(row["name"], row["mobile"], row["notes"], row["status"]) for row in data["prospects"]] == [
        ("王芳（展厅）", "13955550417", "想要白色天籁，预算二十万", "won")
    ]  # fmt: skip
    assert [(row["status"], row["lost_note"]) for row in data["prospect_history"]] == [
        ("new", ""), ("lost", "嫌贵去了别家"), ("contacted", ""), ("won", "")
    ]  # fmt: skip
    assert [(row["status"], row["notes"], row["source_reference"]) for row in data["appointments"]] == [
        ("cancelled", "右后轮胎鼓包", "wx-o6bmjrPTlm0417")
    ]
    assert [(row["status"], row["history_change_reason"]) for row in data["appointment_history"]] == [
        ("booked", None),
        ("cancelled", "出差改期"),
    ]
    assert [(row["card_no"], row["tier"]) for row in data["club_membership"]] == [("M0417VIP", 2)]
    assert [row["reason"] for row in data["club_tier_changes"]] == ["大客户升级金卡"]
    assert [(row["points"], row["note"]) for row in data["club_points"]] == [(200, "生日加赠积分")]
    assert [(row["amount"], row["note"]) for row in data["club_stored_value"]] == [("1000.00", "现金储值收据")]
    assert data["club_event_registrations"] == []
    assert [(row["prospect_name"], row["prospect_mobile"]) for row in data["referrals_as_prospect"]] == [
        ("王芳（老李介绍）", "13955550417")
    ]
    assert [row["history_type"] for row in data["referral_history"]] == ["+"]
    # A referral they made names someone else: that person's name and mobile are not theirs to download.
    made = data["referrals_made"]
    assert ([row["id"] for row in made], sorted({"prospect_name", "prospect_mobile"} & set(made[0]))) == (
        [everything.referral_made.pk], []
    )  # fmt: skip
    assert "韩梅梅" not in json.dumps(data, ensure_ascii=False)


def test_the_download_is_audited(client, manager_a, everything):
    download(client, manager_a, everything.customer)

    entry = AuditLog.objects.get(action="export")
    assert (entry.actor, entry.action, entry.object_type, entry.object_ids, entry.detail["kind"]) == (
        manager_a, "export", "customers.customer", [str(everything.customer.pk)], "personal_data"
    )  # fmt: skip


def test_staff_without_the_permission_get_403_and_nothing_is_audited(client, advisor_a, everything):
    response = download(client, advisor_a, everything.customer)

    assert response.status_code == 403
    assert AuditLog.objects.filter(action="export").count() == 0


def test_another_stores_manager_gets_404_and_nothing_is_audited(client, manager_b, everything):
    response = download(client, manager_b, everything.customer)

    assert response.status_code == 404
    assert AuditLog.objects.filter(action="export").count() == 0


def test_the_card_offers_the_download_to_managers_only(client, manager_a, advisor_a, everything):
    url = reverse("customers:detail", args=[everything.customer.pk])
    client.force_login(manager_a)
    manager_page = client.get(url).content.decode()
    client.force_login(advisor_a)
    advisor_page = client.get(url).content.decode()

    assert 'data-action="personal-data"' in manager_page
    assert 'data-action="personal-data"' not in advisor_page
