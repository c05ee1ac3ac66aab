"""Erasure at the customer's request (PIPL): the card and every app's personal fields anonymised,
history purged, statistics kept, a tombstone left so that the next DMS import does not bring the
person back; permission, typed confirmation and reason; audited; a second erasure changes nothing."""

import csv
import datetime
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from clubs.models import Membership, PointsEntry, Referral, TierChange, WalletEntry
from complaints.models import Complaint, ComplaintAction, ComplaintAttachment
from crm.exceptions import ApplicationError
from crm.models import AuditLog
from customers.models import (
    Appointment,
    Customer,
    CustomerConsent,
    CustomerNote,
    DeliveryInterview,
    ErasedCustomer,
    ErasureHashKey,
    ImportBatch,
    ImportIssue,
    Prospect,
    RepairOrder,
    SatisfactionResult,
    Vehicle,
)
from customers.privacy import derived_erasure_key, erasure_handlers, tombstone_hash, tombstone_pepper
from customers.services import customer_erase, customer_personal_data_export
from followups.models import CallAttempt, FollowupTask, InboundSms, SmsMessage
from tests.customers.dms_helpers import (
    customer_row,
    make_vin,
    repair_row,
    run_import,
    vehicle_row,
    write_csv,
)
from tests.customers.privacy_helpers import VIN, customer_with_everything
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db
PERSONAL = [
    "王芳", "13955550417", "025-52100417", "1985-04-17", "双龙大道", "南京某", "wangfang@", "自驾游", "苏A0417X", VIN,
    "04-17", "CA0417", "下月换新车", "等待时间长", "谢谢", "签字同意", "保养后异响", "本人来电", "letter.png",
    # the desks' records, the club's
    "师傅很辛苦", "讲解很耐心", "（展厅）", "白色天籁", "嫌贵去了别家", "右后轮胎鼓包", "wx-o6bmjrPTlm0417", "出差改期",
    "M0417VIP", "大客户升级", "生日加赠", "现金储值", "老李介绍", "在比价",
    "想改下周",
]  # fmt: skip


@pytest.fixture
def everything(store_a, manager_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return customer_with_everything(store=store_a, staff=manager_a)


def erase_through_the_page(client, user, customer, **data):
    client.force_login(user)
    data = {"confirmation": customer.customer_no, "reason": "客户书面申请删除（2026-11-20）", **data}
    return client.post(reverse("customers:erase", args=[customer.pk]), data)


def test_every_app_holding_personal_data_registers_its_erasure_handler():
    assert [f"{function.__module__}.{function.__name__}" for function in erasure_handlers()] == [
        "customers.privacy.erase_import_artefacts",
        "customers.privacy.erase_desk_records",
        "followups.privacy.erase",
        "clubs.privacy.erase",
        "complaints.privacy.erase",
    ]


def test_a_manager_erases_a_customer_and_nothing_personal_is_left(
    client, manager_a, everything, tmp_path, django_capture_on_commit_callbacks
):
    customer = everything.customer
    attachment_path = tmp_path / everything.attachment.file.name
    assert attachment_path.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = erase_through_the_page(client, manager_a, customer)

    assert response.status_code == 302
    card = Customer.objects.get(pk=customer.pk)
    assert (card.name, card.customer_no, card.mobile, card.landline, card.email, card.birthday, card.address,
            card.employer, card.interests, card.sms_opt_out, card.do_not_call) == (
        f"已删除客户 #{customer.pk}", f"ERASED-{customer.pk}", "", "", "", None, "", "", "", True, True
    )  # fmt: skip
    # The whole export of what the CRM still holds about the card has none of the person in it.
    remaining = customer_personal_data_export(customer=card, user=manager_a).decode()
    assert [text for text in PERSONAL if text in remaining] == []
    assert not attachment_path.exists()
    assert ComplaintAttachment.objects.count() == 0


def test_erasure_keeps_the_statistics(client, manager_a, everything):
    erase_through_the_page(client, manager_a, everything.customer)

    card = Customer.objects.get(pk=everything.customer.pk)
    vehicle = Vehicle.objects.get(pk=everything.vehicle.pk)
    order = RepairOrder.objects.get(pk=everything.order.pk)
    assert (card.gender, card.district, card.store_id) == ("M", "江宁区", everything.customer.store_id)
    assert (vehicle.vin, vehicle.plate_no, vehicle.series, vehicle.delivery_date.isoformat()) == (
        f"ERASED-{vehicle.pk:010d}", "", "天籁", "2025-03-01"
    )  # fmt: skip
    assert (order.ro_no, str(order.total_amount), order.settle_date.isoformat()) == ("RO0417", "880.00", "2026-11-02")
    assert (SmsMessage.objects.get().status, Complaint.objects.get().complaint_type.name) == ("sent", "服务态度")
    assert list(FollowupTask.objects.order_by("id").values_list("code", "status")) == [
        ("post_repair_callback", "closed"), ("birthday", "done")
    ]  # fmt: skip
    assert CallAttempt.objects.get().outcome == "reached"
    assert list(SatisfactionResult.objects.order_by("id").values_list("source", "score", "verdict", "department")) == [
        ("sms_reply", 4, "satisfied", "service"), ("delivery_interview", 4, "satisfied", "sales")
    ]  # fmt: skip
    interview = DeliveryInterview.objects.get()
    assert ([answer["score"] for answer in interview.answers], interview.lowest_score) == ([4] * 7, 4)
    assert interview.answers[0]["label"] == "购买经历总体满意度"
    assert list(Prospect.objects.values_list("status", "source", "intended_model", "recorded_on", "won_on",
                                             "won_customer_id")) == [
        ("won", "showroom", "天籁", datetime.date(2025, 1, 10), datetime.date(2025, 3, 1), everything.customer.pk)
    ]  # fmt: skip
    assert list(Prospect.history.order_by("history_id").values_list("status", "lost_reason")) == [
        ("new", ""), ("lost", "price"), ("contacted", ""), ("won", "")
    ]  # fmt: skip
    assert list(Appointment.objects.values_list("status", "source", "purpose", "date")) == [
        ("cancelled", "api", "maintenance", datetime.date(2026, 11, 23))
    ]
    member = Membership.objects.get()
    assert (member.tier, member.points_balance, str(member.wallet_balance), member.joined_on) == (
        2, 200, "1000.00", datetime.date(2025, 3, 1)
    )  # fmt: skip
    assert list(TierChange.objects.values_list("tier", "kind")) == [(2, "manual")]
    assert list(PointsEntry.objects.values_list("kind", "points", "expires_on")) == [
        ("credit", 200, datetime.date(2026, 6, 1))
    ]
    assert list(WalletEntry.objects.values_list("kind", "amount", "reference")) == [
        ("topup", Decimal("1000.00"), "RC0417")
    ]
    referrals = Referral.objects.order_by("id").values_list("stage", "intended_model", "won_on", "won_customer_id")
    assert list(referrals) == [
        ("won", "天籁", datetime.date(2025, 3, 1), everything.customer.pk), ("new", "", None, None)
    ]  # fmt: skip


def test_every_app_clears_its_own_fields_and_their_history(client, manager_a, everything):
    erase_through_the_page(client, manager_a, everything.customer)

    assert list(CustomerNote.objects.values_list("text", flat=True)) == ["（已删除）"]
    assert list(SmsMessage.objects.values_list("body", "mobile")) == [("", "")]
    assert list(InboundSms.objects.values_list("text", "mobile")) == [("", ""), ("", "")]
    assert list(CallAttempt.objects.values_list("notes", "answers")) == [("", {})]
    assert list(FollowupTask.objects.filter(code="birthday").values_list("subject_date", flat=True)) == [None]
    assert list(Complaint.objects.values_list("description", "resolution")) == [("（已删除）", "")]
    assert set(Complaint.history.values_list("description", flat=True)) == {"（已删除）"}
    assert list(ComplaintAction.objects.values_list("note", flat=True)) == [""]
    assert set(CustomerConsent.history.values_list("note", flat=True)) == {""}
    assert set(Customer.history.filter(id=everything.customer.pk).values_list("name", "mobile", "employer")) == {
        (f"已删除客户 #{everything.customer.pk}", "", "")
    }
    assert set(Vehicle.history.filter(id=everything.vehicle.pk).values_list("vin", "plate_no")) == {
        (f"ERASED-{everything.vehicle.pk:010d}", "")
    }
    # The desks' records and the club's.
    pk = everything.customer.pk
    erased_name = f"已删除客户 #{pk}"

    assert list(SatisfactionResult.objects.values_list("statement", flat=True)) == ["", ""]
    assert list(DeliveryInterview.objects.values_list("comment", flat=True)) == [""]
    assert list(DeliveryInterview.history.values_list("comment", flat=True)) == [""]
    prospect_fields = ("name", "mobile", "notes", "lost_note")
    assert list(Prospect.objects.values_list(*prospect_fields)) == [(erased_name, "", "", "")]
    assert set(Prospect.history.values_list(*prospect_fields)) == {(erased_name, "", "", "")}
    assert Prospect.history.count() == 4
    assert list(Appointment.objects.values_list("notes", "source_reference")) == [("", "")]
    assert list(Appointment.history.order_by("history_id").values_list("notes", "source_reference",
                                                                       "history_change_reason")) == [
        ("", "", None), ("", "", None)
    ]  # fmt: skip
    assert list(Membership.objects.values_list("card_no", flat=True)) == [f"ERASED-{pk}"]
    assert list(TierChange.objects.values_list("reason", flat=True)) == ["（已删除）"]
    assert list(PointsEntry.objects.values_list("note", flat=True)) == ["（已删除）"]
    assert list(WalletEntry.objects.values_list("note", flat=True)) == [""]
    referral_fields = ("prospect_name", "prospect_mobile", "lost_reason")
    assert list(Referral.objects.filter(won_customer_id=pk).values_list(*referral_fields)) == [(erased_name, "", "")]
    assert set(Referral.history.filter(id=everything.referral.pk).values_list(*referral_fields)) == {
        (erased_name, "", "")
    }
    # The referral they made is someone else's: it stays as it was.
    assert list(Referral.objects.filter(referrer_id=pk).values_list(*referral_fields)) == [
        ("韩梅梅", "13955550999", "")
    ]
    changed = AuditLog.objects.get(action="erase").detail["changed"]
    assert {key: changed[key] for key in (
        "satisfaction_results", "delivery_interviews", "prospects", "appointments", "club_memberships",
        "club_ledger_notes", "referrals_as_prospect",
    )} == {
        "satisfaction_results": 2, "delivery_interviews": 1, "prospects": 1, "appointments": 1,
        "club_memberships": 1, "club_ledger_notes": 3, "referrals_as_prospect": 1,
    }  # fmt: skip


def test_a_booking_keeps_the_reference_the_crm_wrote_and_the_reasons_it_gave(store_a, manager_a):
    customer = CustomerFactory(store=store_a, customer_no="C0417")
    vehicle = VehicleFactory(customer=customer)
    common = {"store": store_a, "customer": customer, "vehicle": vehicle, "slot": datetime.time(9, 0),
              "purpose": "maintenance", "notes": "客户要求上午"}  # fmt: skip
    Appointment.objects.create(**common, date=datetime.date(2026, 11, 23), source="call",
                               source_reference="followuptask:12")  # fmt: skip
    Appointment.objects.create(**common, date=datetime.date(2026, 11, 24), source="delivery",
                               source_reference="delivery:3")  # fmt: skip
    Appointment.objects.create(**common, date=datetime.date(2026, 11, 25), source="call",
                               source_reference="followuptask:12 13955550417")  # fmt: skip
    no_show = Appointment.objects.order_by("id").first()
    no_show.status = "no_show"
    no_show._change_reason = "no_show"
    no_show.save()

    customer_erase(customer=customer, user=manager_a, reason="客户申请")

    assert list(Appointment.objects.order_by("date").values_list("source_reference", "notes")) == [
        ("followuptask:12", ""), ("delivery:3", ""), ("", "")
    ]  # fmt: skip
    assert list(Appointment.history.order_by("history_id").values_list("history_change_reason", flat=True)) == [
        None,
        None,
        None,
        "no_show",
    ]


def test_a_tombstone_and_an_audit_row_are_left(client, manager_a, everything):
    erase_through_the_page(client, manager_a, everything.customer)

    tombstone = ErasedCustomer.objects.get()
    assert (tombstone.customer_id, tombstone.store_id, tombstone.customer_no, tombstone.mobile_hash,
            tombstone.vin_hashes, tombstone.reason, tombstone.erased_by) == (
        everything.customer.pk, everything.customer.store_id, "CA0417", tombstone_hash("13955550417"),
        [tombstone_hash(VIN)], "客户书面申请删除（2026-11-20）", manager_a,
    )  # fmt: skip
    assert len(tombstone.mobile_hash) == 64
    entry = AuditLog.objects.get(action="erase")
    assert (entry.actor, entry.object_type, entry.object_ids, entry.detail["reason"]) == (
        manager_a, "customers.customer", [str(everything.customer.pk)], "客户书面申请删除（2026-11-20）"
    )  # fmt: skip


def test_a_second_erasure_changes_nothing_and_says_so(client, manager_a, everything):
    erase_through_the_page(client, manager_a, everything.customer)
    card = Customer.objects.get(pk=everything.customer.pk)
    history_rows = Customer.history.filter(id=card.pk).count()

    with pytest.raises(ApplicationError, match=r"该客户已于 .* 删除，未作任何更改。"):
        customer_erase(customer=card, user=manager_a, reason="again")
    response = erase_through_the_page(client, manager_a, card, confirmation=card.customer_no)

    assert response.status_code == 302
    assert [str(message) for message in response.wsgi_request._messages] == [
        "客户已删除。",
        "该客户已被删除，未作任何更改。",
    ]
    assert (ErasedCustomer.objects.count(), AuditLog.objects.filter(action="erase").count()) == (1, 1)
    assert Customer.history.filter(id=card.pk).count() == history_rows


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"confirmation": "CA0418"}, "confirmation", "请准确输入所显示的客户编号以确认删除。"),
        ({"reason": "   "}, "reason", "请填写删除原因。"),
    ],
)
def test_a_wrong_confirmation_or_no_reason_erases_nothing(client, manager_a, everything, data, field, message):
    response = erase_through_the_page(client, manager_a, everything.customer, **data)

    assert response.status_code == 400
    assert response.context["form"].errors[field] == [message]
    assert Customer.objects.get(pk=everything.customer.pk).name == "王芳"
    assert (ErasedCustomer.objects.count(), AuditLog.objects.filter(action="erase").count()) == (0, 0)


def test_staff_without_the_permission_get_403_and_another_stores_manager_404(client, advisor_a, manager_b, everything):
    refused = erase_through_the_page(client, advisor_a, everything.customer)
    hidden = erase_through_the_page(client, manager_b, everything.customer)

    assert (refused.status_code, hidden.status_code) == (403, 404)
    assert Customer.objects.get(pk=everything.customer.pk).name == "王芳"
    assert ErasedCustomer.objects.count() == 0


def test_the_erasure_page_asks_for_the_typed_confirmation(client, manager_a, everything):
    client.force_login(manager_a)

    response = client.get(reverse("customers:erase", args=[everything.customer.pk]))

    assert response.status_code == 200
    assert sorted(response.context["form"].fields) == ["confirmation", "reason"]
    warning = response.content.decode().split('<p class="warn">')[1].split("</p>")[0]
    assert warning == (
        "删除后无法恢复。客户卡将被匿名化（姓名、电话、生日、地址、工作单位、备注、短信内容和回复、回访记录、满意度回答、"
        "交车面访意见、其购车前的潜客和转介绍记录、预约备注、会员卡号及会员备注、投诉内容、VIN码和车牌号均被删除，"
        "变更历史中也一并删除）；工单金额和日期、车型、评分、状态和积分保留用于统计。下次DMS导入不会再导入该客户。"
    )


# --- the next DMS import ------------------------------------------------------------------------


def test_the_next_dms_import_does_not_bring_an_erased_customer_back(store_a, manager_a, tmp_path):
    vin, other_vin = make_vin(417), make_vin(418)
    customers = write_csv(tmp_path / "c.csv", [
        customer_row("C0417", 客户姓名="王芳", 手机号码="13955550417"),
        customer_row("C0418", 客户姓名="李雷", 手机号码="13955550418"),
    ])  # fmt: skip
    vehicles = write_csv(tmp_path / "v.csv", [vehicle_row(vin, "C0417"), vehicle_row(other_vin, "C0418")])
    orders = write_csv(tmp_path / "r.csv", [repair_row("RO0417", vin), repair_row("RO0418", other_vin)])
    for kind, path in (("customers", customers), ("vehicles", vehicles), ("repair_orders", orders)):
        run_import(kind, path)
    customer_erase(customer=Customer.objects.get(customer_no="C0417"), user=manager_a, reason="客户申请")
    ImportIssue.objects.all().delete()

    summaries = [run_import(kind, path) for kind, path in
                 (("customers", customers), ("vehicles", vehicles), ("repair_orders", orders))]  # fmt: skip

    assert summaries == ["created=0 updated=0 unchanged=1 rejected=1 warnings=0"] * 3
    reason = "The customer was erased at their request: the row is not imported"
    assert list(ImportIssue.objects.order_by("batch_id").values_list("row_number", "reason")) == [(2, reason)] * 3
    assert not Customer.objects.filter(name="王芳").exists()
    assert not Customer.objects.filter(mobile="13955550417").exists()
    assert not Vehicle.objects.filter(vin=vin).exists()
    assert RepairOrder.objects.get(ro_no="RO0417").vehicle.vin.startswith("ERASED-")


def test_a_new_customer_number_with_the_erased_mobile_in_the_same_store_is_rejected(store_a, store_b, manager_a,
                                                                                   tmp_path):  # fmt: skip
    run_import("customers", write_csv(tmp_path / "c.csv", [customer_row("C0417", 手机号码="13955550417")]))
    customer_erase(customer=Customer.objects.get(customer_no="C0417"), user=manager_a, reason="客户申请")

    summary = run_import("customers", write_csv(tmp_path / "again.csv", [
        customer_row("C9417", 手机号码="13955550417"),
        customer_row("C9418", 手机号码="13955550417", 所属门店="NJ02"),
    ]))  # fmt: skip

    assert summary == "created=1 updated=0 unchanged=0 rejected=1 warnings=0"
    assert list(Customer.objects.filter(mobile="13955550417").values_list("customer_no", flat=True)) == ["C9418"]
    assert json.dumps(list(ImportIssue.objects.values_list("row_number", flat=True))) == "[2]"


# --- the tombstones' key ------------------------------------------------------------------------


def test_rotating_secret_key_does_not_bring_an_erased_customer_back(store_a, manager_a, tmp_path, settings):
    vin = make_vin(417)
    customers = write_csv(tmp_path / "c.csv", [customer_row("C0417", 手机号码="13955550417")])
    orders = write_csv(tmp_path / "r.csv", [repair_row("RO0417", vin)])
    run_import("customers", customers)
    run_import("vehicles", write_csv(tmp_path / "v.csv", [vehicle_row(vin, "C0417")]))
    run_import("repair_orders", orders)
    customer_erase(customer=Customer.objects.get(customer_no="C0417"), user=manager_a, reason="客户申请")
    before = ErasedCustomer.objects.get()
    ImportIssue.objects.all().delete()

    settings.SECRET_KEY = "a-rotated-secret-key-" + "y" * 50
    # A new customer number with the erased mobile, and the erased car's repair order, are matched
    # by their hashes only.
    summaries = [
        run_import("customers", write_csv(tmp_path / "again.csv", [customer_row("C9417", 手机号码="13955550417")])),
        run_import("repair_orders", orders),
    ]

    assert summaries == ["created=0 updated=0 unchanged=0 rejected=1 warnings=0"] * 2
    reason = "The customer was erased at their request: the row is not imported"
    assert list(ImportIssue.objects.order_by("batch_id").values_list("row_number", "reason")) == [(2, reason)] * 2
    assert not Customer.objects.filter(mobile="13955550417").exists()
    assert (tombstone_hash("13955550417"), [tombstone_hash(vin)]) == (before.mobile_hash, before.vin_hashes)


def test_the_tombstones_key_is_kept_in_the_database_unless_a_setting_names_one(settings):
    import importlib

    from django.apps import apps

    ErasureHashKey.objects.all().delete()  # a flushing test elsewhere may have removed it already
    importlib.import_module("customers.migrations.0013_erasure_hash_key").keep_the_current_key(apps, None)
    stored = ErasureHashKey.objects.get()
    assert stored.key == derived_erasure_key()

    settings.SECRET_KEY = "a-rotated-secret-key-" + "y" * 50
    assert derived_erasure_key() != stored.key
    assert tombstone_pepper() == stored.key

    hashed_with_the_stored_key = tombstone_hash("13955550417")
    settings.ERASURE_HASH_KEY = "k" * 40
    assert tombstone_pepper() == "k" * 40
    assert tombstone_hash("13955550417") != hashed_with_the_stored_key


def test_the_tombstones_key_is_derived_once_on_first_use_when_missing(settings):
    ErasureHashKey.objects.all().delete()
    first = tombstone_pepper()
    settings.SECRET_KEY = "a-rotated-secret-key-" + "y" * 50

    assert (first, tombstone_pepper(), ErasureHashKey.objects.count()) == (first, first, 1)


# --- import artefacts ---------------------------------------------------------------------------


def _csv_rows(data: bytes, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(encoding))))


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_erasure_clears_the_uploaded_file_the_rejected_rows_and_the_issues(
    store_a, manager_a, tmp_path, media, django_capture_on_commit_callbacks
):
    rows = [
        customer_row("C0417", 客户姓名="王芳", 手机号码="13955550417"),
        customer_row("C0418", 客户姓名="李雷", 手机号码="13955550418"),
        customer_row("", 客户姓名="王芳", 手机号码="+86 139-5555-0417"),  # rejected: no customer number
        customer_row("", 客户姓名="韩梅梅", 手机号码="13955550419"),  # rejected too
    ]
    source = write_csv(tmp_path / "c.csv", rows, encoding="gbk")
    run_import("customers", source)
    batch = ImportBatch.objects.get()
    batch.source_file.save("c.csv", ContentFile(source.read_bytes()))
    old_source, old_errors = Path(batch.source_file.path), Path(batch.errors_file.path)
    ImportIssue.objects.create(
        batch=batch, row_number=2, column="生日", value="1985-04-17", reason="r", severity="warning"
    )
    ImportIssue.objects.create(
        batch=batch, row_number=3, column="生日", value="1986-05-18", reason="r", severity="warning"
    )
    ImportIssue.objects.create(batch=batch, row_number=4, column="性别", value="女士", reason="r", severity="warning")
    ImportIssue.objects.create(batch=batch, row_number=5, column="性别", value="先生", reason="r", severity="warning")
    other = ImportBatch.objects.create(kind="vehicles", file_name="v.csv")
    ImportIssue.objects.create(
        batch=other, row_number=9, column="VIN码", value="13955550417", reason="r", severity="error"
    )
    issues_before = ImportIssue.objects.count()

    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(customer=Customer.objects.get(customer_no="C0417"), user=manager_a, reason="客户申请")

    batch.refresh_from_db()
    header, *kept = _csv_rows(batch.source_file.read(), "gbk")
    assert [row[:3] for row in kept] == [["", "", ""], ["C0418", "李雷", "男"], ["", "", ""], ["", "韩梅梅", "男"]]
    assert len(kept[0]) == len(header)
    assert (old_source.exists(), old_errors.exists()) == (False, False)
    _header, *rejected = _csv_rows(batch.errors_file.read(), "utf-8-sig")
    assert [(row[1], row[-2]) for row in rejected] == [("韩梅梅", "5")]
    issues = ImportIssue.objects.order_by("batch_id", "row_number", "column", "id")
    assert list(issues.values_list("row_number", "column", "value")) == [
        (2, "生日", ""),
        (3, "生日", "1986-05-18"),
        (4, "客户编号", ""),
        (4, "性别", ""),
        (5, "客户编号", ""),
        (5, "性别", "先生"),
        (9, "VIN码", ""),
    ]
    assert ImportIssue.objects.count() == issues_before
    erasure = AuditLog.objects.get(action="erase")
    assert erasure.detail["changed"]["import_files"] == 2


def test_a_rejected_rows_file_holding_only_the_person_is_removed(store_a, manager_a, tmp_path, media,
                                                                 django_capture_on_commit_callbacks):  # fmt: skip
    rows = [customer_row("C0417", 手机号码="13955550417"), customer_row("", 手机号码="13955550417")]
    run_import("customers", write_csv(tmp_path / "c.csv", rows))
    batch = ImportBatch.objects.get()
    old_errors = Path(batch.errors_file.path)

    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(customer=Customer.objects.get(customer_no="C0417"), user=manager_a, reason="客户申请")

    batch.refresh_from_db()
    assert (batch.errors_file.name, batch.rejected_count, old_errors.exists()) == ("", 1, False)


def test_an_uploaded_xlsx_file_keeps_its_rows_but_the_persons(store_a, manager_a, media,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    import openpyxl

    customer = CustomerFactory(store=store_a, customer_no="C0417", mobile="13955550417")
    VehicleFactory(customer=customer, vin=VIN)
    workbook = openpyxl.Workbook()
    workbook.active.append(["工单号", "VIN码", "结算金额"])
    workbook.active.append(["RO1", VIN.lower(), 500])
    workbook.active.append(["RO2", "LGBH52E0000000002", 300])
    buffer = io.BytesIO()
    workbook.save(buffer)
    batch = ImportBatch.objects.create(kind="repair_orders", file_name="r.xlsx", status="done")
    batch.source_file.save("r.xlsx", ContentFile(buffer.getvalue()))

    with django_capture_on_commit_callbacks(execute=True):
        customer_erase(customer=customer, user=manager_a, reason="客户申请")

    batch.refresh_from_db()
    sheet = openpyxl.load_workbook(batch.source_file.path).worksheets[0]
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        ["工单号", "VIN码", "结算金额"],
        [None, None, None],
        ["RO2", "LGBH52E0000000002", 300],
    ]


def test_a_running_import_and_other_customers_files_are_left_alone(store_a, manager_a, media):
    customer = CustomerFactory(store=store_a, customer_no="C0417", mobile="13955550417")
    running = ImportBatch.objects.create(kind="customers", file_name="a.csv", status="running")
    running.source_file.save("a.csv", ContentFile("客户编号,手机号码\nC0417,13955550417\n".encode()))
    unrelated = ImportBatch.objects.create(kind="customers", file_name="b.csv", status="done")
    unrelated.source_file.save("b.csv", ContentFile("客户编号,手机号码\nC0418,13955550418\n".encode()))
    names = (running.source_file.name, unrelated.source_file.name)

    customer_erase(customer=customer, user=manager_a, reason="客户申请")

    assert tuple(ImportBatch.objects.order_by("pk").values_list("source_file", flat=True)) == names


def test_the_history_of_a_car_the_customer_once_owned_loses_its_vin_and_plate(store_a, manager_a):
    customer = CustomerFactory(store=store_a, customer_no="C0417")
    buyer = CustomerFactory(store=store_a, customer_no="C0500")
    car = VehicleFactory(customer=customer, vin=VIN, plate_no="苏A0417X")
    car.customer, car.plate_no = buyer, "苏A0500B"
    car.save()

    customer_erase(customer=customer, user=manager_a, reason="客户申请")

    history = list(
        Vehicle.history.filter(id=car.pk).order_by("history_id").values_list("customer_id", "vin", "plate_no")
    )
    placeholder = f"ERASED-{car.pk:010d}"
    assert history == [(customer.pk, placeholder, ""), (buyer.pk, VIN, "苏A0500B")]
    assert Vehicle.objects.values_list("vin", "plate_no").get(pk=car.pk) == (VIN, "苏A0500B")


def test_a_short_erasure_hash_key_stops_start_up_with_one_line():
    from tests.crm.test_settings import PRODUCTION_ENV, run_manage

    result = run_manage("check", env={**PRODUCTION_ENV, "ERASURE_HASH_KEY": "short"})

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "Configuration error: ERASURE_HASH_KEY is too short: use at least 32 random characters."
    ]
