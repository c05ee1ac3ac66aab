"""The sales desk's delivery (docs/desk.md): the service, the page, the club's listener, the
follow-ups a delivered car starts, store scope."""

import datetime
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from clubs.models import Membership, Referral
from crm.choices import Role
from customers import deliveries
from customers.choices import ConsentPurpose, ConsentSource, DeliverySource
from customers.models import Customer, CustomerConsent, Delivery, Vehicle
from customers.services import DeliveryConsent, VinTaken, delivery_record
from followups.models import FollowupTask
from followups.services import followups_generate_day
from tests.factories import CustomerFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db
D = datetime.date
VIN = "LSVAU218XN2183294"
COUNT = 3


def today():
    return timezone.localdate()


def start_club(store, day):
    call_command("club_start", "--store", store.code, "--date", day.isoformat(), stdout=io.StringIO())


def vehicle_data(**fields):
    return {"vin": VIN, "plate_no": "苏A8K888", "brand": "大众", "series": "帕萨特", "model": "330TSI",
            "color": "白", "delivery_date": today(), "invoice_price": Decimal("219800.00"), "insurer": "人保",
            "insurance_expiry": today() + datetime.timedelta(days=365),
            "warranty_end": today() + datetime.timedelta(days=3 * 365), **fields}  # fmt: skip


def record(user, store, **kwargs):
    kwargs.setdefault("vehicle_data", vehicle_data())
    kwargs.setdefault("consultant", user)
    kwargs.setdefault("source", DeliverySource.SHOWROOM)
    if "customer" not in kwargs:
        kwargs.setdefault("customer_data", {"name": "孙丽", "mobile": "13700001234"})
    return delivery_record(user=user, store=store, **kwargs)


def test_a_new_customer_with_a_referrer_joins_the_club_and_the_referral_is_won(
    sales_a, store_a, django_capture_on_commit_callbacks
):
    start_club(store_a, today() - datetime.timedelta(days=100))
    referrer = CustomerFactory(store=store_a, name="老周", mobile="13900000001")
    VehicleFactory(customer=referrer, delivery_date=today() - datetime.timedelta(days=400))
    call_command("club_run", "--date", today().isoformat(), stdout=io.StringIO())  # the referrer is a member

    with django_capture_on_commit_callbacks(execute=True):
        delivery = record(
            sales_a, store_a, source=DeliverySource.OWNER_REFERRAL, referrer_customer=referrer,
            service_consent=DeliveryConsent(is_granted=True, note="交车单签字"),
            marketing_consent=DeliveryConsent(is_granted=True, note="交车单签字"),
        )  # fmt: skip

    buyer = delivery.customer
    assert (buyer.name, buyer.mobile, buyer.is_provisional, buyer.store_id) == ("孙丽", "13700001234", True, store_a.pk)
    vehicle = Vehicle.objects.get(vin=VIN)
    assert (vehicle.customer_id, vehicle.delivery_date, vehicle.sales_consultant) == (buyer.pk, today(), "王明")
    assert (delivery.vehicle_id, delivery.consultant_id, delivery.referrer_customer_id, delivery.recorded_by_id) == (
        vehicle.pk, sales_a.pk, referrer.pk, sales_a.pk,
    )  # fmt: skip
    consents = {c.purpose: (c.is_granted, c.source, c.recorded_by_id, c.note) for c in buyer.consents.all()}
    assert consents == {
        ConsentPurpose.SERVICE: (True, ConsentSource.DESK, sales_a.pk, "交车单签字"),
        ConsentPurpose.MARKETING: (True, ConsentSource.DESK, sales_a.pk, "交车单签字"),
    }
    member = Membership.objects.get(customer=buyer)
    assert member.joined_on == today()
    assert member.card_no.startswith("MNJ01")
    referral = Referral.objects.get(prospect_mobile="13700001234")
    assert (referral.referrer_id, referral.referred_on, referral.stage, referral.consultant_id) == (
        referrer.pk, today(), "new", sales_a.pk,
    )  # fmt: skip

    call_command("club_run", "--date", today().isoformat(), stdout=io.StringIO())
    call_command("club_run", "--date", today().isoformat(), stdout=io.StringIO())  # twice: the same result
    referral.refresh_from_db()
    assert (referral.stage, referral.won_vehicle_id, referral.won_customer_id) == ("won", vehicle.pk, buyer.pk)
    assert Membership.objects.filter(customer=buyer).count() == 1


def test_listeners_run_twice_record_one_membership_and_one_referral(sales_a, store_a):
    start_club(store_a, today() - datetime.timedelta(days=100))
    colleague = UserFactory(username="sales_a2", role=Role.SALES_CONSULTANT, stores=[store_a])
    delivery = record(sales_a, store_a, source=DeliverySource.STAFF_REFERRAL, referrer_staff=colleague)
    event = deliveries.DeliveryRecorded(
        delivery_id=delivery.pk, vehicle_id=delivery.vehicle_id, customer_id=delivery.customer_id,
        store_id=store_a.pk, consultant_id=sales_a.pk, source=delivery.source, referrer_customer_id=None,
        referrer_staff_id=colleague.pk, delivered_on=delivery.delivered_on, recorded_by_id=sales_a.pk,
    )  # fmt: skip
    deliveries._call_listeners(event)
    deliveries._call_listeners(event)
    assert Membership.objects.filter(customer_id=delivery.customer_id).count() == 1
    assert list(Referral.objects.values_list("referrer_staff_id", "prospect_mobile")) == [(colleague.pk, "13700001234")]


def test_before_the_club_starts_the_delivery_stands_without_membership(
    sales_a, store_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        delivery = record(sales_a, store_a)
    assert Delivery.objects.get() == delivery
    assert Membership.objects.count() == 0


def test_a_failing_listener_undoes_nothing(sales_a, store_a, django_capture_on_commit_callbacks):
    calls = []

    def broken(event):
        calls.append(event.delivery_id)
        raise RuntimeError("boom")

    deliveries.delivery_listener_register("tests.broken", broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            delivery = record(sales_a, store_a)
    finally:
        deliveries.delivery_listener_unregister("tests.broken")
    assert calls == [delivery.pk]
    assert Delivery.objects.count() == 1


def test_an_existing_customer_takes_delivery(sales_a, store_a):
    customer = CustomerFactory(store=store_a, name="郑凯")
    delivery = record(sales_a, store_a, customer=customer)
    assert delivery.customer == customer
    assert Customer.objects.count() == 1
    assert customer.vehicles.get().vin == VIN


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"vehicle_data": vehicle_data(delivery_date=D(2999, 1, 1))}, "delivery_date"),
        ({"vehicle_data": vehicle_data(insurance_expiry=D(2000, 1, 1))}, "insurance_expiry"),
        ({"vehicle_data": vehicle_data(warranty_end=D(2000, 1, 1))}, "warranty_end"),
        ({"vehicle_data": vehicle_data(vin="LSVAU2180N2183294")}, "vin"),
        ({"source": DeliverySource.OWNER_REFERRAL}, "referrer_customer"),
        ({"source": DeliverySource.STAFF_REFERRAL}, "referrer_staff"),
    ],
)
def test_bad_deliveries_save_nothing(sales_a, store_a, change, field):
    with pytest.raises(ValidationError) as caught:
        record(sales_a, store_a, **change)
    assert field in caught.value.message_dict
    assert (Customer.objects.count(), Vehicle.objects.count(), Delivery.objects.count()) == (0, 0, 0)


def test_a_consultant_of_another_store_is_refused(sales_a, store_a, store_b):
    other = UserFactory(username="sales_b", role=Role.SALES_CONSULTANT, stores=[store_b])
    with pytest.raises(ValidationError) as caught:
        record(sales_a, store_a, consultant=other)
    assert "consultant" in caught.value.message_dict
    assert Delivery.objects.count() == 0


def test_a_vin_already_in_the_crm_rolls_the_new_card_back(sales_a, store_a):
    VehicleFactory(customer__store=store_a, vin=VIN)
    with pytest.raises(VinTaken):
        record(sales_a, store_a)
    assert Customer.objects.count() == 1  # the old owner only: the new card is rolled back
    assert Delivery.objects.count() == 0


def test_manager_b_cannot_deliver_to_a_store_a_customer(manager_b, store_a, store_b):
    customer = CustomerFactory(store=store_a)
    with pytest.raises((PermissionDenied, ValidationError)):
        record(manager_b, store_a, customer=customer)
    with pytest.raises(PermissionDenied):
        record(manager_b, store_b, customer=customer)
    assert (Vehicle.objects.count(), Delivery.objects.count(), CustomerConsent.objects.count()) == (0, 0, 0)


def test_an_advisor_may_not_record_deliveries(advisor_a, store_a):
    with pytest.raises(PermissionDenied):
        record(advisor_a, store_a, consultant=advisor_a)
    assert Delivery.objects.count() == 0


def test_a_delivered_car_gets_delivery_thanks_and_first_service_invite(sales_a, store_a):
    delivered = D(2026, 11, 2)  # a Monday
    delivery = record(sales_a, store_a, vehicle_data=vehicle_data(delivery_date=delivered))

    for day in (D(2026, 11, 5), D(2026, 11, 9)):
        followups_generate_day(day=day, store_ids=[store_a.pk])
        followups_generate_day(day=day, store_ids=[store_a.pk])  # twice: nothing more

    made = sorted(FollowupTask.objects.filter(vehicle_id=delivery.vehicle_id).values_list("code", "rule_date"))
    assert made == [("delivery_thanks", D(2026, 11, 5)), ("first_service_invite", D(2026, 11, 9))]


# --- the page ----------------------------------------------------------------------------------


def page_data(**fields):
    data = {
        "customer-store": "", "customer-name": "孙丽", "customer-mobile": "137 0000 1234",
        "vehicle-vin": VIN, "vehicle-plate_no": "苏A8K888", "vehicle-brand": "大众", "vehicle-series": "帕萨特",
        "vehicle-delivery_date": today().isoformat(), "vehicle-invoice_price": "219800",
        "vehicle-insurance_expiry": (today() + datetime.timedelta(days=365)).isoformat(),
        "source": DeliverySource.SHOWROOM, "service_consent": "yes", "marketing_consent": "no",
    }  # fmt: skip
    data.update(fields)
    return data


def test_the_page_records_a_delivery_for_a_new_customer(client, sales_a, store_a):
    client.force_login(sales_a)
    data = page_data(**{"customer-store": store_a.pk, "consultant": sales_a.pk})
    response = client.post(reverse("customers:delivery_record"), data)
    buyer = Customer.objects.get()
    assert response.status_code == 302
    # The handover goes on with the delivery interview of the new car.
    assert response.url == reverse("customers:delivery-interview", args=[buyer.vehicles.get().pk])
    assert Delivery.objects.get().customer == buyer
    consents = dict(buyer.consents.values_list("purpose", "is_granted"))
    assert consents == {"service": True, "marketing": False}


@pytest.mark.parametrize(
    ("fields", "form", "field", "message"),
    [
        ({"vehicle-vin": "LSVAU2180N2183294"}, "vehicle_form", "vin", "第 9 位"),
        ({"customer-mobile": "1370000123"}, "customer_form", "mobile", "不是有效的大陆手机号"),
        ({"vehicle-delivery_date": "2999-01-01"}, "vehicle_form", "delivery_date", "交车日期不能晚于今天。"),
        ({"vehicle-insurance_expiry": "2000-01-01"}, "vehicle_form", "insurance_expiry", "保险到期日早于交车日期"),
        ({"source": "owner_referral"}, "form", "source", "请搜索并选择介绍购车的老客户。"),
    ],
)
def test_the_page_explains_bad_inputs(client, sales_a, store_a, fields, form, field, message):
    client.force_login(sales_a)
    data = page_data(**{"customer-store": store_a.pk, "consultant": sales_a.pk, **fields})
    response = client.post(reverse("customers:delivery_record"), data)
    assert response.status_code == 400
    assert message in " ".join(response.context[form].errors[field])
    assert (Customer.objects.count(), Vehicle.objects.count(), Delivery.objects.count()) == (0, 0, 0)


def test_the_page_warns_of_a_duplicate_and_links_the_duplicate_vin(client, sales_a, store_a):
    existing = CustomerFactory(store=store_a, name="孙丽", mobile="13700001234")
    client.force_login(sales_a)
    data = page_data(**{"customer-store": store_a.pk, "consultant": sales_a.pk})
    response = client.post(reverse("customers:delivery_record"), data)
    assert response.status_code == 400
    assert f'data-duplicate="{existing.pk}"' in response.content.decode()
    assert Delivery.objects.count() == 0

    VehicleFactory(customer=existing, vin=VIN)
    response = client.post(reverse("customers:delivery_record"), {**data, "customer-duplicates_confirmed": "on"})
    assert response.status_code == 400
    assert 'data-action="open-vin-card"' in response.content.decode()
    assert (Customer.objects.count(), Delivery.objects.count()) == (1, 0)


def test_the_page_for_a_found_customer_and_its_query_count(client, sales_a, store_a, django_assert_num_queries):
    customers = [CustomerFactory(store=store_a, name=f"郑{index}") for index in range(COUNT)]
    client.force_login(sales_a)
    client.get(reverse("customers:delivery_record"), {"q": "郑"})  # warm the session and caches
    # 15 before the staff and store selects read their choices once (crm/widgets.py ListSelect)
    with django_assert_num_queries(9):
        response = client.get(reverse("customers:delivery_record"), {"q": "郑"})
    body = response.content.decode()
    for customer in customers:
        assert f'data-pick-buyer="{customer.pk}"' in body

    data = page_data(customer=customers[0].pk, consultant=sales_a.pk)
    response = client.post(reverse("customers:delivery_record") + f"?customer={customers[0].pk}", data)
    assert response.status_code == 302
    assert Delivery.objects.get().customer == customers[0]


def test_manager_b_sees_nothing_of_store_a_on_the_page(client, manager_b, store_a):
    customer = CustomerFactory(store=store_a, name="郑凯")
    client.force_login(manager_b)
    response = client.get(reverse("customers:delivery_record"), {"q": "郑凯"})
    body = response.content.decode()
    assert "data-pick-buyer" not in body
    assert customer.customer_no not in body
    response = client.post(reverse("customers:delivery_record"), page_data(customer=customer.pk))
    assert response.status_code == 404
    assert (Vehicle.objects.count(), Delivery.objects.count()) == (0, 0)


def test_the_sales_landing_page_offers_the_delivery(client, sales_a):
    client.force_login(sales_a)
    response = client.get("/")
    assert reverse("customers:delivery_record") in response.content.decode()


def test_an_agent_has_no_delivery_page(client, agent_a):
    client.force_login(agent_a)
    assert client.get(reverse("customers:delivery_record")).status_code == 403


def test_the_buyers_and_the_referrers_data_export_hold_the_delivery(sales_a, store_a):
    from customers.privacy import customer_personal_data

    referrer = CustomerFactory(store=store_a, name="老周")
    delivery = record(sales_a, store_a, source=DeliverySource.OWNER_REFERRAL, referrer_customer=referrer)
    for customer in (delivery.customer, referrer):
        rows = customer_personal_data(customer=customer)["deliveries"]
        assert [(row["id"], row["source"]) for row in rows] == [(delivery.pk, "owner_referral")]
