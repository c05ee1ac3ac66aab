import datetime

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from crm.tasks import clear_expired_sessions
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
