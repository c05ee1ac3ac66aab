"""WSGI entry point for gunicorn."""

import os
import sys

from django.core.wsgi import get_wsgi_application

from config.env import EnvironmentVariableError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

try:
    application = get_wsgi_application()
except EnvironmentVariableError as error:
    sys.exit(f"Configuration error: {error}")
