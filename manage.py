#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys
from pathlib import Path

DEV_ENV_FILE = Path(__file__).resolve().parent / "var" / "dev.env"


def load_dev_env() -> None:
    """On a developer's machine (`make setup` writes var/dev.env), fill in what the environment does
    not set. Never in production: there is no var/ there, and an explicit DJANGO_SETTINGS_MODULE
    (tests, CI) skips it too."""
    if "DJANGO_SETTINGS_MODULE" in os.environ or not DEV_ENV_FILE.exists():
        return
    for line in DEV_ENV_FILE.read_text().splitlines():
        name, separator, value = line.partition("=")
        if separator and not line.lstrip().startswith("#"):
            os.environ.setdefault(name.strip(), value.strip())


def main() -> None:
    load_dev_env()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import execute_from_command_line

    from config.env import EnvironmentVariableError

    try:
        execute_from_command_line(sys.argv)
    except EnvironmentVariableError as error:
        sys.exit(f"Configuration error: {error}")


if __name__ == "__main__":
    main()
