import pytest
from django.urls import get_resolver, reverse
from rest_framework.authtoken.models import Token

from crm.models import AuditLog
from tests.factories import CustomerFactory, RepairOrderFactory, VehicleFactory


@pytest.fixture
def spine(store_a, store_b):
    customer_a = CustomerFactory(store=store_a, customer_no="CA0001", mobile="13812341234")
    vehicle_a = VehicleFactory(customer=customer_a, vin="LGBH52E00AA000001")
    RepairOrderFactory(vehicle=vehicle_a, ro_no="ROA1")
    customer_b = CustomerFactory(store=store_b, customer_no="CB0001", mobile="13987654321")
    vehicle_b = VehicleFactory(customer=customer_b, vin="LGBH52E00BB000001")
    RepairOrderFactory(vehicle=vehicle_b, ro_no="ROB1")
    return {"customer_a": customer_a, "vehicle_a": vehicle_a, "customer_b": customer_b}


def api_paths() -> list[str]:
    """Every API route (list and detail), with 1 for path parameters."""
    paths = []
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern) != "api/":
            continue
        for name in get_resolver().reverse_dict:
            if isinstance(name, str) and name.endswith(("-list", "-detail")):
                kwargs = {"pk": 1} if name.endswith("-detail") else {}
                paths.append(reverse(name, kwargs=kwargs))
    return sorted(set(paths))


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_every_api_operation_denies_anonymous(api_client, method):
    paths = api_paths()
    assert len(paths) >= 8

    for path in paths:
        response = getattr(api_client, method)(path)
        assert response.status_code == 401, (method, path)


def test_api_store_scoping(api_client, manager_b, spine):
    api_client.force_authenticate(manager_b)

    customers = api_client.get("/api/customers/").json()
    vehicles = api_client.get("/api/vehicles/").json()
    orders = api_client.get("/api/repair-orders/").json()

    assert [row["customer_no"] for row in customers["results"]] == ["CB0001"]
    assert [row["vin"] for row in vehicles["results"]] == ["LGBH52E00BB000001"]
    assert [row["ro_no"] for row in orders["results"]] == ["ROB1"]
    assert api_client.get(f"/api/customers/{spine['customer_a'].pk}/").status_code == 404
    assert api_client.get(f"/api/vehicles/{spine['vehicle_a'].pk}/").status_code == 404


def test_api_masks_for_agents_with_a_token(api_client, agent_a, spine):
    token = Token.objects.create(user=agent_a)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    response = api_client.get(f"/api/customers/{spine['customer_a'].pk}/")

    assert response.status_code == 200
    assert response.json()["mobile"] == "138****1234"
    assert AuditLog.objects.count() == 0


def test_api_shows_managers_the_full_number_and_logs_it(api_client, manager_a, spine):
    api_client.force_authenticate(manager_a)

    response = api_client.get("/api/customers/")

    assert [row["mobile"] for row in response.json()["results"]] == ["13812341234"]
    assert AuditLog.objects.get().object_ids == [str(spine["customer_a"].pk)]


def test_api_writes_are_refused_even_for_managers(api_client, manager_a, spine):
    api_client.force_authenticate(manager_a)

    response = api_client.patch(f"/api/customers/{spine['customer_a'].pk}/", {"name": "改名"}, format="json")

    assert response.status_code == 405
    spine["customer_a"].refresh_from_db()
    assert spine["customer_a"].name == "张伟"


def test_api_filters_and_search(api_client, manager_a, spine, store_a):
    CustomerFactory(store=store_a, customer_no="CA0002", name="王芳", district="鼓楼区")
    api_client.force_authenticate(manager_a)

    by_district = api_client.get("/api/customers/", {"district": "鼓楼区"}).json()
    by_initials = api_client.get("/api/customers/", {"search": "wf"}).json()

    assert [row["customer_no"] for row in by_district["results"]] == ["CA0002"]
    assert [row["customer_no"] for row in by_initials["results"]] == ["CA0002"]
    assert by_district["count"] == 1


def test_api_list_query_count_is_flat(api_client, agent_a, store_a, django_assert_num_queries):
    CustomerFactory.create_batch(20, store=store_a)
    api_client.force_authenticate(agent_a)

    # permissions(2), user's stores, count, page
    with django_assert_num_queries(5):
        response = api_client.get("/api/customers/")

    assert response.json()["count"] == 20


@pytest.mark.django_db
def test_api_logs_no_view_when_no_number_was_shown(api_client, manager_a, spine):
    api_client.force_authenticate(manager_a)

    response = api_client.get("/api/customers/", {"district": "no-such-district"})

    assert response.json()["count"] == 0
    assert AuditLog.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/vehicles/", "/api/repair-orders/"])
def test_api_vehicle_and_repair_order_lists_query_count_is_flat(
    api_client, agent_a, store_a, path, django_assert_num_queries
):
    for number in range(20):
        RepairOrderFactory(vehicle=VehicleFactory(customer=CustomerFactory(store=store_a), store=store_a),
                           store=store_a, ro_no=f"RO{number:04d}")  # fmt: skip
    api_client.force_authenticate(agent_a)

    # permissions(2), user's stores, count, page
    with django_assert_num_queries(5):
        response = api_client.get(path)

    assert response.json()["count"] == 20
