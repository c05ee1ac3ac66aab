"""Named personas shared by every test: two stores and one member of staff per role.

A manager of store B must see nothing of store A; most scoping tests use exactly these people.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from crm.choices import Role
from tests.factories import StoreFactory, UserFactory

BASE_DIR = Path(__file__).resolve().parent.parent


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
