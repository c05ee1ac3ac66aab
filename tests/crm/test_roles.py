import pytest
from django.contrib.auth.models import Group

from crm.choices import Role


def permission_names(role: Role) -> set[str]:
    group = Group.objects.get(name=role.value)
    return {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}


@pytest.mark.django_db
def test_every_role_is_a_group():
    assert set(Group.objects.values_list("name", flat=True)) >= {role.value for role in Role}


@pytest.mark.django_db
def test_only_managers_and_admins_see_full_numbers_and_export():
    for role in Role:
        permissions = permission_names(role)
        sees = role in (Role.MANAGER, Role.ADMIN)
        assert ("customers.view_unmasked_phone" in permissions) is sees, role
        assert ("customers.export_customers" in permissions) is sees, role


@pytest.mark.django_db
def test_call_agent_reads_customers_and_writes_only_bookings():
    assert permission_names(Role.CALL_AGENT) >= {
        "customers.view_customer",
        "customers.view_vehicle",
        "customers.view_repairorder",
    }
    # A call may bring a prospect (a friend who wants a car) and end in a booked visit: the agent
    # records those, nothing more.
    agent_writes = {"customers.add_prospect", "customers.add_appointment", "customers.change_appointment"}
    assert agent_writes <= permission_names(Role.CALL_AGENT)
    assert not any(
        name.split(".")[1].startswith(("change_", "add_", "delete_"))
        for name in permission_names(Role.CALL_AGENT) - agent_writes
        if name.startswith("customers.")
    )
    assert {"customers.add_appointment", "customers.change_appointment"} <= permission_names(Role.CALL_AGENT)
    assert "customers.check_in_appointment" not in permission_names(Role.CALL_AGENT)


@pytest.mark.django_db
def test_only_admins_import_dms():
    assert [role for role in Role if "customers.import_dms" in permission_names(role)] == [Role.ADMIN]
