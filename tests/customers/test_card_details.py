"""The card's small daily annoyances: a second click does not post a note twice and the box is
emptied after a saved note; blank values are "—" everywhere (never "— 主管" nor 未知); date-only
events show their date, not 00:00."""

import datetime
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from customers.models import CustomerNote
from customers.services import NOTE_REPEAT_SECONDS, customer_note_add
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def field(html: str, name: str) -> str:
    return re.search(rf'<dd[^>]*data-field="{name}"[^>]*>(.*?)</dd>', html, re.S).group(1).strip()


def test_the_same_note_twice_in_a_row_is_one_note(advisor_a, store_a):
    customer = CustomerFactory(store=store_a)

    first = customer_note_add(customer=customer, user=advisor_a, text="客户想了解置换政策")
    second = customer_note_add(customer=customer, user=advisor_a, text=" 客户想了解置换政策 ")

    assert second == first
    assert CustomerNote.objects.count() == 1


def test_a_different_note_or_the_same_note_later_is_a_new_note(advisor_a, store_a):
    customer = CustomerFactory(store=store_a)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        customer_note_add(customer=customer, user=advisor_a, text="客户想了解置换政策")
        customer_note_add(customer=customer, user=advisor_a, text="客户想了解置换政策", kind="visit")
        customer_note_add(customer=customer, user=advisor_a, text="下周三来店")
    with time_machine.travel(start + datetime.timedelta(seconds=NOTE_REPEAT_SECONDS + 1), tick=False):
        customer_note_add(customer=customer, user=advisor_a, text="客户想了解置换政策")

    assert CustomerNote.objects.count() == 4


def test_a_note_posted_twice_by_htmx_is_saved_once_and_the_box_comes_back_empty(client, advisor_a, store_a):
    customer = CustomerFactory(store=store_a)
    client.force_login(advisor_a)
    url = reverse("customers:note_add", args=[customer.pk])

    for _click in range(2):
        response = client.post(url, {"kind": "note", "text": "客户想了解置换政策"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert response.status_code == 200
    assert CustomerNote.objects.count() == 1
    assert html.count("客户想了解置换政策") == 1  # on the timeline, not left in the box
    assert 'id="note-form" class="note-form" data-form="note" hx-swap-oob="true"' in html
    assert re.search(r'<textarea name="text"[^>]*>\s*</textarea>', html)


def test_a_refused_note_keeps_its_box_with_the_error(client, advisor_a, store_a):
    customer = CustomerFactory(store=store_a)
    client.force_login(advisor_a)

    url = reverse("customers:note_add", args=[customer.pk])

    response = client.post(url, {"kind": "nonsense", "text": "想换SUV"}, HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert CustomerNote.objects.count() == 0
    assert 'hx-swap-oob="true"' in html
    assert re.search(r'<textarea name="text"[^>]*>\s*想换SUV</textarea>', html)


def test_blank_values_are_one_dash_everywhere_on_the_card(client, advisor_a, store_a):
    customer = CustomerFactory(
        store=store_a, employer="", job_title="主管", gender="", income_band="", source="", district="", mobile=""
    )
    client.force_login(advisor_a)

    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert field(html, "employer") == "主管"
    assert field(html, "gender") == "—"
    assert field(html, "income") == "—"
    assert field(html, "source") == "—"
    assert field(html, "address") == "—"
    assert field(html, "mobile") == "—"
    assert field(html, "birthday") == "—"
    assert field(html, "preferred-contact") == "—"
    assert "未知" not in html


def test_filled_values_are_shown_as_before(client, advisor_a, store_a):
    address = {"province": "江苏省", "city": "南京市", "district": "江宁区"}
    customer = CustomerFactory(store=store_a, employer="南京钢铁", job_title="", gender="F", **address)
    client.force_login(advisor_a)

    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert field(html, "employer") == "南京钢铁"
    assert field(html, "gender") == "女"
    assert field(html, "address") == "江苏省南京市江宁区"


def test_date_only_events_show_their_date_without_a_time(client, advisor_a, store_a):
    customer = CustomerFactory(store=store_a)
    vehicle = VehicleFactory(customer=customer, delivery_date=datetime.date(2025, 3, 1))
    RepairOrderFactory(vehicle=vehicle, settle_date=datetime.date(2026, 6, 1))
    client.force_login(advisor_a)

    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert '<time datetime="2026-06-01">2026-06-01</time>' in html
    assert '<time datetime="2025-03-01">2025-03-01</time>' in html
    assert "00:00" not in html
