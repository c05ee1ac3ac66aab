"""The club events' pages: who sees and does what, store scoping, the event page's search and list,
the door's search and one-tap check-in, the report, bad input answered in words, pinned queries."""

import datetime
import io
from decimal import Decimal

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from clubs.models import ClubEvent, EventRegistration, PointsEntry
from clubs.services import event_check_in, event_create, event_invite, event_register
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

from .test_events import ENDS, EVENT_DAY, NOW, STARTS

pytestmark = pytest.mark.django_db
LIST = reverse("clubs:event_list")
NEW = reverse("clubs:event_create")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def event(store_a, manager_a):
    return event_create(
        user=manager_a, store=store_a, title="保养讲座", kind="maintenance_lecture", starts_at=STARTS, ends_at=ENDS,
        place="江宁店二楼", capacity=2, points_for_attending=100,
    )  # fmt: skip


@pytest.fixture
def owners(store_a):
    call_command("club_start", "--store", store_a.code, "--date", "2026-01-01", stdout=io.StringIO())
    found = []
    for number, (name, plate) in enumerate([("张伟", "苏A11111"), ("张敏", "苏A22222"), ("王芳", "苏A33333")]):
        customer = CustomerFactory(store=store_a, name=name, mobile=f"138000{number}1123", customer_no=f"E{number}")
        VehicleFactory(customer=customer, plate_no=plate, delivery_date=datetime.date(2026, 6, 1))
        found.append(customer)
    call_command("club_run", "--date", "2026-11-30", stdout=io.StringIO())
    return found


def url(name, event, *args):
    return reverse(f"clubs:{name}", args=[event.pk, *args])


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        # list, page, new, edit, door, report
        ("agent_a", [200, 200, 403, 403, 403, 403]),
        ("sales_a", [200, 200, 403, 403, 403, 403]),
        ("advisor_a", [200, 200, 403, 403, 200, 403]),
        ("manager_a", [200, 200, 200, 200, 200, 200]),
        ("admin_user", [200, 200, 200, 200, 200, 200]),
    ],
)
def test_each_role_reaches_the_pages_it_should(client, request, event, persona, expected):
    client.force_login(request.getfixturevalue(persona))
    pages = [LIST, url("event_detail", event), NEW, url("event_edit", event), url("event_door", event),
             url("event_report", event)]  # fmt: skip
    assert [client.get(page).status_code for page in pages] == expected


def test_the_navigation_names_the_events(client, advisor_a):
    client.force_login(advisor_a)
    response = client.get(LIST)
    assert f'href="{LIST}"' in response.content.decode()
    assert "活动" in [item.label for item in response.context["navigation"]]


def test_another_stores_manager_sees_nothing_of_the_event(client, manager_b, event, owners):
    client.force_login(manager_b)
    for name in ("event_detail", "event_edit", "event_door", "event_report"):
        assert client.get(url(name, event)).status_code == 404
    assert client.post(url("event_registration_add", event), {"customer": owners[0].pk, "action": "register",
                                                              "source": "phone"}).status_code == 404  # fmt: skip
    assert client.post(url("event_check_in", event), {"customer": owners[0].pk}).status_code == 404
    assert client.get(LIST, {"when": "all"}).context["page"].paginator.count == 0
    assert EventRegistration.objects.count() == 0


def test_a_manager_plans_an_event(client, manager_a, store_a):
    client.force_login(manager_a)
    response = client.post(NEW, {
        "store": store_a.pk, "title": "  公益植树 ", "kind": "charity", "starts_at": "2026-12-12T09:00",
        "ends_at": "2026-12-12T12:00", "place": "汤山", "capacity": "30", "points_for_attending": "",
    })  # fmt: skip
    event = ClubEvent.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("event_detail", event)
    assert (event.title, event.capacity, event.points_for_attending, event.created_by) == ("公益植树", 30, 0, manager_a)
    assert event.starts_at == datetime.datetime(2026, 12, 12, 1, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ends_at": "2026-12-12T08:00"}, "活动的结束时间必须晚于开始时间。"),
        ({"starts_at": "明天"}, "请输入日期和时间，例如 2026-12-10 14:00。"),
        ({"starts_at": "0001-01-01T00:00"}, "请输入 2000 至 2099 年之间的日期。"),
        ({"ends_at": "9999-12-31T23:59"}, "请输入 2000 至 2099 年之间的日期。"),
        ({"title": "活\x00动"}, "NUL"),  # crm's input guard answers before the form
        ({"capacity": "0"}, "活动至少要有 1 个名额。"),
        ({"capacity": "三十"}, "请输入整数名额，例如 30。"),
        ({"points_for_attending": "-5"}, "请输入整数积分，例如 100（不送积分填 0）。"),
        ({"title": ""}, "请填写活动名称。"),
        ({"kind": "party"}, "请选择活动类型。"),
    ],
)
def test_bad_event_input_is_answered_in_words(client, manager_a, store_a, changes, message):
    client.force_login(manager_a)
    data = {
        "store": store_a.pk, "title": "公益植树", "kind": "charity", "starts_at": "2026-12-12T09:00",
        "ends_at": "2026-12-12T12:00", "place": "汤山", "capacity": "30", **changes,
    }  # fmt: skip
    response = client.post(NEW, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert ClubEvent.objects.count() == 0


def test_the_event_page_finds_customers_and_registers_them(client, advisor_a, event, owners):
    client.force_login(advisor_a)
    page = client.get(url("event_detail", event), {"q": "苏A22222"})
    assert [row.customer.name for row, _mobile in page.context["results"]] == ["张敏"]
    assert "138****1123" in page.content.decode()
    for customer in owners:
        response = client.post(url("event_registration_add", event),
                               {"customer": customer.pk, "action": "register", "source": "desk"})  # fmt: skip
        assert response.status_code == 302
    page = client.get(url("event_detail", event))
    assert page.context["counts"] == {"invited": 0, "registered": 2, "waiting": 1, "cancelled": 0, "attended": 0}
    first = EventRegistration.objects.get(customer=owners[0])
    response = client.post(url("event_registration_cancel", event, first.pk), follow=True)
    assert [str(m) for m in response.context["messages"]] == ["张伟：已取消。"]
    assert dict(EventRegistration.objects.values_list("customer__name", "status")) == {
        "张伟": "cancelled", "张敏": "registered", "王芳": "registered",
    }  # fmt: skip


def test_bad_registration_input_is_answered_in_words(client, advisor_a, event, owners):
    client.force_login(advisor_a)
    response = client.post(url("event_registration_add", event), {"customer": "", "action": "dance", "source": "sms"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "请选择一位客户。" in body
    assert "请选择邀请或报名。" in body
    assert EventRegistration.objects.count() == 0
    assert client.post(url("event_registration_add", event), {"customer": "999999", "action": "register",
                                                              "source": "phone"}).status_code == 404  # fmt: skip


def test_a_short_number_search_on_the_event_page_is_refused_in_words(client, advisor_a, event, owners):
    client.force_login(advisor_a)
    page = client.get(url("event_detail", event), {"q": "13800"})
    assert page.context["results"] == []
    assert page.context["search_message"] == "输入完整号码，或姓名加手机尾号后四位（如：张伟 1234）才能按电话查找。"


def test_the_door_finds_by_mobile_tail_plate_or_name_and_checks_in_once(client, advisor_a, event, owners, frozen):
    event_register(user=advisor_a, event=event, customer=owners[1])
    walk_in_twin = CustomerFactory(store=event.store, name="李雷", mobile="13955551123")
    frozen.move_to(EVENT_DAY)
    client.force_login(advisor_a)
    door = url("event_door", event)
    found = client.get(door, {"q": "1123"}).context["rows"]
    # Four digits alone search the event's list only: 张敏, not the store's other numbers ending so.
    assert [(row.customer.name, row.registration.status) for row, _m in found] == [("张敏", "registered")]
    # A walk-in: by name with the last four digits (the customers' search, audited), or by plate.
    found = client.get(door, {"q": "李雷 1123"}).context["rows"]
    assert [(row.customer.name, row.registration) for row, _m in found] == [("李雷", None)]
    assert [row.customer.name for row, _m in client.get(door, {"q": "苏A33333"}).context["rows"]] == ["王芳"]
    # By name: the event's list first, then the rest of the store by name.
    assert [row.customer.name for row, _m in client.get(door, {"q": "张"}).context["rows"]] == ["张敏", "张伟"]
    response = client.post(url("event_check_in", event), {"customer": owners[1].pk}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["张敏 已签到：积分 100。"]
    response = client.post(url("event_check_in", event), {"customer": owners[1].pk}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["张敏 已于 13:30 签到。"]
    response = client.post(url("event_check_in", event), {"customer": walk_in_twin.pk}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["李雷 已签到。"]
    assert PointsEntry.objects.filter(kind="attendance").count() == 1
    response = client.post(url("event_check_in", event), {"customer": "x"}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["请选择一位客户。"]


def test_the_report_shows_the_figures(client, manager_a, advisor_a, event, owners, frozen):
    event_invite(user=advisor_a, event=event, customer=owners[2])
    for customer in owners[:2]:
        event_register(user=advisor_a, event=event, customer=customer)
    frozen.move_to(EVENT_DAY)
    event_check_in(user=advisor_a, event=event, customer=owners[0])
    RepairOrderFactory(vehicle=owners[0].vehicles.get(), open_date=datetime.date(2026, 12, 20),
                       total_amount=Decimal("640.00"))  # fmt: skip
    client.force_login(manager_a)
    response = client.get(url("event_report", event))
    report = response.context["report"]
    assert (report.invited, report.registered, report.waiting, report.attended, report.repair_orders,
            report.spend, report.points) == (1, 2, 0, 1, 1, Decimal("640.00"), 100)  # fmt: skip
    assert 'data-figure="delivered"><div class="figure-value">0<' in response.content.decode()


def test_the_pages_run_a_fixed_number_of_queries(
    client, store_a, manager_a, advisor_a, event, owners, frozen, django_assert_num_queries
):
    """Session, user, TOTP device, permissions (x3), stores, then the page's own: the list 3 (count,
    page with its counts), the event page 4 (event, counts, list count and page), the door 5 (event,
    candidates, their registrations, plates, counts), the report 6 (event, two figures, the invitation
    SMS, attendees)."""
    pages = {
        "list": (LIST, {}),
        "detail": (url("event_detail", event), {}),
        "door": (url("event_door", event), {"q": "1123"}),
        "report": (url("event_report", event), {}),
    }
    client.force_login(manager_a)
    # Empty, the event page's list, the door's registrations and the report's attendees need no query.
    for name, expected in {"list": 6, "detail": 6, "door": 7, "report": 8}.items():
        page, query = pages[name]
        with django_assert_num_queries(expected):
            assert client.get(page, query).status_code == 200
    event_register(user=advisor_a, event=event, customer=owners[0])
    frozen.move_to(EVENT_DAY)
    event_check_in(user=advisor_a, event=event, customer=owners[0])
    client.force_login(manager_a)  # nine days on: a new session
    pinned = {"list": 6, "detail": 7, "door": 8, "report": 9}
    for name, expected in pinned.items():
        page, query = pages[name]
        with django_assert_num_queries(expected):
            assert client.get(page, query).status_code == 200
    for customer in owners[1:]:
        event_check_in(user=advisor_a, event=event, customer=customer)
    for name, expected in pinned.items():
        page, query = pages[name]
        with django_assert_num_queries(expected):
            assert client.get(page, query).status_code == 200
    assert len(client.get(pages["report"][0]).context["attendees"]) == 3


def test_the_admin_shows_events_and_lists_only_within_the_users_stores(client, manager_a, manager_b, advisor_a, event,
                                                                       owners):  # fmt: skip
    from tests.crm.test_admin_security import staff

    registration = event_register(user=advisor_a, event=event, customer=owners[0])
    pages = [
        reverse("admin:clubs_clubevent_change", args=[event.pk]),
        reverse("admin:clubs_clubevent_history", args=[event.pk]),
        reverse("admin:clubs_eventregistration_change", args=[registration.pk]),
    ]
    client.force_login(staff(manager_b))
    assert [client.get(page).status_code for page in pages] == [404, 404, 404]
    assert client.get(reverse("admin:clubs_clubevent_changelist")).context["cl"].result_count == 0
    client.force_login(staff(manager_a))
    assert [client.get(page).status_code for page in pages] == [200, 200, 200]
    # Read-only: nothing is changed past the services.
    response = client.post(pages[0], {"title": "改名", "capacity": "1"})
    assert response.status_code == 403
    assert ClubEvent.objects.get().title == "保养讲座"


def test_junk_in_the_query_string_shows_the_page_not_an_error(client, manager_a, event):
    client.force_login(manager_a)
    response = client.get(LIST, {"when": "tomorrow", "store": "abc", "page": "last!", "q": "x" * 300})
    assert response.status_code == 200
    assert response.context["when"] == "upcoming"
    response = client.get(url("event_detail", event), {"status": "dancing", "page": "-1", "q": "  "})
    assert (response.status_code, response.context["status"], response.context["results"]) == (200, "", [])
    assert client.get(url("event_door", event), {"q": "\u200b"}).status_code == 200


def test_a_capacity_below_the_places_taken_is_refused_on_the_edit_page(client, manager_a, advisor_a, event, owners):
    for customer in owners[:2]:
        event_register(user=advisor_a, event=event, customer=customer)
    client.force_login(manager_a)
    data = {
        "title": "保养讲座", "kind": "maintenance_lecture", "starts_at": "2026-12-10T14:00",
        "ends_at": "2026-12-10T17:00", "place": "江宁店二楼", "capacity": "1", "points_for_attending": "100",
    }  # fmt: skip
    response = client.post(url("event_edit", event), data)
    assert response.status_code == 400
    assert "已有 2 人占了名额：活动至少需要 2 个名额。" in response.content.decode()
    assert ClubEvent.objects.get().capacity == 2
    response = client.post(url("event_edit", event), {**data, "capacity": "3"})
    assert response.status_code == 302
    assert ClubEvent.objects.get().capacity == 3


def test_who_may_register_and_who_may_check_in_at_the_door(client, sales_a, agent_a, event, owners, frozen):
    client.force_login(sales_a)
    response = client.post(url("event_registration_add", event), {"customer": owners[0].pk, "action": "register",
                                                                   "source": "phone"})  # fmt: skip
    assert response.status_code == 302
    frozen.move_to(EVENT_DAY)
    for persona in (sales_a, agent_a):
        client.force_login(persona)
        assert client.post(url("event_check_in", event), {"customer": owners[0].pk}).status_code == 403
    assert list(EventRegistration.objects.values_list("status", "checked_in_at")) == [("registered", None)]
    assert PointsEntry.objects.filter(kind="attendance").count() == 0
