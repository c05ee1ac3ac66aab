"""The Celery application: the worker runs background jobs, beat (exactly one process) schedules them.

Settings come from Django's settings with the ``CELERY_`` prefix (config/settings/base.py); the beat
schedule is ``CELERY_BEAT_SCHEDULE`` there.
"""

import os
import sys

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

app = Celery("crm")


def _configure() -> None:
    from config.env import EnvironmentVariableError

    try:
        app.config_from_object("django.conf:settings", namespace="CELERY")
        from django.conf import settings

        settings.INSTALLED_APPS  # noqa: B018 - load settings now so a bad variable fails here, in one line
    except EnvironmentVariableError as error:
        sys.exit(f"Configuration error: {error}")


_configure()
app.autodiscover_tasks()


@setup_logging.connect
def _use_django_logging(**kwargs) -> None:
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
