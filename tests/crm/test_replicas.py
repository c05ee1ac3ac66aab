"""The read-replica router without a replica (the normal case): nothing is routed, and every page
the apps list for the replica exists."""

import pytest
from django.conf import settings
from django.urls import NoReverseMatch, reverse

from crm.models import Store
from crm.replicas import ReplicaRouter, reads_from_replica, replica_read_view_names


def test_every_listed_page_is_a_url_of_the_project():
    names = replica_read_view_names()
    assert names >= {"followups:reports", "complaints:dashboard", "customers:retention", "clubs:referral_report"}
    for name in names:
        try:
            reverse(name)
        except NoReverseMatch:
            reverse(name, kwargs={"pk": 1})


def test_without_a_replica_reads_stay_on_default():
    assert "replica" not in settings.DATABASES
    router = ReplicaRouter()
    with reads_from_replica():
        assert router.db_for_read(Store) is None
    assert (router.db_for_write(Store), router.allow_migrate("replica", "crm")) == ("default", False)


@pytest.mark.django_db
def test_a_report_page_works_without_a_replica(client, manager_a):
    from tests.conftest import verified_force_login

    verified_force_login(client, manager_a)
    assert client.get(reverse("followups:reports")).status_code == 200
