"""Fixtures of the follow-up tests: the queue preview's counts waiting in the broker, for tests that run
Celery as production does (not eagerly) without a worker: the page queues its count, the test runs it."""

import base64
import json

import pytest
import redis
from django.conf import settings

from config.celery import app
from followups import tasks

COUNT_TASK = "followups.tasks.count_queue_preview"


class Broker:
    """The preview counts waiting in the broker (Redis): with no worker and Celery not eager, a
    queued task stays there, to be read and run by the test."""

    def __init__(self):
        self.client = redis.Redis.from_url(settings.CELERY_BROKER_URL)

    def _messages(self) -> list[bytes]:
        return [raw for raw in self.client.lrange("celery", 0, -1) if json.loads(raw)["headers"]["task"] == COUNT_TASK]

    def queued(self) -> list[dict]:
        """The keyword arguments of each queued count, oldest first."""
        bodies = [json.loads(base64.b64decode(json.loads(raw)["body"])) for raw in self._messages()]
        return [kwargs for _args, kwargs, _embed in reversed(bodies)]

    def run_all(self) -> None:
        """What a worker does: run each queued count (the task's function), removing it."""
        for kwargs in self.queued():
            tasks.count_queue_preview(**kwargs)
        self.clear()

    def clear(self) -> None:
        for raw in self._messages():
            self.client.lrem("celery", 0, raw)


@pytest.fixture
def preview_broker():
    """Celery not eager (as in production): the page queues the count instead of running it."""
    app.conf.task_always_eager = False
    queue = Broker()
    queue.clear()
    try:
        yield queue
    finally:
        app.conf.task_always_eager = True
        queue.clear()
