"""The prospects' pages: who may do what, store scope (store B sees nothing of store A), the list's
search, filters, own-first order, masked phones and pinned query count, recording with messages in
Chinese, the status buttons and the history."""

import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse

from crm.choices import AuditAction
from crm.models import AuditLog
from customers.models import Prospect
from customers.services.prospects import prospect_advance, prospect_create
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

D = datetime.date
LIST = reverse("customers:prospect_list")
NEW = reverse("customers:prospect_create")


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime.datetime(2026, 12, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")), tick=True):
        yield


def record(user, mobile="13900000001", *, name="李娜", source="showroom", **kwargs) -> Prospect:
    return prospect_create(user=user, name=name, mobile=mobile, source=source, **kwargs)


def texts(response) -> str:
    return response.content.decode()


# --- who may do what ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "list_status", "new_status"),
    [
        ("sales_a", 200, 200),
        ("manager_a", 200, 200),
        ("advisor_a", 403, 200),
        ("agent_a", 403, 200),
    ],
)
def test_who_sees_the_pages(client, request, persona, list_status, new_status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(LIST).status_code == list_status
    assert client.get(NEW).status_code == new_status


def test_an_advisor_records_a_walk_in_but_cannot_move_it(client, advisor_a, sales_a):
    client.force_login(advisor_a)
    response = client.post(
        NEW, {"name": "赵六", "mobile": "139 0000 0009", "source": "showroom", "consultant": sales_a.pk}
    )
    assert (response.status_code, response.url) == (302, NEW)
    prospect = Prospect.objects.get()
    assert (prospect.mobile, prospect.consultant, prospect.recorded_by) == ("13900000009", sales_a, advisor_a)
    response = client.post(reverse("customers:prospect_status", args=[prospect.pk]), {"status": "contacted"})
    assert response.status_code == 403
    prospect.refresh_from_db()
    assert (prospect.status, prospect.history.count()) == ("new", 1)


def test_store_b_sees_nothing_of_store_a(client, sales_a, manager_b):
    prospect = record(sales_a, consultant=sales_a)
    client.force_login(manager_b)
    response = client.get(LIST, {"status": "all"})
    assert response.context["page"].paginator.count == 0
    assert "李娜" not in texts(response)
    assert client.get(reverse("customers:prospect_detail", args=[prospect.pk])).status_code == 404
    for name, data in (("prospect_status", {"status": "contacted"}), ("prospect_assign", {"consultant": ""})):
        assert client.post(reverse(f"customers:{name}", args=[prospect.pk]), data).status_code == 404
    assert client.post(reverse("customers:prospect_dial", args=[prospect.pk])).status_code == 404
    prospect.refresh_from_db()
    assert (prospect.status, prospect.consultant, prospect.history.count()) == ("new", sales_a, 1)


# --- recording --------------------------------------------------------------------------------------


def test_recording_a_prospect_opens_it(client, sales_a):
    client.force_login(sales_a)
    form = client.get(NEW).context["form"]
    assert form.initial == {"consultant": sales_a.pk}
    response = client.post(
        NEW, {"name": "钱七", "mobile": "+86 13900000007", "intended_model": "天籁", "source": "online",
              "consultant": sales_a.pk, "notes": "想要白色"},
        follow=True,
    )  # fmt: skip
    prospect = Prospect.objects.get()
    assert response.redirect_chain == [(reverse("customers:prospect_detail", args=[prospect.pk]), 302)]
    assert "潜在客户钱七已登记。" in texts(response)
    assert (prospect.source, prospect.intended_model, prospect.notes) == ("online", "天籁", "想要白色")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "mobile": "13900000001", "source": "showroom"}, "请输入潜在客户的姓名。"),
        ({"name": "李娜", "mobile": "", "source": "showroom"}, "请输入潜在客户的手机号。"),
        ({"name": "李娜", "mobile": "12345", "source": "showroom"}, "请输入潜在客户的手机号：11位大陆手机号"),
        ({"name": "李娜", "mobile": "13900000001", "source": ""}, "请选择潜在客户的来源。"),
        ({"name": "李娜", "mobile": "13900000001", "source": "tv"}, "请选择潜在客户的来源。"),
    ],
)
def test_bad_input_gets_a_message_and_records_nothing(client, sales_a, data, message):
    client.force_login(sales_a)
    response = client.post(NEW, data)
    assert response.status_code == 400
    assert message in texts(response)
    assert Prospect.objects.count() == 0


def test_a_duplicate_mobile_names_the_open_prospect(client, sales_a, advisor_a):
    record(sales_a, consultant=sales_a)
    client.force_login(advisor_a)
    response = client.post(NEW, {"name": "李女士", "mobile": "13900000001", "source": "phone"})
    assert response.status_code == 400
    assert "该手机号已是本店的在跟潜在客户：李娜，登记于 2026-12-02（王明）。" in texts(response)
    assert Prospect.objects.count() == 1


# --- the list ---------------------------------------------------------------------------------------


@pytest.fixture
def pipeline(sales_a, manager_a, store_a):
    other = UserFactory(username="sales_a2", last_name="周", first_name="杰", role="sales_consultant", stores=[store_a])
    mine = record(sales_a, "13900000001", name="李娜", intended_model="轩逸", consultant=sales_a,
                  recorded_on=D(2026, 11, 1))  # fmt: skip
    theirs = record(manager_a, "13900000002", name="张三", intended_model="天籁", source="online", consultant=other)
    nobody = record(manager_a, "13900000003", name="王五", source="phone")
    lost = record(manager_a, "13900000004", name="孙八", consultant=sales_a)
    prospect_advance(user=manager_a, prospect=lost, status="lost", lost_reason="price")
    return {"mine": mine, "theirs": theirs, "nobody": nobody, "lost": lost, "other": other}


def listed(response) -> list[str]:
    return [row["prospect"].name for row in response.context["rows"]]


def test_a_consultant_sees_their_own_first_with_masked_phones(client, sales_a, pipeline):
    client.force_login(sales_a)
    response = client.get(LIST)
    assert listed(response) == ["李娜", "王五", "张三"]  # open ones; own first, then the newest
    assert [row["mobile"] for row in response.context["rows"]] == ["139****0001", "139****0003", "139****0002"]
    assert "13900000001" not in texts(response)
    assert 'href="/followups/mine/"' in texts(response)


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ({"q": "轩逸"}, ["李娜"]),
        ({"q": "张"}, ["张三"]),
        ({"q": "139 0000 0003"}, ["王五"]),
        ({"q": "0003"}, []),  # a part of a mobile finds nobody: whole numbers only
        ({"status": "lost"}, ["孙八"]),
        ({"status": "all"}, ["孙八", "李娜", "王五", "张三"]),
        ({"status": "bogus"}, ["李娜", "王五", "张三"]),
        ({"source": "online"}, ["张三"]),
        ({"consultant": "mine", "status": "all"}, ["孙八", "李娜"]),
        ({"consultant": "none"}, ["王五"]),
    ],
)
def test_search_and_filters(client, sales_a, pipeline, query, names):
    client.force_login(sales_a)
    assert listed(client.get(LIST, query)) == names


def test_a_consultant_filter_by_id(client, manager_a, pipeline):
    client.force_login(manager_a)
    assert listed(client.get(LIST, {"consultant": pipeline["other"].pk})) == ["张三"]


def test_a_manager_sees_whole_numbers_and_the_page_is_audited(client, manager_a, pipeline):
    client.force_login(manager_a)
    response = client.get(LIST)
    assert [row["mobile"] for row in response.context["rows"]] == ["13900000003", "13900000002", "13900000001"]
    entry = AuditLog.objects.get(action=AuditAction.VIEW_UNMASKED_PHONE)
    assert (entry.object_type, sorted(entry.object_ids)) == (
        "customers.prospect", sorted(str(pipeline[key].pk) for key in ("mine", "theirs", "nobody")),
    )  # fmt: skip


def test_the_list_is_paginated(client, manager_a):
    for number in range(27):
        record(manager_a, f"139000001{number:02d}", name=f"客户{number}")
    client.force_login(manager_a)
    first = client.get(LIST)
    assert (len(first.context["rows"]), first.context["page"].paginator.num_pages) == (25, 2)
    assert len(client.get(LIST, {"page": 2}).context["rows"]) == 2


def test_the_list_runs_a_fixed_number_of_queries(client, sales_a, manager_a, django_assert_num_queries):
    for number in range(3):
        record(manager_a, f"1390000000{number}", name=f"客户{number}", consultant=sales_a)
    client.force_login(sales_a)
    # session, the user (role, permissions, stores), count, page, consultants, the stores filter
    with django_assert_num_queries(6):
        assert client.get(LIST).status_code == 200
    for number in range(3, 9):
        record(manager_a, f"1390000000{number}", name=f"客户{number}", consultant=sales_a)
    with django_assert_num_queries(6):
        response = client.get(LIST)
    assert len(response.context["rows"]) == 9


# --- one prospect -----------------------------------------------------------------------------------


def test_the_status_buttons_move_the_prospect_and_the_history_shows_it(client, sales_a):
    prospect = record(sales_a, consultant=sales_a)
    url = reverse("customers:prospect_detail", args=[prospect.pk])
    client.force_login(sales_a)
    response = client.get(url)
    assert [code for code, _label in response.context["moves"]] == ["contacted", "test_drive_booked", "test_drive_done"]
    assert response.context["can_lose"] is True
    response = client.post(
        reverse("customers:prospect_status", args=[prospect.pk]), {"status": "contacted"}, follow=True
    )
    assert response.redirect_chain == [(url, 302)]
    assert "李娜：已联系。" in texts(response)
    assert [entry.status for entry in response.context["history"]] == ["contacted", "new"]
    assert [entry.history_user for entry in response.context["history"]] == [sales_a, sales_a]


def test_a_bad_move_shows_the_message_and_changes_nothing(client, sales_a):
    prospect = record(sales_a, consultant=sales_a)
    client.force_login(sales_a)
    status_url = reverse("customers:prospect_status", args=[prospect.pk])
    response = client.post(status_url, {"status": "lost", "lost_reason": ""})
    assert response.status_code == 400
    assert "请填写战败原因。" in texts(response)
    response = client.post(status_url, {"status": "won"})
    assert response.status_code == 400
    assert "请选择一个状态。" in texts(response)
    prospect_advance(user=sales_a, prospect=prospect, status="test_drive_done")
    response = client.post(status_url, {"status": "contacted"})
    assert response.status_code == 400
    assert "潜在客户不能从“已试驾”改为“已联系”。" in texts(response)
    prospect.refresh_from_db()
    assert (prospect.status, prospect.history.count()) == ("test_drive_done", 2)
    assert client.get(status_url).status_code == 405


def test_marking_lost_with_a_reason_and_reopening(client, sales_a):
    prospect = record(sales_a, consultant=sales_a)
    client.force_login(sales_a)
    status_url = reverse("customers:prospect_status", args=[prospect.pk])
    response = client.post(status_url, {"status": "lost", "lost_reason": "other_brand", "lost_note": "买了凯美瑞"})
    assert response.status_code == 302
    detail = client.get(reverse("customers:prospect_detail", args=[prospect.pk]))
    assert "选择了其他品牌: 买了凯美瑞" in texts(detail)
    assert [code for code, _label in detail.context["moves"]] == ["contacted"]
    assert client.post(status_url, {"status": "contacted"}).status_code == 302
    prospect.refresh_from_db()
    assert (prospect.status, prospect.lost_reason, prospect.lost_note) == ("contacted", "", "")


def test_assigning_from_the_detail_page(client, manager_a, sales_a):
    prospect = record(manager_a)
    client.force_login(manager_a)
    url = reverse("customers:prospect_assign", args=[prospect.pk])
    response = client.post(url, {"consultant": sales_a.pk}, follow=True)
    assert "李娜：已分配给 王明。" in texts(response)
    response = client.post(url, {"consultant": manager_a.pk})
    assert response.status_code == 400
    assert "请从本店销售顾问中选择。" in texts(response)
    prospect.refresh_from_db()
    assert prospect.consultant == sales_a


def test_dialling_is_audited(client, sales_a):
    prospect = record(sales_a, consultant=sales_a)
    client.force_login(sales_a)
    response = client.post(reverse("customers:prospect_dial", args=[prospect.pk]))
    assert (response.status_code, response["Location"]) == (302, "tel:13900000001")
    entry = AuditLog.objects.get(action=AuditAction.VIEW_UNMASKED_PHONE)
    assert (entry.object_type, entry.object_ids, entry.detail["purpose"]) == (
        "customers.prospect", [str(prospect.pk)], "dial",
    )  # fmt: skip


def test_the_navigation_shows_prospects_to_sales_consultants(client, sales_a, advisor_a):
    client.force_login(sales_a)
    assert f'href="{LIST}"' in texts(client.get("/"))
    client.force_login(advisor_a)
    home = texts(client.get("/"))
    assert f'href="{LIST}"' not in home
    assert f'href="{NEW}"' in home
