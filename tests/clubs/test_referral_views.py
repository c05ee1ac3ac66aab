"""The referral pages: the panel on the referrer's card, the prospects' list with its stage changes,
staff referrals, the referral-sales report. Permissions per role, store scoping, messages in
Chinese (the default language) and pinned query counts."""

import datetime
import io
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from clubs.choices import ReferralStage
from clubs.models import Referral
from clubs.selectors import ReferralMonth
from clubs.services import referral_record
from crm.choices import AuditAction, Role
from crm.models import AuditLog
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    """Today is 2 December 2026 (Beijing time), whenever the tests run."""
    with time_machine.travel(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=True):
        yield


D = datetime.date
LIST = reverse("clubs:referral_list")
NEW = reverse("clubs:referral_create")
REPORT = reverse("clubs:referral_report")


@pytest.fixture
def referrer(store_a):
    customer = CustomerFactory(store=store_a, customer_no="R1", name="王芳", mobile="13700000001")
    VehicleFactory(customer=customer, delivery_date=D(2024, 1, 10))
    return customer


LAST_MONTH = D(2026, 11, 1)
BAD_MOBILE = "请输入被介绍人的手机号：11位大陆手机号，例如 138 0013 8000。"


def refer(user, mobile, *, referrer=None, staff=None, consultant=None, name="李娜", on=LAST_MONTH, **kwargs):
    return referral_record(
        user=user, referrer=referrer, referrer_staff=staff, prospect_name=name, prospect_mobile=mobile,
        consultant=consultant, referred_on=on, **kwargs,
    )  # fmt: skip


def texts(response) -> str:
    return response.content.decode()


# --- who may do what ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "list_status", "new_status", "report_status"),
    [
        ("advisor_a", 200, 200, 403),
        ("sales_a", 200, 200, 403),
        ("agent_a", 200, 200, 403),
        ("manager_a", 200, 200, 200),
        ("admin_user", 200, 200, 200),  # admins hold what they grant (crm.admin)
    ],
)
def test_each_role_sees_the_pages_it_should(client, request, persona, list_status, new_status, report_status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(LIST).status_code == list_status
    assert client.get(NEW).status_code == new_status
    assert client.get(REPORT).status_code == report_status


def test_the_navigation_names_the_pages(client, sales_a, manager_a):
    client.force_login(sales_a)
    page = texts(client.get(LIST))
    assert f'<a href="{LIST}" aria-current="page">转介绍</a>' in page
    assert f'href="{REPORT}"' not in page
    client.force_login(manager_a)
    page = texts(client.get(LIST))
    assert f'<a href="{REPORT}">转介绍销售</a>' in page


def test_only_sales_consultants_and_managers_move_a_prospect(client, advisor_a, sales_a, manager_a, referrer):
    referral = refer(manager_a, "13900000001", referrer=referrer)
    url = reverse("clubs:referral_stage", args=[referral.pk])
    client.force_login(advisor_a)
    assert client.post(url, {"stage": "contacted"}).status_code == 403
    referral.refresh_from_db()
    assert referral.stage == ReferralStage.NEW
    client.force_login(sales_a)
    response = client.post(f"{url}?stage=all&consultant=", {"stage": "contacted"})
    assert (response.status_code, response["Location"]) == (302, f"{LIST}?stage=all&consultant=")
    referral.refresh_from_db()
    assert referral.stage == ReferralStage.CONTACTED
    assert [str(message) for message in response.wsgi_request._messages] == ["李娜：已联系。"]


# --- recording on the referrer's card -----------------------------------------------------------


def test_the_card_panel_records_a_referral_and_lists_it(client, advisor_a, sales_a, referrer):
    card = reverse("customers:detail", args=[referrer.pk])
    client.force_login(advisor_a)
    page = texts(client.get(card))
    assert 'data-panel="referrals"' in page
    assert "该客户尚未介绍过潜客。" in page
    assert f'action="{NEW}?customer={referrer.pk}"' in page
    assert f'<option value="{sales_a.pk}">王明</option>' in page
    response = client.post(
        f"{NEW}?customer={referrer.pk}",
        {"prospect_name": " 李娜 ", "prospect_mobile": "+86 139 0000 0001", "intended_model": "天籁",
         "consultant": sales_a.pk},
    )  # fmt: skip
    assert (response.status_code, response["Location"]) == (302, card)
    referral = Referral.objects.get()
    assert (
        referral.store_id, referral.referrer, referral.referrer_staff, referral.prospect_name,
        referral.prospect_mobile, referral.intended_model, referral.consultant, referral.stage, referral.recorded_by,
    ) == (referrer.store_id, referrer, None, "李娜", "13900000001", "天籁", sales_a, "new", advisor_a)  # fmt: skip
    page = texts(client.get(card))
    assert "已登记 李娜 的转介绍。" in page
    assert "139****0001" in page
    assert "13900000001" not in page  # on the card the prospect's number stays masked
    assert '<span class="badge" data-stage="new">新线索</span>' in page


def test_a_won_referral_shows_the_car_on_the_card(client, store_a, manager_a, referrer):
    call_command("club_start", "--store", store_a.code, "--date", "2025-01-01", stdout=io.StringIO())
    refer(manager_a, "13900000001", referrer=referrer, on=D(2025, 3, 1))
    buyer = CustomerFactory(store=store_a, mobile="13900000001")
    VehicleFactory(customer=buyer, delivery_date=D(2025, 4, 2), plate_no="苏A12345", series="天籁")
    call_command("club_run", "--date", "2025-04-30", stdout=io.StringIO())
    client.force_login(manager_a)
    page = texts(client.get(reverse("customers:detail", args=[referrer.pk])))
    assert (
        '<span class="badge ok" data-stage="won">已成交</span> <span data-won>苏A12345 天籁，2025-04-02 提车</span>'
        in page
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"prospect_name": "李娜", "prospect_mobile": "1390000"},
            "请输入被介绍人的手机号：11位大陆手机号，例如 138 0013 8000。",
        ),
        (
            {"prospect_name": "李娜", "prospect_mobile": "025-84561234"},
            "请输入被介绍人的手机号：11位大陆手机号，例如 138 0013 8000。",
        ),
        ({"prospect_name": "", "prospect_mobile": "13900000001"}, "请输入被介绍人的姓名。"),
        ({"prospect_name": "李娜", "prospect_mobile": ""}, "请输入被介绍人的手机号。"),
        ({"prospect_name": "李娜", "prospect_mobile": "13700000001"}, "客户不能介绍自己的手机号。"),
        (
            {"prospect_name": "李娜", "prospect_mobile": "13900000001", "consultant": "999999"},
            "请从本店销售顾问中选择。",
        ),
    ],
)
def test_bad_input_is_answered_with_a_clear_message(client, advisor_a, referrer, data, message):
    client.force_login(advisor_a)
    response = client.post(f"{NEW}?customer={referrer.pk}", data)
    assert response.status_code == 400
    assert message in texts(response)
    assert Referral.objects.count() == 0


def test_an_owners_number_is_refused_on_the_page(client, advisor_a, store_a, referrer):
    VehicleFactory(customer=CustomerFactory(store=store_a, mobile="13900000001"), delivery_date=D(2025, 1, 1))
    client.force_login(advisor_a)
    response = client.post(f"{NEW}?customer={referrer.pk}", {"prospect_name": "李娜", "prospect_mobile": "13900000001"})
    assert response.status_code == 400
    assert "该手机号属于已提车的老客户" in texts(response)
    assert Referral.objects.count() == 0


def test_another_stores_customer_is_not_found(client, manager_b, referrer):
    client.force_login(manager_b)
    data = {"prospect_name": "李娜", "prospect_mobile": "13900000001"}
    assert client.get(f"{NEW}?customer={referrer.pk}").status_code == 404
    assert client.post(f"{NEW}?customer={referrer.pk}", data).status_code == 404
    assert client.post(f"{NEW}?customer=abc", data).status_code == 404
    assert Referral.objects.count() == 0


def test_a_staff_referral_is_recorded_from_the_list(client, sales_a, agent_a):
    client.force_login(sales_a)
    page = texts(client.get(NEW))
    assert "登记员工转介绍" in page
    assert 'name="referrer_staff"' in page
    data = {"prospect_name": "周杰", "prospect_mobile": "13900000002", "referrer_staff": agent_a.pk}
    response = client.post(NEW, {**data, "consultant": sales_a.pk})
    assert (response.status_code, response["Location"]) == (302, LIST)
    referral = Referral.objects.get()
    assert (referral.referrer, referral.referrer_staff, referral.consultant, referral.store_id) == (
        None, agent_a, sales_a, sales_a.stores.get().pk,
    )  # fmt: skip
    response = client.post(NEW, {"prospect_name": "周杰", "prospect_mobile": "13900000003"})
    assert response.status_code == 400
    assert "请选择介绍该潜客的员工。" in texts(response)


# --- the prospects' list ------------------------------------------------------------------------


@pytest.fixture
def prospects(store_a, store_b, manager_a, manager_b, sales_a, referrer):
    other_sales = UserFactory(username="sales_a2", last_name="陈", first_name="静", role=Role.SALES_CONSULTANT,
                              stores=[store_a])  # fmt: skip
    referrer_b = CustomerFactory(store=store_b, customer_no="RB")
    return {
        "mine": refer(manager_a, "13900000001", referrer=referrer, consultant=sales_a, name="李娜", on=D(2026, 11, 3)),
        "unassigned": refer(manager_a, "13900000002", referrer=referrer, name="周杰", on=D(2026, 11, 2)),
        "other": refer(manager_a, "13900000003", staff=other_sales, consultant=other_sales, name="吴磊"),
        "store_b": refer(manager_b, "13900000004", referrer=referrer_b, name="郑爽"),
    }


def listed(response) -> list[str]:
    return [row["referral"].prospect_name for row in response.context["rows"]]


def test_a_sales_consultant_sees_their_own_prospects_first(client, sales_a, prospects):
    client.force_login(sales_a)
    response = client.get(LIST)
    assert listed(response) == ["李娜"]
    assert listed(client.get(LIST, {"consultant": ""})) == ["李娜", "周杰", "吴磊"]
    assert listed(client.get(LIST, {"consultant": "none"})) == ["周杰"]
    other = prospects["other"].consultant_id
    assert listed(client.get(LIST, {"consultant": str(other)})) == ["吴磊"]
    assert listed(client.get(LIST, {"consultant": "bogus"})) == ["李娜"]


def test_the_list_is_scoped_filtered_and_searched(client, manager_a, manager_b, sales_a, prospects):
    client.force_login(manager_b)
    assert listed(client.get(LIST)) == ["郑爽"]
    referral_a = prospects["mine"]
    assert client.post(reverse("clubs:referral_stage", args=[referral_a.pk]), {"stage": "contacted"}).status_code == 404
    client.force_login(manager_a)
    assert listed(client.get(LIST)) == ["李娜", "周杰", "吴磊"]
    assert listed(client.get(LIST, {"q": "周"})) == ["周杰"]
    assert listed(client.get(LIST, {"q": "139 0000 0003"})) == ["吴磊"]
    assert listed(client.get(LIST, {"q": "0003"})) == []  # digits find a whole number only
    client.force_login(sales_a)
    client.post(reverse("clubs:referral_stage", args=[referral_a.pk]), {"stage": "lost", "lost_reason": "已在别家购车"})
    client.force_login(manager_a)
    assert listed(client.get(LIST)) == ["周杰", "吴磊"]
    assert listed(client.get(LIST, {"stage": "lost"})) == ["李娜"]
    assert listed(client.get(LIST, {"stage": "all"})) == ["李娜", "周杰", "吴磊"]
    assert listed(client.get(LIST, {"stage": "nonsense"})) == ["周杰", "吴磊"]


def test_numbers_are_masked_but_for_managers_and_every_reveal_is_audited(
    client, advisor_a, sales_a, manager_a, prospects
):
    for persona in (advisor_a, sales_a):
        client.force_login(persona)
        page = texts(client.get(LIST, {"consultant": ""}))
        assert '<span class="phone" data-mobile>139****0001</span>' in page
        assert "13900000001" not in page
    assert not AuditLog.objects.filter(action=AuditAction.VIEW_UNMASKED_PHONE).exists()
    client.force_login(manager_a)
    page = texts(client.get(LIST))
    assert '<span class="phone" data-mobile>13900000001</span>' in page
    audit = AuditLog.objects.get(action=AuditAction.VIEW_UNMASKED_PHONE)
    shown = sorted(str(prospects[key].pk) for key in ("mine", "unassigned", "other"))
    assert (audit.actor, audit.object_type, sorted(audit.object_ids)) == (manager_a, "clubs.referral", shown)


def test_the_consultant_dials_the_prospect_through_the_app(client, advisor_a, sales_a, manager_b, prospects):
    referral = prospects["mine"]
    url = reverse("clubs:referral_dial", args=[referral.pk])
    client.force_login(sales_a)
    assert f'action="{url}"' in texts(client.get(LIST))
    response = client.post(url)
    assert (response.status_code, response["Location"]) == (302, "tel:13900000001")
    audit = AuditLog.objects.get(action=AuditAction.VIEW_UNMASKED_PHONE)
    assert (audit.actor, audit.object_ids, audit.detail) == (
        sales_a, [str(referral.pk)], {"path": url, "purpose": "dial"},
    )  # fmt: skip
    assert client.get(url).status_code == 405
    client.force_login(advisor_a)
    assert client.post(url).status_code == 403
    client.force_login(manager_b)
    assert client.post(url).status_code == 404
    assert AuditLog.objects.filter(action=AuditAction.VIEW_UNMASKED_PHONE).count() == 1


def test_a_confidential_referrers_name_is_not_shown_to_the_store(client, sales_a, store_a, manager_a):
    secret = CustomerFactory(store=store_a, name="秦总", confidentiality="confidential")
    refer(manager_a, "13900000001", referrer=secret, consultant=sales_a)
    client.force_login(sales_a)
    page = texts(client.get(LIST))
    assert "秦总" not in page
    assert "一位客户" in page
    client.force_login(manager_a)
    assert "秦总" in texts(client.get(LIST))


def test_a_bad_stage_change_is_explained_and_changes_nothing(client, sales_a, prospects):
    referral = prospects["mine"]
    url = reverse("clubs:referral_stage", args=[referral.pk])
    client.force_login(sales_a)
    response = client.post(url, {"stage": "lost", "lost_reason": "  "})
    assert response.status_code == 400
    assert "李娜: 请填写战败原因。" in texts(response)
    response = client.post(url, {"stage": "won"})
    assert response.status_code == 400
    assert "阶段: 请选择一个阶段。" in texts(response)
    referral.refresh_from_db()
    assert (referral.stage, referral.lost_reason, referral.history.count()) == ("new", "", 1)
    assert client.get(url).status_code == 405


def test_the_list_runs_a_fixed_number_of_queries(client, sales_a, manager_a, referrer, django_assert_num_queries):
    for number in range(3):
        refer(manager_a, f"1390000000{number}", referrer=referrer, consultant=sales_a, name=f"客户{number}")
    client.force_login(sales_a)
    # session, the user (role, permissions, stores), count, page, referrers visible, consultants, stores…
    with django_assert_num_queries(7):
        assert client.get(LIST).status_code == 200
    for number in range(3, 9):
        refer(manager_a, f"1390000000{number}", referrer=referrer, consultant=sales_a, name=f"客户{number}")
    with django_assert_num_queries(7):
        response = client.get(LIST)
    assert len(response.context["rows"]) == 9


# --- the referral-sales report ------------------------------------------------------------------


@pytest.fixture
def sales_history(store_a, manager_a, sales_a, referrer):
    call_command("club_start", "--store", store_a.code, "--date", "2025-01-01", stdout=io.StringIO())
    refer(manager_a, "13900000001", referrer=referrer, on=D(2025, 5, 20))
    refer(manager_a, "13900000002", staff=sales_a, on=D(2025, 6, 2))
    for mobile, day in (
        ("13900000001", D(2025, 6, 5)),
        ("13900000002", D(2025, 6, 20)),
        ("13900000009", D(2025, 6, 9)),
    ):
        VehicleFactory(customer=CustomerFactory(store=store_a, mobile=mobile), delivery_date=day)
    call_command("club_run", "--date", "2025-06-30", stdout=io.StringIO())


def test_the_report_shows_the_months_of_the_period(
    client, manager_a, store_a, sales_history, django_assert_num_queries
):
    client.force_login(manager_a)
    with django_assert_num_queries(6):  # session, user, TOTP device, permissions, stores (x2), the report
        response = client.get(REPORT, {"first_month": "2025-05", "last_month": "2025-06"})
    assert response.status_code == 200
    assert response.context["report"].rows == [
        ReferralMonth(D(2025, 5, 1), "NJ01", store_a.name, recorded=1, won=0, deliveries=0, points=0),
        ReferralMonth(D(2025, 6, 1), "NJ01", store_a.name, recorded=1, won=2, deliveries=3, points=500),
    ]
    page = texts(response)
    assert '<td class="number" data-label="占交车比例" data-cell="share">66.7%</td>' in page
    assert response.context["chart"]["share"] == [None, 66.7]


def test_the_report_defaults_to_the_last_twelve_months_and_explains_a_bad_period(client, manager_a):
    client.force_login(manager_a)
    response = client.get(REPORT)
    report = response.context["report"]
    assert (report.first_month, report.last_month, len(report.totals)) == (D(2026, 1, 1), D(2026, 12, 1), 12)
    response = client.get(REPORT, {"first_month": "2025-13"})
    assert response.status_code == 400
    assert "请按YYYY-MM格式输入月份，例如2026-03。" in texts(response)
    response = client.get(REPORT, {"first_month": "2026-06", "last_month": "2026-01"})
    assert response.status_code == 400
    assert "起始月份不能晚于截止月份。" in texts(response)
    assert client.get(REPORT, {"first_month": "9999-12"}).status_code == 400


def test_another_stores_manager_sees_only_their_store_in_the_report(client, manager_b, store_a, sales_history):
    client.force_login(manager_b)
    response = client.get(REPORT, {"first_month": "2025-06", "last_month": "2025-06"})
    assert [(row.store_code, row.won) for row in response.context["report"].rows] == [("NJ02", 0)]
    response = client.get(REPORT, {"store": store_a.pk, "first_month": "2025-06", "last_month": "2025-06"})
    assert response.status_code == 400


def test_a_prospect_is_assigned_to_a_consultant_of_its_store(client, store_b, advisor_a, sales_a, manager_a, prospects):
    referral = prospects["unassigned"]
    url = reverse("clubs:referral_assign", args=[referral.pk])
    client.force_login(advisor_a)
    assert client.post(url, {"consultant": sales_a.pk}).status_code == 403
    client.force_login(manager_a)
    response = client.post(f"{url}?consultant=none", {"consultant": sales_a.pk})
    assert (response.status_code, response["Location"]) == (302, f"{LIST}?consultant=none")
    assert [str(message) for message in response.wsgi_request._messages] == ["周杰：已分配给 王明。"]
    referral.refresh_from_db()
    assert referral.consultant == sales_a
    assert referral.history.order_by("-history_id").values_list("consultant", "history_user").first() == (
        sales_a.pk, manager_a.pk,
    )  # fmt: skip
    sales_b = UserFactory(username="sales_b", role=Role.SALES_CONSULTANT, stores=[store_b])
    response = client.post(url, {"consultant": sales_b.pk})
    assert response.status_code == 400
    assert "周杰: 销售顾问: 请从本店销售顾问中选择。" in texts(response)
    response = client.post(url, {"consultant": ""})
    assert [str(message) for message in response.wsgi_request._messages] == ["周杰：已取消分配。"]
    referral.refresh_from_db()
    assert referral.consultant is None
