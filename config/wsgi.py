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

# Each gunicorn worker imports this module as it boots: the first request's one-off work (the
# views' imports, the templates' compilation) is done now rather than on a person's request.
from crm.warmup import warm_up

warm_up()
