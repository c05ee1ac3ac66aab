"""The appointment pages: booking at the desk, the card's panel, the arrivals board (check-in,
walk-ins), the store's booking grid and the bookings report; permissions and the store scope."""

import datetime

import pytest
import time_machine
from django.urls import reverse

from crm.models import AuditLog
from customers.models import Appointment, AppointmentSettings, Delivery
from customers.services.appointments import appointment_cancel
from tests.customers.appointment_helpers import NINE, NOW, SATURDAY, TODAY, TOMORROW, book, owner
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _frozen_day():
    with time_machine.travel(NOW, tick=False):
        yield


def booking_data(vehicle, **changes) -> dict:
    return {"vehicle": vehicle.pk, "date": "2026-12-03", "slot": "09:00", "purpose": "maintenance", "advisor": "",
            "notes": "顺便检查空调", **changes}  # fmt: skip


def test_the_desk_books_a_visit_from_the_card(client, advisor_a, store_a):
    customer, vehicle = owner(store_a, vip=True)
    client.force_login(advisor_a)

    page = client.get(reverse("customers:appointment_book", args=[customer.pk]), {"date": "2026-12-03"})
    response = client.post(reverse("customers:appointment_book", args=[customer.pk]),
                           booking_data(vehicle, advisor=advisor_a.pk))  # fmt: skip
    card = client.get(reverse("customers:detail", args=[customer.pk]))

    assert page.status_code == 200
    assert len(page.context["slots"]) == 17
    assert 'data-badge="vip"' in page.content.decode()
    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.date, appointment.slot, appointment.source, appointment.advisor, appointment.notes) == (
        TOMORROW, NINE, "desk", advisor_a, "顺便检查空调",
    )  # fmt: skip
    assert f'data-appointment="{appointment.pk}"' in card.content.decode()
    assert "已预约" in card.content.decode()


def test_a_booking_on_the_day_of_the_handover_is_a_booking_at_delivery(client, sales_a, store_a):
    customer, vehicle = owner(store_a)
    vehicle.delivery_date = TODAY
    vehicle.save()
    delivery = Delivery.objects.create(
        vehicle=vehicle, customer=customer, store=store_a, consultant=sales_a, source="showroom",
        delivered_on=TODAY, recorded_by=sales_a,
    )  # fmt: skip
    older_customer, older_car = owner(store_a, name="李强")  # delivered long ago: a desk booking
    client.force_login(sales_a)

    for who, car in ((customer, vehicle), (older_customer, older_car)):
        response = client.post(reverse("customers:appointment_book", args=[who.pk]),
                               booking_data(car, purpose="first_service"))  # fmt: skip
        assert response.status_code == 302

    assert sorted(Appointment.objects.values_list("customer_id", "source", "source_reference")) == sorted(
        [(customer.pk, "delivery", f"delivery:{delivery.pk}"), (older_customer.pk, "desk", "")]
    )


def test_a_full_slot_is_refused_on_the_page_with_the_next_free_slots(client, agent_a, advisor_a, store_a):
    for number in range(4):
        book(advisor_a, store_a, name=f"客户{number}")
    customer, vehicle = owner(store_a, name="第五位")
    client.force_login(agent_a)

    response = client.post(reverse("customers:appointment_book", args=[customer.pk]), booking_data(vehicle))

    assert response.status_code == 400
    assert "该时段已约满。最近可约时段：2026年12月3日 09:30" in response.content.decode()
    assert Appointment.objects.filter(customer=customer).count() == 0


def test_a_day_off_is_refused_on_the_page(client, sales_a, store_a):
    customer, vehicle = owner(store_a)
    client.force_login(sales_a)

    page = client.get(reverse("customers:appointment_book", args=[customer.pk]), {"date": SATURDAY.isoformat()})
    response = client.post(reverse("customers:appointment_book", args=[customer.pk]),
                           booking_data(vehicle, date=SATURDAY.isoformat()))  # fmt: skip

    assert page.context["slots"] == []
    assert "2026-12-05 不是工作日" in page.content.decode()
    assert response.status_code == 400
    assert "不是工作日：只能预约工作日" in response.content.decode()
    assert Appointment.objects.count() == 0


def test_a_missing_slot_and_a_bad_date_get_a_message(client, advisor_a, store_a):
    customer, vehicle = owner(store_a)
    client.force_login(advisor_a)

    response = client.post(reverse("customers:appointment_book", args=[customer.pk]),
                           booking_data(vehicle, slot="", date="明天"))  # fmt: skip
    page = client.get(reverse("customers:appointment_book", args=[customer.pk]), {"date": "2026-13-40"})

    assert response.status_code == 400
    assert "请选择时段。" in response.content.decode()
    assert page.status_code == 200
    assert "请输入有效日期。" in page.content.decode()
    assert Appointment.objects.count() == 0


def test_manager_b_can_neither_book_nor_see_nor_check_in_store_a(client, manager_b, advisor_a, store_a, store_b):
    appointment = book(advisor_a, store_a, day=TODAY)
    client.force_login(manager_b)

    book_page = client.get(reverse("customers:appointment_book", args=[appointment.customer_id]))
    board = client.get(reverse("customers:arrivals"), {"store": store_a.pk, "date": TODAY.isoformat()})
    check_in = client.post(reverse("customers:arrival_check_in", args=[appointment.pk]))
    cancel = client.post(reverse("customers:appointment_cancel", args=[appointment.pk]))

    assert (book_page.status_code, board.status_code, check_in.status_code, cancel.status_code) == (404, 200, 404, 404)
    assert board.context["store"] == store_b
    assert list(board.context["page"].object_list) == []
    appointment.refresh_from_db()
    assert appointment.status == "booked"


def test_the_board_shows_the_day_by_slot_with_vips_first_and_a_pinned_query_count(
    client, advisor_a, store_a, django_assert_num_queries
):
    regular = book(advisor_a, store_a, day=TODAY, name="普通")
    vip = book(advisor_a, store_a, day=TODAY, vip=True, name="贵宾")
    for number in range(4):
        book(advisor_a, store_a, day=TODAY, slot=datetime.time(10), name=f"十点{number}")
    book(advisor_a, store_a, name="明天的")
    client.force_login(advisor_a)

    # session, the user (with role, permissions and store IDs), the stores (the first one and
    # whether there are several), the day's rows (no count of their own), the settings, the advisors
    # (once for the filter and the walk-in form): none per row
    with django_assert_num_queries(6):
        response = client.get(reverse("customers:arrivals"))

    rows = list(response.context["page"].object_list)
    assert [row.pk for row in rows[:2]] == [vip.pk, regular.pk]
    assert len(rows) == 6
    assert response.context["day"] == TODAY
    html = response.content.decode()
    assert html.count('data-form="check-in"') == 6
    assert html.index(f'id="arrival-{vip.pk}"') < html.index(f'id="arrival-{regular.pk}"')
    for number in range(8):
        book(
            advisor_a, store_a, day=TODAY, slot=datetime.time(11 + number // 2, 30 * (number % 2)), name=f"下午{number}"
        )
    with django_assert_num_queries(6):  # as many for more rows
        assert len(client.get(reverse("customers:arrivals")).context["page"].object_list) == 14


def test_the_board_filters_by_advisor_and_day(client, advisor_a, manager_a, store_a):
    mine = book(advisor_a, store_a, day=TODAY, advisor=advisor_a, name="甲")
    book(advisor_a, store_a, day=TODAY, advisor=manager_a, name="乙")
    book(advisor_a, store_a, advisor=advisor_a, name="丙")
    client.force_login(advisor_a)

    response = client.get(reverse("customers:arrivals"), {"advisor": advisor_a.pk, "date": TODAY.isoformat()})
    tomorrow = client.get(reverse("customers:arrivals"), {"date": TOMORROW.isoformat()})
    search = client.get(reverse("customers:arrivals"), {"q": "乙"})

    assert [row.pk for row in response.context["page"].object_list] == [mine.pk]
    assert [row.customer.name for row in tomorrow.context["page"].object_list] == ["丙"]
    assert [row.customer.name for row in search.context["page"].object_list] == ["乙"]


def test_check_in_in_one_tap_with_and_without_javascript(client, advisor_a, store_a):
    first = book(advisor_a, store_a, day=TODAY, name="甲")
    second = book(advisor_a, store_a, day=TODAY, name="乙")
    client.force_login(advisor_a)

    plain = client.post(reverse("customers:arrival_check_in", args=[first.pk]))
    htmx = client.post(reverse("customers:arrival_check_in", args=[second.pk]), HTTP_HX_REQUEST="true")
    again = client.post(reverse("customers:arrival_check_in", args=[second.pk]), HTTP_HX_REQUEST="true")

    assert plain.status_code == 302
    assert plain["Location"] == f"/customers/arrivals/?store={store_a.pk}&date=2026-12-02"
    assert htmx.status_code == 200
    assert htmx.content.decode().strip().startswith(f'<tr id="arrival-{second.pk}"')
    assert 'data-status="arrived"' in htmx.content.decode()
    assert again.status_code == 200
    assert list(Appointment.objects.order_by("pk").values_list("status", flat=True)) == ["arrived", "arrived"]
    assert second.history.count() == 2


def test_agents_and_sales_cannot_check_in(client, agent_a, sales_a, advisor_a, store_a):
    appointment = book(advisor_a, store_a, day=TODAY)

    for user in (agent_a, sales_a):
        client.force_login(user)
        assert client.post(reverse("customers:arrival_check_in", args=[appointment.pk])).status_code == 403

    appointment.refresh_from_db()
    assert appointment.status == "booked"
    assert appointment.checked_in_at is None


def test_a_refused_check_in_says_why(client, advisor_a, store_a):
    appointment = appointment_cancel(user=advisor_a, appointment=book(advisor_a, store_a, day=TODAY))
    client.force_login(advisor_a)

    response = client.post(reverse("customers:arrival_check_in", args=[appointment.pk]), follow=True)

    assert "此预约为已取消，不能签到。" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == "cancelled"


def test_a_walk_in_is_added_from_the_board_by_plate(client, advisor_a, store_a, store_b):
    customer = CustomerFactory(store=store_a, name="路过")
    VehicleFactory(customer=customer, plate_no="苏A12345")
    stranger = CustomerFactory(store=store_b, name="外店")
    VehicleFactory(customer=stranger, plate_no="苏B99999")
    client.force_login(advisor_a)

    added = client.post(reverse("customers:walk_in"), {"store": store_a.pk, "lookup": "苏a12345", "purpose": "repair"})
    other_store = {"store": store_a.pk, "lookup": "苏B99999", "purpose": "repair"}
    unknown = client.post(reverse("customers:walk_in"), other_store, follow=True)

    assert added.status_code == 302
    walk_in = Appointment.objects.get()
    assert (walk_in.customer, walk_in.source, walk_in.status, walk_in.vehicle.plate_no) == (
        customer, "walk_in", "arrived", "苏A12345",
    )  # fmt: skip
    assert "本店没有该车牌号的车辆，也没有该编号的客户。" in unknown.content.decode()


def test_a_manager_edits_the_booking_grid_and_an_advisor_may_not(client, manager_a, advisor_a, store_a):
    client.force_login(advisor_a)
    refused = client.post(reverse("customers:appointment_settings"), {"store": store_a.pk, "slot_minutes": 60,
                          "opens_at": "08:30", "closes_at": "17:00", "capacity": 9})  # fmt: skip
    client.force_login(manager_a)
    page = client.get(reverse("customers:appointment_settings"))
    bad = client.post(reverse("customers:appointment_settings"), {"store": store_a.pk, "slot_minutes": 60,
                      "opens_at": "17:00", "closes_at": "08:30", "capacity": 3})  # fmt: skip
    saved = client.post(reverse("customers:appointment_settings"), {"store": store_a.pk, "slot_minutes": 60,
                        "opens_at": "08:30", "closes_at": "17:00", "capacity": 3})  # fmt: skip

    assert (refused.status_code, page.status_code, bad.status_code, saved.status_code) == (403, 200, 400, 302)
    assert "首个时段的开始时间必须早于最后时段的结束时间。" in bad.content.decode()
    settings = AppointmentSettings.objects.get(store=store_a)
    assert (settings.slot_minutes, settings.capacity) == (60, 3)
    assert AuditLog.objects.filter(object_type="customers.appointmentsettings").count() == 1


def test_the_bookings_report_counts_each_day_against_capacity(client, manager_a, advisor_a, store_a):
    book(advisor_a, store_a, name="甲")
    book(advisor_a, store_a, name="乙", slot=datetime.time(10))
    client.force_login(advisor_a)
    refused = client.get(reverse("customers:appointment_report"))
    client.force_login(manager_a)

    response = client.get(
        reverse("customers:appointment_report"), {"first_day": "2026-12-02", "last_day": "2026-12-05"}
    )
    bad = client.get(reverse("customers:appointment_report"), {"first_day": "2026-12-05", "last_day": "2026-12-02"})

    assert refused.status_code == 403
    assert response.context["chart"]["booked"] == [0, 2, 0, 0]
    assert response.context["chart"]["capacity"] == [68, 68, 68, 0]
    assert '<td class="number" data-label="占容量比例" data-cell="share">3%</td>' in response.content.decode()
    assert "结束日期早于开始日期。" in bad.content.decode()


def test_the_arrivals_board_is_in_the_navigation_of_advisors_and_managers(client, advisor_a, agent_a):
    client.force_login(advisor_a)
    assert reverse("customers:arrivals") in client.get(reverse("customers:list")).content.decode()
    client.force_login(agent_a)
    assert reverse("customers:arrivals") not in client.get(reverse("customers:list")).content.decode()


def test_manager_b_cannot_change_store_as_slots_nor_add_a_walk_in_there(client, manager_b, store_a, store_b):
    customer = CustomerFactory(store=store_a, name="路过")
    VehicleFactory(customer=customer, plate_no="苏A12345")
    client.force_login(manager_b)

    settings = client.post(reverse("customers:appointment_settings"), {"store": store_a.pk, "slot_minutes": 60,
                           "opens_at": "08:30", "closes_at": "17:00", "capacity": 9})  # fmt: skip
    walk_in = client.post(
        reverse("customers:walk_in"), {"store": store_a.pk, "lookup": "苏A12345", "purpose": "repair"}
    )

    assert (settings.status_code, walk_in.status_code) == (404, 404)
    assert AppointmentSettings.objects.count() == 0
    assert Appointment.objects.count() == 0
    assert AuditLog.objects.filter(object_type="customers.appointmentsettings").count() == 0


def test_the_bookings_report_pins_its_queries_for_few_and_many_bookings(
    client, manager_a, advisor_a, store_a, django_assert_num_queries
):
    book(advisor_a, store_a, name="甲")
    client.force_login(manager_a)
    client.get(reverse("customers:appointment_report"))
    query = {"first_day": "2026-12-02", "last_day": "2026-12-15"}

    # the request's own (session, the user with role, permissions and store IDs, the TOTP device), then the
    # stores, the settings, the calendar and the days' counts in one aggregate: none per day or booking
    with django_assert_num_queries(8):
        assert client.get(reverse("customers:appointment_report"), query).context["chart"]["booked"][1] == 1
    for number in range(6):
        book(advisor_a, store_a, name=f"乙{number}", slot=datetime.time(10 + number))
    with django_assert_num_queries(8):
        assert client.get(reverse("customers:appointment_report"), query).context["chart"]["booked"][1] == 7
