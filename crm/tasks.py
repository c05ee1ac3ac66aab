"""Core background jobs, and the one way the apps queue a task after their transaction commits."""

import logging
from dataclasses import dataclass
from importlib import import_module

from celery import current_app, shared_task
from django.core.management import call_command
from django.db import transaction
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# What a broker that is down, refusing or timing out raises when a task is published.
BROKER_ERRORS = (OperationalError, RedisError, OSError)
# Publishing gives up quickly: a page waiting on a dead broker is worse than a job the sweep sends.
PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


@dataclass
class Enqueued:
    """Whether a task queued on commit reached the broker: ``None`` until the transaction commits,
    then ``True``, or ``False`` when the broker was down (the work is left to a sweep)."""

    task_name: str
    queued: bool | None = None


def registered_task(name: str):
    """The task registered as ``name``. Every task is named after its module and function
    (``complaints.tasks.escalation_send``), so a service may queue a task of its own app by name
    without importing ``tasks.py``, which imports ``services.py`` (no import cycle). An unknown
    name raises ``celery.exceptions.NotRegistered`` at once, not after the commit."""
    import_module(name.rpartition(".")[0])
    return current_app.tasks[name]


def enqueue(task, args: tuple = (), kwargs: dict | None = None, **options) -> bool:
    """Publish ``task(*args, **kwargs)`` now (``options`` as for ``apply_async``: expires…); on a
    broker error log it and return False instead of raising, so a write that is already saved never
    turns into an error page. (Eager mode has no broker: there the task's own errors propagate.)"""
    if task.app.conf.task_always_eager:
        task.apply_async(args=args, kwargs=kwargs, **options)
        return True
    try:
        task.apply_async(args=args, kwargs=kwargs, retry=True, retry_policy=PUBLISH_RETRY_POLICY, **options)
    except BROKER_ERRORS as error:
        logger.warning("could not queue %s (broker unavailable: %s); a sweep will do the work", task.name, error)
        return False
    return True


def enqueue_on_commit(task, *args, **kwargs) -> Enqueued:
    """Queue ``task(*args, **kwargs)`` once the current transaction commits (immediately outside
    one). Never raises for a broker that is down: the returned ``Enqueued`` says whether it went out,
    and the task's sweep (every task queued this way needs one) picks the work up later. ``task`` is
    a task or its registered name (see ``registered_task``)."""
    if isinstance(task, str):
        task = registered_task(task)
    outcome = Enqueued(task_name=task.name)

    def publish() -> None:
        outcome.queued = enqueue(task, args, kwargs)

    transaction.on_commit(publish)
    return outcome


@shared_task(name="crm.tasks.clear_expired_sessions", ignore_result=True)
def clear_expired_sessions() -> None:
    """Remove expired login sessions (safe to run twice: deleting nothing is fine)."""
    call_command("clearsessions")
