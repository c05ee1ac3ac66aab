"""Named personas shared by every test: two stores and one member of staff per role.

A manager of store B must see nothing of store A; most scoping tests use exactly these people.
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from crm.choices import Role
from tests.factories import StoreFactory, UserFactory
from tests.migration_rows import migration_rows_restore

# Runs only with a read replica configured: `make test` runs it once more with DATABASE_REPLICA_URL.
collect_ignore = [] if os.environ.get("DATABASE_REPLICA_URL") else ["crm/test_replica_reads.py"]

BASE_DIR = Path(__file__).resolve().parent.parent


def pytest_collection_modifyitems(items):
    """Each test has its own ID. pytest 9 names a test from its function and parameters, and the
    schemathesis tests (one per API operation, its label only in the name) came out all alike:
    pytest-xdist, which hands tests out by ID, then ran one of 43 and reported it passed."""
    for item in items:
        if item.nodeid.rpartition("::")[2] != item.name and not getattr(item, "callspec", None):
            item._id = item.parent.id.child(item.name)  # as pytest names a test without parameters
    twice = sorted(nodeid for nodeid, count in Counter(item.nodeid for item in items).items() if count > 1)
    if twice:
        raise pytest.UsageError(f"tests with the same ID (xdist would run one of them): {twice}")


@pytest.fixture
def store_a(db):
    return StoreFactory(code="NJ01", name="江宁店")


@pytest.fixture
def store_b(db):
    return StoreFactory(code="NJ02", name="鼓楼店")


@pytest.fixture
def manager_a(store_a):
    return UserFactory(username="manager_a", role=Role.MANAGER, stores=[store_a])


@pytest.fixture
def manager_b(store_b):
    return UserFactory(username="manager_b", role=Role.MANAGER, stores=[store_b])


@pytest.fixture
def advisor_a(store_a):
    return UserFactory(username="advisor_a", role=Role.SERVICE_ADVISOR, stores=[store_a])


@pytest.fixture
def agent_a(store_a):
    return UserFactory(username="agent_a", role=Role.CALL_AGENT, stores=[store_a])


@pytest.fixture
def sales_a(store_a):
    return UserFactory(username="sales_a", role=Role.SALES_CONSULTANT, stores=[store_a])


@pytest.fixture
def admin_user(store_a, store_b):
    return UserFactory(
        username="admin_user", role=Role.ADMIN, stores=[store_a, store_b], is_staff=True, sees_all_stores=True
    )


@pytest.fixture
def api_client():
    return APIClient()


def verified_force_login(client, user, backend=None) -> None:
    """``client.force_login`` for every test: for a manager, administrator or superuser it also
    gives the user a real, confirmed TOTP device (if none yet) and records it in the session, just
    as ``django_otp.login`` does after a right code. Other roles are logged in as before."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from crm.mfa import user_needs_second_factor

    _original_force_login(client, user, backend)
    if user_needs_second_factor(user):
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name="test authenticator", confirmed=True)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()


_original_force_login = Client.force_login


@pytest.fixture(autouse=True)
def _second_factor_with_force_login(monkeypatch):
    """Tests that use ``force_login`` act as a user who also entered the TOTP code (see above);
    tests of the second factor itself log in with ``_original_force_login``."""
    monkeypatch.setattr(Client, "force_login", verified_force_login)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Rate-limit counters live in Redis and would outlive a test: every test starts at zero. So do
    the queue preview's counts and markers (a new test database gives the same IDs, hence keys)."""
    from django.core.cache import cache
    from redis.exceptions import ConnectionError as RedisConnectionError

    try:
        client = cache._cache.get_client()
        for pattern in ("*rl:*", "*throttle_*", "*followups:preview:*"):
            for key in client.scan_iter(match=pattern):
                client.delete(key)
    except RedisConnectionError:
        pass  # a test that stops Redis; nothing to reset


# A test reaches the database through the django_db mark or one of these fixtures (and what it opens).
DATABASE_FIXTURES = {"transactional_db": "transactional_db", "live_server": "transactional_db", "db": "db"}


@pytest.fixture(autouse=True)
def _rows_the_migrations_wrote(request):
    """Every test that uses the database finds what a freshly migrated one holds, whatever ran
    before it in its process (``make test`` runs the files in two processes, in no fixed order)."""
    if not request.node.get_closest_marker("django_db"):
        opened = [DATABASE_FIXTURES[name] for name in DATABASE_FIXTURES if name in request.fixturenames]
        if not opened:
            return
        request.getfixturevalue(opened[0])  # opened before this fixture runs, as the test would
    migration_rows_restore()


def wait_until(predicate, *, timeout: float = 30, interval: float = 0.1):
    """Poll ``predicate`` until it returns a truthy value (returned) or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def start_celery_worker(*, extra_env: dict | None = None, timeout: float = 30) -> subprocess.Popen:
    """Start a real Celery worker (a separate process) on the test database and the real Redis, and
    wait until it answers a ping. ``extra_env`` adds settings for the worker only (an SMS gateway…)."""
    from django.db import connection

    from config.celery import app

    database = connection.settings_dict
    env = dict(os.environ)
    env.update(extra_env or {})
    env["DATABASE_URL"] = (
        f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}/{database['NAME']}"
    )
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    env["CELERY_TASK_ALWAYS_EAGER"] = "0"
    env["PYTHONPATH"] = str(BASE_DIR)
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--concurrency", "1", "--pool", "solo",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR,
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if app.control.ping(timeout=0.5):
            return process
    stop_celery_worker(process)
    raise RuntimeError(f"the Celery worker did not start within {timeout:.0f} s")


def kill(process: subprocess.Popen) -> None:
    """SIGKILL: the process dies in the middle of whatever it is doing."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stop_celery_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real Celery worker (a separate process) on the test database and the real Redis.

    Tasks sent while it runs are executed by that process, not eagerly in the test.
    """
    from config.celery import app

    app.conf.task_always_eager = False
    try:
        process = start_celery_worker()
        try:
            yield process
        finally:
            stop_celery_worker(process)
    finally:
        app.conf.task_always_eager = True
