import pytest
from django.urls import reverse

from crm.choices import AuditAction
from crm.models import AuditLog
from customers.choices import Confidentiality
from tests.factories import CustomerFactory, VehicleFactory


@pytest.fixture
def customer_a(store_a):
    return CustomerFactory(store=store_a, customer_no="CA0001", name="张伟", mobile="13812341234")


@pytest.fixture
def customer_b(store_b):
    return CustomerFactory(store=store_b, customer_no="CB0001", name="李娜", mobile="13987654321")


def test_manager_of_store_b_gets_404_for_store_a_customer(client, manager_b, customer_a):
    client.force_login(manager_b)

    response = client.get(reverse("customers:detail", args=[customer_a.pk]))

    assert response.status_code == 404


def test_manager_of_store_b_sees_none_of_store_a_in_the_list(client, manager_b, customer_a, customer_b):
    client.force_login(manager_b)

    response = client.get(reverse("customers:list"))

    assert [customer.customer_no for customer in response.context["page"].object_list] == ["CB0001"]
    assert "CA0001" not in response.content.decode()


def test_advisor_sees_masked_mobile_and_the_full_number_never_reaches_the_page(client, advisor_a, customer_a):
    client.force_login(advisor_a)

    detail = client.get(reverse("customers:detail", args=[customer_a.pk])).content.decode()
    listing = client.get(reverse("customers:list")).content.decode()

    assert "138****1234" in detail
    assert "13812341234" not in detail
    assert "138****1234" in listing
    assert "13812341234" not in listing
    assert AuditLog.objects.count() == 0


def test_manager_sees_the_full_number_and_the_view_is_logged(client, manager_a, customer_a):
    client.force_login(manager_a)

    detail = client.get(reverse("customers:detail", args=[customer_a.pk])).content.decode()

    assert "13812341234" in detail
    entry = AuditLog.objects.get()
    assert (entry.actor, entry.action, entry.object_ids) == (
        manager_a,
        AuditAction.VIEW_UNMASKED_PHONE,
        [str(customer_a.pk)],
    )


def test_top_secret_card_is_visible_only_to_named_staff(client, advisor_a, manager_a, store_a):
    secret = CustomerFactory(store=store_a, confidentiality=Confidentiality.TOP_SECRET)
    secret.authorized_staff.add(advisor_a)

    client.force_login(manager_a)
    assert client.get(reverse("customers:detail", args=[secret.pk])).status_code == 404
    client.force_login(advisor_a)
    assert client.get(reverse("customers:detail", args=[secret.pk])).status_code == 200


def test_search_by_plate_and_customer_no(client, advisor_a, customer_a, store_a):
    VehicleFactory(customer=customer_a, plate_no="苏A12345")
    CustomerFactory(store=store_a, customer_no="CA0002", name="王芳")
    client.force_login(advisor_a)

    by_plate = client.get(reverse("customers:list"), {"q": "苏A12345"}).context["page"].object_list
    by_number = client.get(reverse("customers:list"), {"q": "CA0002"}).context["page"].object_list

    assert [customer.customer_no for customer in by_plate] == ["CA0001"]
    assert [customer.customer_no for customer in by_number] == ["CA0002"]


def test_customer_list_query_count_does_not_grow_with_rows(client, advisor_a, store_a, django_assert_num_queries):
    CustomerFactory.create_batch(30, store=store_a)
    client.force_login(advisor_a)

    # session, the user (with their stores, role and permissions), count, page,
    # the page's membership badges (one query for the page, customers.membership)
    with django_assert_num_queries(5):
        response = client.get(reverse("customers:list"))

    assert len(response.context["page"].object_list) == 25


@pytest.mark.parametrize("url_name", ["customers:list", "customers:segment_list"])
def test_a_nul_character_in_the_search_is_a_clear_message_not_a_server_error(client, manager_a, customer_a, url_name):
    client.force_login(manager_a)

    response = client.get(reverse(url_name), {"q": "张\x00伟"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert response.context["search"] == ""
    assert [str(message) for message in response.context["messages"]] == ["Null characters are not allowed."]


def test_the_edit_page_shows_a_manager_the_whole_number_and_logs_it(client, manager_a, customer_a):
    client.force_login(manager_a)

    response = client.get(reverse("customers:edit", args=[customer_a.pk]))

    assert 'value="13812341234"' in response.content.decode()
    entry = AuditLog.objects.get(action=AuditAction.VIEW_UNMASKED_PHONE)
    assert (entry.actor, entry.object_ids) == (manager_a, [str(customer_a.pk)])


def test_the_edit_page_keeps_the_number_from_an_advisor_and_logs_nothing(client, advisor_a, customer_a):
    client.force_login(advisor_a)

    response = client.get(reverse("customers:edit", args=[customer_a.pk]))

    assert response.status_code == 200
    assert "13812341234" not in response.content.decode()
    assert "138****1234" in response.content.decode()
    assert AuditLog.objects.count() == 0
