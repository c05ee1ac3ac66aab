"""The signed-in user read in one statement (crm.auth_backends.StaffBackend): the same user, role,
permissions and stores as Django's own reads, no further statement for them, nothing kept from one
request to the next."""

import re

import pytest
from django.contrib.auth import SESSION_KEY, get_user
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.auth_backends import StaffBackend
from crm.choices import Role
from crm.models import User
from crm.prepared import statement_text
from crm.scoping import member_store_ids
from tests.factories import StoreFactory, UserFactory


def reads(backend, user, stores: list[int]) -> dict:
    return {
        "role": user.role,
        "user_perms": backend.get_user_permissions(user),
        "group_perms": backend.get_group_permissions(user),
        "all_perms": backend.get_all_permissions(user),
        "stores": stores,
    }


def django_reads(user_id: int) -> dict:
    """What ModelBackend and crm.models.User read of a user, each by its own statement."""
    user = ModelBackend().get_user(user_id)
    return reads(ModelBackend(), user, list(user.stores.values_list("id", flat=True)))


def staff_reads(user) -> dict:
    return reads(StaffBackend(), user, member_store_ids(user))


@pytest.mark.django_db
@pytest.mark.parametrize("role", list(Role))
def test_each_role_reads_as_django_reads_it_in_one_statement(role, store_a, store_b):
    user = UserFactory(username=f"user_{role.value}", role=role, stores=[store_b, store_a])
    user.user_permissions.add(Permission.objects.get(codename="view_auditlog"))
    with CaptureQueriesContext(connection) as queries:
        signed_in = StaffBackend().get_user(str(user.pk))  # the session holds the ID as text
        reads = staff_reads(signed_in)
        assert signed_in.has_perm("customers.view_customer") is ("customers.view_customer" in reads["all_perms"])
    assert len(queries) == 1
    assert reads == django_reads(user.pk)
    assert reads["stores"] == [store_a.pk, store_b.pk]  # by store code, as user.stores lists them
    assert "crm.view_auditlog" in reads["user_perms"]
    assert reads["role"] == role.value


@pytest.mark.django_db
def test_a_permission_store_or_role_taken_away_applies_on_the_next_request(client, agent_a, store_a, store_b):
    agent_a.stores.add(store_b)
    client.force_login(agent_a)
    assert client.get("/followups/queue/").status_code == 200
    group = Group.objects.get(name=Role.CALL_AGENT.value)
    group.permissions.remove(Permission.objects.get(codename="work_call_queue"))
    assert client.get("/followups/queue/").status_code == 403
    group.permissions.add(Permission.objects.get(codename="work_call_queue"))
    agent_a.stores.remove(store_b)
    request = client.get("/followups/queue/").wsgi_request
    assert member_store_ids(request.user) == [store_a.pk]
    agent_a.groups.clear()
    request = client.get("/").wsgi_request
    assert request.user.role is None
    assert not request.user.has_perm("followups.work_call_queue")


@pytest.mark.django_db
def test_an_inactive_or_unknown_user_is_signed_out(client, agent_a, rf):
    assert StaffBackend().get_user(str(agent_a.pk + 1000)) is None
    assert StaffBackend().get_user("not a number") is None
    client.force_login(agent_a)
    User.objects.filter(pk=agent_a.pk).update(is_active=False)
    request = rf.get("/")
    request.session = client.session
    assert request.session[SESSION_KEY] == str(agent_a.pk)
    assert not get_user(request).is_authenticated


@pytest.mark.django_db
def test_a_superuser_has_every_permission(store_a):
    user = UserFactory(username="root", is_superuser=True, stores=[store_a])
    signed_in = StaffBackend().get_user(user.pk)
    assert signed_in.role == Role.ADMIN.value
    assert StaffBackend().get_all_permissions(signed_in) == ModelBackend().get_all_permissions(
        User.objects.get(pk=user.pk)
    )
    assert len(StaffBackend().get_all_permissions(signed_in)) == Permission.objects.count()


@pytest.mark.django_db
def test_a_page_reads_the_signed_in_user_once(client, agent_a):
    client.force_login(agent_a)
    with CaptureQueriesContext(connection) as queries:
        client.get("/followups/queue/")
    statements = [statement_text(query["sql"]) for query in queries]
    # No statement of its own for the groups, the permissions or the stores: the user's holds them.
    own = re.compile(r'SELECT [^()]* FROM ("auth_permission"|"auth_group"|"crm_store" INNER JOIN "crm_user_stores")')
    assert [sql for sql in statements if own.match(sql)] == []
    assert len([sql for sql in statements if sql.startswith('SELECT "crm_user"."id"')]) == 1


@pytest.mark.django_db
def test_two_users_share_the_compiled_statement_and_read_their_own(store_a, store_b):
    first = UserFactory(username="first", role=Role.CALL_AGENT, stores=[store_a])
    second = UserFactory(username="second", role=Role.MANAGER, stores=[StoreFactory(code="NJ09"), store_b])
    assert staff_reads(StaffBackend().get_user(first.pk)) == django_reads(first.pk)
    assert staff_reads(StaffBackend().get_user(second.pk)) == django_reads(second.pk)
