import pytest
from django.utils import translation

from complaints.models import StoreComplaintSettings
from crm.choices import Role
from tests.complaints.factories import ComplaintTypeFactory
from tests.factories import CustomerFactory, UserFactory, VehicleFactory


@pytest.fixture(autouse=True)
def english_messages(settings):
    """These tests read messages by their English msgids; tests/crm/test_translations.py checks that
    the Chinese catalogue translates every one of them."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def sales_manager_a(store_a):
    return UserFactory(username="sales_manager_a", last_name="赵", first_name="强", role=Role.MANAGER, stores=[store_a])


@pytest.fixture
def general_manager_a(store_a):
    return UserFactory(username="gm_a", last_name="钱", first_name="总", role=Role.MANAGER, stores=[store_a])


@pytest.fixture
def routing_a(store_a, manager_a, sales_manager_a, general_manager_a):
    """Store A: manager_a runs service, sales_manager_a sales, gm_a is the general manager."""
    return StoreComplaintSettings.objects.create(
        store=store_a,
        service_manager=manager_a,
        sales_manager=sales_manager_a,
        general_manager=general_manager_a,
        escalation_emails="chairman@example.com",
    )


@pytest.fixture
def customer_a(store_a):
    return CustomerFactory(store=store_a, customer_no="CA0001", name="张伟", mobile="13812341234")


@pytest.fixture
def vehicle_a(customer_a):
    return VehicleFactory(customer=customer_a, plate_no="苏A12345", vin="LGBH52E0000000001")


@pytest.fixture
def customer_b(store_b):
    return CustomerFactory(store=store_b, customer_no="CB0001", name="李娜")


@pytest.fixture
def attitude():
    return ComplaintTypeFactory(name="服务态度")
