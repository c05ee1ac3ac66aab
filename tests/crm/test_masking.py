import pytest

from crm.masking import mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13812341234", "138****1234"),
        ("025-84561234", "025-****1234"),
        ("", ""),
        (None, ""),
        ("1234", "****"),
    ],
)
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


@pytest.mark.django_db
def test_the_unmask_permission_is_the_one_the_customers_app_registers(manager_a, agent_a):
    from crm.masking import PhoneNumbers, can_see_full_phone, phone_for_user, registered_phone_numbers

    assert registered_phone_numbers() == PhoneNumbers(
        unmask_permission="customers.view_unmasked_phone", object_type="customers.customer"
    )
    assert (can_see_full_phone(manager_a), can_see_full_phone(agent_a)) == (True, False)
    assert (phone_for_user(manager_a, "13812341234"), phone_for_user(agent_a, "13812341234")) == (
        "13812341234",
        "138****1234",
    )


@pytest.mark.django_db
def test_with_no_app_registering_phone_numbers_everybody_sees_them_masked(monkeypatch, manager_a, admin_user):
    from django.apps import apps

    from crm.masking import can_see_full_phone, phone_for_user, phone_reveal_record
    from crm.models import AuditLog

    monkeypatch.setattr(apps.get_app_config("customers"), "phone_numbers", None)

    assert (can_see_full_phone(manager_a), can_see_full_phone(admin_user)) == (False, False)
    assert phone_for_user(admin_user, "13812341234") == "138****1234"
    phone_reveal_record(user=admin_user, object_ids=[1], path="/customers/")
    assert AuditLog.objects.count() == 0


@pytest.mark.django_db
def test_a_reveal_names_the_registered_object_type_unless_told_otherwise(manager_a):
    from crm.masking import phone_reveal_record
    from crm.models import AuditLog

    phone_reveal_record(user=manager_a, object_ids=[7, 7, 3], path="/customers/")
    phone_reveal_record(user=manager_a, object_ids=[9], path="/x/", object_type="clubs.prospect")

    assert list(AuditLog.objects.order_by("id").values_list("action", "object_type", "object_ids")) == [
        ("view_unmasked_phone", "customers.customer", ["7", "3"]),
        ("view_unmasked_phone", "clubs.prospect", ["9"]),
    ]
