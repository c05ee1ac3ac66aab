"""Settings of the DMS import bench's processes (bench/customers_import.py): the test settings, except
that Celery tasks are queued to the broker as in production instead of run inside the command. The
bench then runs the queued tasks itself (the segment-facts refresh after each file) and times them
apart from the import."""

from config.settings.test import *  # noqa: F403

CELERY_TASK_ALWAYS_EAGER = False
