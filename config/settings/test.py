"""Test settings: the real PostgreSQL and Redis of the machine (see .ci/run), fast hashing."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/crm")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-secret-key-" + "x" * 50)
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")
os.environ.setdefault("SESSION_COOKIE_SECURE", "0")
os.environ.setdefault("CSRF_COOKIE_SECURE", "0")

# pytest-xdist runs the suite in several processes (gw0, gw1, …); pytest-django gives each its own
# test database, and here each gets its own Redis database (15, 14, … below the one configured): the
# tests reset rate limits and read queues there. Processes the tests start (a Celery worker, gunicorn)
# inherit the adjusted URL and the marker, so they adjust nothing again.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw") and os.environ.get("CRM_TEST_WORKER") != _XDIST_WORKER:
    _base, _, _database = os.environ["REDIS_URL"].rpartition("/")
    _database = int(_database) if _database.isdigit() else 0
    os.environ["REDIS_URL"] = f"{_base}/{(_database - int(_XDIST_WORKER[2:])) % 16}"
    os.environ["CRM_TEST_WORKER"] = _XDIST_WORKER

from config.settings.base import *  # noqa: E402, F403 (after the environment above)
from config.settings.base import DATABASES, STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Parallel sessions on one machine each name their own test database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_crm")}
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
LANGUAGE_CODE = "zh-hans"
STATIC_ROOT = None  # no collectstatic in tests; WhiteNoise serves from the finders
# Uploaded files of tests (attachments, import files) stay out of the working tree.
MEDIA_ROOT = Path(tempfile.gettempdir()) / f"crm-test-media{_XDIST_WORKER}"
# `make test` runs tests/crm/test_replica_reads.py once more with DATABASE_REPLICA_URL set: the
# "replica" then mirrors the test database (Django's test mirror), as a streaming replica would.
if "replica" in DATABASES:
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
