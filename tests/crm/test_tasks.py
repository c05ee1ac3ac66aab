import datetime
import logging
import socket

import pytest
from celery import Celery
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone

from crm.tasks import clear_expired_sessions, enqueue, enqueue_on_commit
from tests.conftest import wait_until


def make_sessions():
    now = timezone.now()
    Session.objects.create(session_key="expired", session_data="x", expire_date=now - datetime.timedelta(days=1))
    Session.objects.create(session_key="current", session_data="x", expire_date=now + datetime.timedelta(days=1))


@pytest.mark.django_db
def test_clear_expired_sessions_is_safe_to_run_twice():
    make_sessions()

    clear_expired_sessions.delay()
    clear_expired_sessions.delay()

    assert list(Session.objects.values_list("session_key", flat=True)) == ["current"]


@pytest.mark.worker
def test_a_task_runs_through_a_real_worker(celery_worker_process):
    make_sessions()

    clear_expired_sessions.apply_async()

    # The task ignores its result, so wait for its effect.
    assert wait_until(lambda: not Session.objects.filter(session_key="expired").exists())
    assert list(Session.objects.values_list("session_key", flat=True)) == ["current"]


# --- queueing never turns a saved write into an error: broker down, the helper logs and says so ---


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def dead_broker_task():
    """A task of an app whose broker (a Redis port nobody listens on) is down."""
    url = f"redis://127.0.0.1:{closed_port()}/0"
    app = Celery("dead-broker", broker=url, backend=url, set_as_current=False)
    app.conf.broker_connection_timeout = 1

    @app.task(name="tests.dead_broker.noop", ignore_result=True)
    def noop(number):
        return number

    return noop


def test_enqueue_with_the_broker_down_logs_and_returns_false(dead_broker_task, caplog):
    with caplog.at_level(logging.WARNING, logger="crm.tasks"):
        assert enqueue(dead_broker_task, (1,)) is False

    [record] = caplog.records
    assert record.getMessage().startswith("could not queue tests.dead_broker.noop (broker unavailable:")


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_with_the_broker_down_keeps_the_write_and_says_so(dead_broker_task, store_a):
    from crm.models import Store

    with transaction.atomic():
        Store.objects.filter(pk=store_a.pk).update(name="江宁店")
        outcome = enqueue_on_commit(dead_broker_task, 7)
        assert outcome.queued is None  # not before the commit

    assert outcome.queued is False
    assert Store.objects.get(pk=store_a.pk).name == "江宁店"


@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_with_the_broker_up_queues_once_committed(store_a):
    from config.celery import app

    app.conf.task_always_eager = False
    try:
        with transaction.atomic():
            outcome = enqueue_on_commit(app.tasks["crm.tasks.clear_expired_sessions"])
        assert outcome.queued is True
    finally:
        app.conf.task_always_eager = True


def test_a_service_names_a_task_of_its_own_app_and_gets_the_registered_task():
    from celery.exceptions import NotRegistered

    from complaints.tasks import escalation_send
    from crm.tasks import registered_task

    # (shared_task hands out a proxy of the registered task: equal, not identical)
    assert registered_task("complaints.tasks.escalation_send") == escalation_send
    with pytest.raises(NotRegistered):
        registered_task("complaints.tasks.no_such_task")
    with pytest.raises(ModuleNotFoundError):
        registered_task("complaints.no_such_module.task")
