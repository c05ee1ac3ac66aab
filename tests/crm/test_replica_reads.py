"""With a read replica configured (DATABASE_REPLICA_URL; here Django's test mirror of the test
database, as `make test` runs this module), the report pages read from it and nothing else does."""

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crm.models import Store
from crm.prepared import statement_text
from crm.replicas import reads_from_replica
from tests.conftest import verified_force_login

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "replica"])


def _queries(alias, action):
    with CaptureQueriesContext(connections[alias]) as captured:
        result = action()
    return result, len(captured.captured_queries)


def test_a_report_page_reads_from_the_replica_and_the_call_queue_does_not(client, manager_a):
    verified_force_login(client, manager_a)
    with CaptureQueriesContext(connections["default"]) as on_default:
        response, on_replica = _queries("replica", lambda: client.get(reverse("followups:reports")))
    assert response.status_code == 200
    assert on_replica > 0
    # The session and the user may be read on default by the middleware before the view runs; the
    # report's own statements are on the replica.
    assert not any("followups_followuptask" in statement_text(query["sql"]) for query in on_default.captured_queries)

    response, on_replica = _queries("replica", lambda: client.get(reverse("followups:queue")))
    assert (response.status_code, on_replica) == (200, 0)


def test_a_post_to_a_report_page_is_not_routed(client, manager_a):
    verified_force_login(client, manager_a)
    _, on_replica = _queries("replica", lambda: client.post(reverse("complaints:dashboard")))
    assert on_replica == 0


def test_reads_in_the_block_go_to_the_replica_and_writes_never_do(store_a):
    with reads_from_replica():
        count, on_replica = _queries("replica", lambda: Store.objects.count())
        _, written_on_replica = _queries("replica", lambda: Store.objects.create(code="R1", name="镜像店"))
    assert (count, on_replica, written_on_replica) == (1, 1, 0)
    assert Store.objects.filter(code="R1").count() == 1
