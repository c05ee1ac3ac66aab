"""Settings of the processes the fault suite starts (gunicorn, Celery workers): the test settings,
but tasks really go through the broker and e-mail through SMTP when the environment says so."""

from config.env import env_bool, env_str
from config.settings.test import *  # noqa: F403
from config.settings.test import EMAIL_BACKEND as TEST_EMAIL_BACKEND

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", TEST_EMAIL_BACKEND)
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
