"""Search from every page, the incoming-call look-up, the card (timeline, notes, edits, history)."""

import datetime

import pytest
from django.urls import reverse

from crm.models import AuditLog
from customers.models import Customer, CustomerNote
from customers.services import customer_update
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory

pytestmark = pytest.mark.django_db


def found(client, query):
    response = client.get(reverse("customers:list"), {"q": query})
    assert response.status_code == 200
    return [customer.customer_no for customer in response.context["page"].object_list]


@pytest.fixture
def owners(store_a, store_b):
    zhang = CustomerFactory(store=store_a, customer_no="CA0001", name="张伟", mobile="13812341234")
    wang = CustomerFactory(store=store_a, customer_no="CA0002", name="王芳", mobile="13998765432")
    VehicleFactory(customer=zhang, vin="LGBH52E01NY123456", plate_no="苏A12345")
    CustomerFactory(store=store_b, customer_no="CB0001", name="张伟", mobile="13812340000")
    return zhang, wang


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("zw", ["CA0001"]),
        ("ZW", ["CA0001"]),
        ("zhangwei", ["CA0001"]),
        ("zhang", ["CA0001"]),
        ("wangf", ["CA0002"]),
        ("张伟", ["CA0001"]),
        ("王", ["CA0002"]),
        ("ca0002", ["CA0002"]),
        ("苏A12345", ["CA0001"]),
        ("A12345", ["CA0001"]),
        ("LGBH52E01NY123456", ["CA0001"]),
        ("lgbh52e01ny123456", ["CA0001"]),
        ("123456", ["CA0001"]),
        ("1234", ["CA0001"]),
        ("138-1234-1234", ["CA0001"]),
        ("+86 138 1234 1234", ["CA0001"]),
        ("１３８１２３４", []),  # part of a number: only for staff who see whole numbers (test_privacy.py)
        ("8765", []),
        ("王芳 5432", ["CA0002"]),  # a name with the last four digits
        ("wf5432", ["CA0002"]),
        ("nobody", []),
    ],
)
def test_advisor_search_finds_by_every_key_within_their_store(client, advisor_a, owners, query, expected):
    client.force_login(advisor_a)

    assert found(client, query) == expected


def test_search_by_phone_needs_the_permission(client, agent_a, owners):
    client.force_login(agent_a)

    assert found(client, "13812341234") == []
    assert found(client, "zw") == ["CA0001"]


def test_search_results_pin_their_query_count(client, advisor_a, owners, django_assert_num_queries):
    client.force_login(advisor_a)
    client.get(reverse("customers:list"), {"q": "zw"})

    with django_assert_num_queries(6):  # 9 + the page's membership badges (customers.membership)
        client.get(reverse("customers:list"), {"q": "zw"})


def test_incoming_call_lookup_is_a_post_and_opens_the_single_match(client, advisor_a, owners):
    zhang, _wang = owners
    client.force_login(advisor_a)

    assert client.get(reverse("customers:phone_lookup"), {"phone": "13812341234"}).status_code == 405
    response = client.post(reverse("customers:phone_lookup"), {"phone": "+86 138-1234-1234"})

    assert response.status_code == 302
    assert response["Location"] == reverse("customers:detail", args=[zhang.pk])
    assert "1381234" not in response["Location"]


def test_incoming_call_lookup_refused_without_phone_search(client, agent_a, owners):
    client.force_login(agent_a)

    assert client.post(reverse("customers:phone_lookup"), {"phone": "13812341234"}).status_code == 403


def test_card_shows_visits_deliveries_notes_and_changes_on_one_timeline(client, advisor_a, owners):
    zhang, _wang = owners
    vehicle = zhang.vehicles.get()
    RepairOrderFactory(vehicle=vehicle, ro_no="RO1", settle_date=datetime.date(2026, 6, 1))
    client.force_login(advisor_a)

    response = client.post(reverse("customers:note_add", args=[zhang.pk]), {"kind": "note", "text": "想换SUV"})
    assert response.status_code == 302
    card = client.get(reverse("customers:detail", args=[zhang.pk]))

    kinds = [event.kind for event in card.context["timeline"]]
    assert kinds == ["note", "visit", "delivery"]
    note = CustomerNote.objects.get()
    assert (note.customer, note.author, note.text) == (zhang, advisor_a, "想换SUV")
    assert "想换SUV" in card.content.decode()


def test_note_by_htmx_returns_the_timeline(client, advisor_a, owners):
    zhang, _wang = owners
    client.force_login(advisor_a)

    response = client.post(
        reverse("customers:note_add", args=[zhang.pk]), {"kind": "visit", "text": "来店咨询"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert response.templates[0].name == "customers/partials/note_added.html"
    assert "来店咨询" in response.content.decode()


def test_note_on_another_stores_customer_is_404_and_nothing_is_saved(client, manager_b, owners):
    zhang, _wang = owners
    client.force_login(manager_b)

    response = client.post(reverse("customers:note_add", args=[zhang.pk]), {"kind": "note", "text": "x"})

    assert response.status_code == 404
    assert CustomerNote.objects.count() == 0


def test_advisor_edits_contact_fields_and_the_history_shows_who_and_old_to_new(client, advisor_a, owners):
    zhang, _wang = owners
    client.force_login(advisor_a)
    form = client.get(reverse("customers:edit", args=[zhang.pk]))
    assert "13812341234" not in form.content.decode()  # masked staff never get the full number
    assert "customer_no" not in form.context["form"].fields
    assert "is_key_customer" not in form.context["form"].fields

    response = client.post(
        reverse("customers:edit", args=[zhang.pk]),
        {"mobile": "", "district": "玄武区", "interests": "钓鱼", "preferred_channel": "wechat"},
    )

    assert response.status_code == 302
    zhang.refresh_from_db()
    assert (zhang.mobile, zhang.district, zhang.interests, zhang.preferred_channel) == (
        "13812341234",
        "玄武区",
        "钓鱼",
        "wechat",
    )
    latest = zhang.history.order_by("-history_id").first()
    assert latest.history_user == advisor_a
    card = client.get(reverse("customers:detail", args=[zhang.pk]))
    change = card.context["changes"][0]
    assert change["user"] == advisor_a.get_full_name()
    assert {(item["old"], item["new"]) for item in change["changes"]} == {
        ("江宁区", "玄武区"),
        ("—", "钓鱼"),
        ("—", "wechat"),
    }


def test_a_bad_phone_is_a_clear_message_and_nothing_changes(client, advisor_a, owners):
    zhang, _wang = owners
    client.force_login(advisor_a)

    response = client.post(reverse("customers:edit", args=[zhang.pk]), {"mobile": "12345", "district": "玄武区"})

    assert response.status_code == 200
    assert response.context["form"].errors["mobile"]
    assert Customer.objects.get(pk=zhang.pk).district == "江宁区"


def test_service_refuses_fields_the_role_may_not_edit(advisor_a, owners):
    from django.core.exceptions import PermissionDenied

    zhang, _wang = owners
    with pytest.raises(PermissionDenied):
        customer_update(customer=zhang, user=advisor_a, data={"is_key_customer": True})
    zhang.refresh_from_db()
    assert zhang.is_key_customer is False


def test_manager_may_flag_a_key_customer(manager_a, owners):
    zhang, _wang = owners

    customer_update(customer=zhang, user=manager_a, data={"is_key_customer": True})

    assert Customer.objects.get(pk=zhang.pk).is_key_customer is True


def test_card_badges_and_membership(client, advisor_a, store_a):
    customer = CustomerFactory(store=store_a, member_tier="金卡", member_card_no="M001", points_balance=1200,
                               is_key_customer=True, confidentiality="secret")  # fmt: skip
    client.force_login(advisor_a)

    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()

    assert 'data-badge="vip"' in page
    assert 'data-badge="key"' in page
    assert 'data-badge="confidentiality"' in page
    assert "M001" in page
    assert AuditLog.objects.count() == 0
