"""Cards and vehicles made by hand at the desks: provisional numbers, the duplicate warning, the VIN
checks, store scope (docs/desk.md)."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from customers.models import Customer, Vehicle
from customers.services import LikelyDuplicate, VinTaken, customer_create, vehicle_create
from tests.factories import CustomerFactory, VehicleFactory

pytestmark = pytest.mark.django_db
VIN = "1M8GDM9AXKP042788"
VIN_CN = "LSVAU218XN2183294"


def test_a_card_made_at_the_desk_is_provisional_with_a_store_numbered_sequence(advisor_a, store_a):
    first = customer_create(user=advisor_a, store=store_a, data={"name": " 王芳 ", "mobile": "13900001111"})
    second = customer_create(user=advisor_a, store=store_a, data={"name": "赵强", "mobile": "13900002222"})

    assert first.is_provisional is True
    assert first.name == "王芳"
    assert first.name_pinyin == "wangfang"
    assert first.customer_no.startswith("CRM-NJ01-")
    assert len(first.customer_no) == len("CRM-NJ01-000001")
    assert int(second.customer_no[-6:]) == int(first.customer_no[-6:]) + 1
    history = list(first.history.all())
    assert [(h.history_type, h.history_change_reason, h.history_user_id) for h in history] == [
        ("+", "created in the CRM", advisor_a.pk)
    ]


def test_same_mobile_in_the_store_warns_and_can_be_confirmed(advisor_a, store_a):
    existing = CustomerFactory(store=store_a, name="李娜", mobile="13900003333")

    with pytest.raises(LikelyDuplicate) as caught:
        customer_create(user=advisor_a, store=store_a, data={"name": "李娜娜", "mobile": "13900003333"})
    assert caught.value.customers == [existing]
    assert Customer.objects.count() == 1

    made = customer_create(
        user=advisor_a, store=store_a, data={"name": "李娜娜", "mobile": "13900003333"}, duplicates_confirmed=True
    )
    assert Customer.objects.count() == 2
    assert made.pk != existing.pk


def test_same_name_and_birthday_warns_but_not_in_another_store(advisor_a, store_a, store_b):
    birthday = datetime.date(1988, 5, 6)
    existing = CustomerFactory(store=store_a, name="周杰", birthday=birthday)
    CustomerFactory(store=store_b, name="周杰", birthday=birthday, mobile="13900009999")

    with pytest.raises(LikelyDuplicate) as caught:
        customer_create(user=advisor_a, store=store_a, data={"name": "周杰", "birthday": birthday})
    assert caught.value.customers == [existing]
    # Same name, another birthday: no warning.
    customer_create(user=advisor_a, store=store_a, data={"name": "周杰", "birthday": datetime.date(1990, 1, 1)})
    assert Customer.objects.filter(store=store_a).count() == 2


def test_only_the_users_stores_and_roles_may_create(manager_b, agent_a, store_a):
    with pytest.raises(PermissionDenied):
        customer_create(user=manager_b, store=store_a, data={"name": "王芳"})
    with pytest.raises(PermissionDenied):
        customer_create(user=agent_a, store=store_a, data={"name": "王芳"})
    assert Customer.objects.count() == 0


def test_vehicle_create_checks_vin_and_keeps_history(sales_a, store_a):
    customer = CustomerFactory(store=store_a)

    with pytest.raises(ValidationError) as caught:
        vehicle_create(user=sales_a, customer=customer, data={"vin": "LSVAU2180N2183294"})
    assert "第 9 位" in str(caught.value.message_dict["vin"])

    vehicle = vehicle_create(user=sales_a, customer=customer, data={"vin": VIN_CN.lower(), "plate_no": "苏A8K888"})
    assert (vehicle.vin, vehicle.store_id, vehicle.customer_id) == (VIN_CN, store_a.pk, customer.pk)
    assert vehicle.history.get().history_user_id == sales_a.pk

    with pytest.raises(VinTaken) as taken:
        vehicle_create(user=sales_a, customer=customer, data={"vin": VIN_CN})
    assert taken.value.vehicle == vehicle
    assert Vehicle.objects.count() == 1


def test_vehicle_on_another_stores_card_is_refused(manager_b, store_a):
    customer = CustomerFactory(store=store_a)
    with pytest.raises(PermissionDenied):
        vehicle_create(user=manager_b, customer=customer, data={"vin": VIN})
    assert Vehicle.objects.count() == 0


# --- the pages ---------------------------------------------------------------------------------


def test_new_customer_page_shows_duplicates_then_creates_on_confirmation(client, advisor_a, store_a):
    existing = CustomerFactory(store=store_a, name="李娜", mobile="13900003333")
    client.force_login(advisor_a)
    url = reverse("customers:create")
    data = {"store": store_a.pk, "name": "李娜", "mobile": "139 0000 3333"}

    response = client.post(url, data)

    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-block="duplicates"' in body
    assert reverse("customers:detail", args=[existing.pk]) in body
    assert "139****3333" in body
    assert "13900003333" not in body
    assert Customer.objects.count() == 1

    response = client.post(url, {**data, "duplicates_confirmed": "on"})
    created = Customer.objects.exclude(pk=existing.pk).get()
    assert response.status_code == 302
    assert response.url == reverse("customers:detail", args=[created.pk])
    assert (created.mobile, created.is_provisional) == ("13900003333", True)


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "mobile": "13900001111"}, "name", "请输入客户姓名。"),
        ({"name": "王芳", "mobile": "1390000111"}, "mobile", "不是有效的大陆手机号"),
        ({"name": "王芳", "birthday": "2999-01-01"}, "birthday", "生日不能晚于今天。"),
    ],
)
def test_new_customer_bad_inputs(client, advisor_a, store_a, data, field, message):
    client.force_login(advisor_a)
    response = client.post(reverse("customers:create"), {"store": store_a.pk, **data})
    assert response.status_code == 400
    assert message in str(response.context["form"].errors[field])
    assert Customer.objects.count() == 0


def test_new_customer_page_in_chinese(client, advisor_a, store_a):
    client.force_login(advisor_a)
    response = client.get(reverse("customers:create"))
    assert response.status_code == 200
    assert "新建客户" in response.content.decode()


def test_manager_b_cannot_pick_store_a(client, manager_b, store_a):
    client.force_login(manager_b)
    response = client.post(reverse("customers:create"), {"store": store_a.pk, "name": "王芳"})
    assert response.status_code == 400
    assert "store" in response.context["form"].errors
    assert Customer.objects.count() == 0


def test_agent_has_no_new_customer_page(client, agent_a):
    client.force_login(agent_a)
    assert client.get(reverse("customers:create")).status_code == 403


def test_add_vehicle_page_links_the_card_holding_the_vin(client, advisor_a, store_a, store_b, manager_b):
    owner = CustomerFactory(store=store_a, name="钱多多")
    VehicleFactory(customer=owner, vin=VIN)
    customer = CustomerFactory(store=store_a)
    client.force_login(advisor_a)

    response = client.post(reverse("customers:vehicle_create", args=[customer.pk]), {"vin": VIN})

    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-action="open-vin-card"' in body
    assert reverse("customers:detail", args=[owner.pk]) in body

    # manager B, on a card of store B, learns only that the VIN exists.
    other = CustomerFactory(store=store_b)
    client.force_login(manager_b)
    response = client.post(reverse("customers:vehicle_create", args=[other.pk]), {"vin": VIN})
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-block="vin-taken"' in body
    assert reverse("customers:detail", args=[owner.pk]) not in body
    assert "钱多多" not in body
    assert Vehicle.objects.count() == 1


def test_add_vehicle_page_wrong_check_digit(client, advisor_a, store_a):
    customer = CustomerFactory(store=store_a)
    client.force_login(advisor_a)
    response = client.post(reverse("customers:vehicle_create", args=[customer.pk]), {"vin": "LSVAU2180N2183294"})
    assert response.status_code == 400
    assert "vin" in response.context["form"].errors
    assert Vehicle.objects.count() == 0


def test_add_vehicle_to_another_stores_card_is_404(client, manager_b, store_a):
    customer = CustomerFactory(store=store_a)
    client.force_login(manager_b)
    response = client.post(reverse("customers:vehicle_create", args=[customer.pk]), {"vin": VIN})
    assert response.status_code == 404
    assert Vehicle.objects.count() == 0
