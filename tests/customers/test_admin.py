"""The admin of the customers app applies the rules of every other screen: store scope, a
top-secret (绝密) card only for staff named on it, phones whole only with the unmask permission
(and every such view logged)."""

import pytest
from django.urls import reverse

from crm.choices import AuditAction
from crm.models import AuditLog
from customers.choices import Confidentiality
from customers.models import CustomerNote, ImportBatch, Segment
from tests.factories import CustomerFactory, RepairOrderFactory, UserFactory, VehicleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def secret_card(store_a):
    customer = CustomerFactory(store=store_a, customer_no="S0001", name="王机密", mobile="13800000001",
                               confidentiality=Confidentiality.TOP_SECRET)  # fmt: skip
    vehicle = VehicleFactory(customer=customer, vin="LGBH52E00SS000001")
    RepairOrderFactory(vehicle=vehicle, ro_no="ROS1")
    CustomerNote.objects.create(customer=customer, text="机密备注")
    return customer


@pytest.fixture
def open_card(store_a):
    customer = CustomerFactory(store=store_a, customer_no="O0001", name="李公开", mobile="13800000002")
    vehicle = VehicleFactory(customer=customer, vin="LGBH52E00OO000001")
    RepairOrderFactory(vehicle=vehicle, ro_no="ROO1")
    CustomerNote.objects.create(customer=customer, text="公开备注")
    return customer


LISTS = {
    "admin:customers_customer_changelist": ("S0001", "O0001"),
    "admin:customers_vehicle_changelist": ("LGBH52E00SS000001", "LGBH52E00OO000001"),
    "admin:customers_repairorder_changelist": ("ROS1", "ROO1"),
    "admin:customers_customernote_changelist": ("S0001", "O0001"),  # the note's customer
}


@pytest.mark.parametrize("url_name", LISTS)
def test_admin_lists_hide_a_top_secret_card_from_staff_not_named_on_it(client, admin_user, secret_card, open_card,
                                                                       url_name):  # fmt: skip
    client.force_login(admin_user)
    hidden, shown = LISTS[url_name]

    page = client.get(reverse(url_name)).content.decode()

    assert shown in page
    assert hidden not in page


@pytest.mark.parametrize("url_name", LISTS)
def test_admin_lists_show_a_top_secret_card_to_named_staff(client, admin_user, secret_card, url_name):
    secret_card.authorized_staff.add(admin_user)
    client.force_login(admin_user)

    page = client.get(reverse(url_name)).content.decode()

    assert LISTS[url_name][0] in page


def test_admin_change_page_of_a_top_secret_card_is_refused_to_staff_not_named(client, admin_user, secret_card):
    client.force_login(admin_user)

    response = client.get(reverse("admin:customers_customer_change", args=[secret_card.pk]))

    assert response.status_code == 404
    assert "13800000001" not in response.content.decode()
    assert AuditLog.objects.count() == 0


def test_admin_change_page_shows_the_whole_number_and_logs_the_view(client, admin_user, open_card):
    client.force_login(admin_user)

    response = client.get(reverse("admin:customers_customer_change", args=[open_card.pk]))

    assert 'value="13800000002"' in response.content.decode()
    entry = AuditLog.objects.get(action=AuditAction.VIEW_UNMASKED_PHONE)
    assert (entry.actor, entry.object_ids, entry.detail["via"]) == (admin_user, [str(open_card.pk)], "admin")


def test_admin_change_page_leaves_phones_out_for_staff_without_the_unmask_permission(client, store_a, open_card):
    from django.contrib.auth.models import Permission

    clerk = UserFactory(username="clerk", stores=[store_a], is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_customer", "change_customer"]))
    client.force_login(clerk)

    response = client.get(reverse("admin:customers_customer_change", args=[open_card.pk]))

    assert response.status_code == 200
    assert "13800000002" not in response.content.decode()
    assert "mobile" not in response.context["adminform"].form.fields
    assert AuditLog.objects.count() == 0


def test_segment_admin_shows_only_the_segments_of_the_users_stores(client, manager_b, store_a, store_b):
    # A segment without a store is the group's: not shown to a manager of one store.
    Segment.objects.create(name="A店流失", store=store_a, definition={})
    Segment.objects.create(name="B店流失", store=store_b, definition={})
    Segment.objects.create(name="全部", definition={})
    manager_b.is_staff = True
    manager_b.save(update_fields=["is_staff"])
    client.force_login(manager_b)

    response = client.get(reverse("admin:customers_segment_changelist"))

    assert sorted(segment.name for segment in response.context["cl"].result_list) == ["B店流失"]
    store_field = client.get(reverse("admin:customers_segment_add")).context["adminform"].form.fields["store"]
    assert list(store_field.queryset) == [store_b]


def test_import_batch_admin_shows_a_store_user_only_their_own_batches(client, store_a, admin_user):
    from django.contrib.auth.models import Permission

    clerk = UserFactory(username="importer", stores=[store_a], is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_importbatch"))
    ImportBatch.objects.create(kind="customers", file_name="mine.csv", user=clerk)
    ImportBatch.objects.create(kind="customers", file_name="theirs.csv", user=admin_user)
    client.force_login(clerk)

    response = client.get(reverse("admin:customers_importbatch_changelist"))

    assert [batch.file_name for batch in response.context["cl"].result_list] == ["mine.csv"]


def test_a_card_saved_in_the_admin_gets_new_search_keys_history_and_segment_facts(client, admin_user, open_card):
    client.force_login(admin_user)
    url = reverse("admin:customers_customer_change", args=[open_card.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None and name != "authorized_staff"}
    data.update(name="张伟", gender="F", store=open_card.store_id)

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    open_card.refresh_from_db()
    assert (open_card.name_pinyin, open_card.name_initials) == ("zhangwei", "zw")
    assert open_card.history.first().history_user == admin_user
    assert open_card.stats.gender == "F"


def test_a_vehicle_moved_to_another_owner_in_the_admin_refreshes_both_owners(client, admin_user, open_card, store_a):
    new_owner = CustomerFactory(store=store_a, customer_no="O0002")
    vehicle = open_card.vehicles.get()
    client.force_login(admin_user)
    url = reverse("admin:customers_vehicle_change", args=[vehicle.pk])
    form = client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(customer=new_owner.pk, store=store_a.pk)

    response = client.post(url, data)

    assert response.status_code == 302
    open_card.refresh_from_db()
    new_owner.refresh_from_db()
    assert (open_card.stats.vehicle_brands, new_owner.stats.vehicle_brands) == ([], ["东风日产"])
