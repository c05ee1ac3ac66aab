#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    from django.core.management import execute_from_command_line

    from config.env import EnvironmentVariableError

    try:
        execute_from_command_line(sys.argv)
    except EnvironmentVariableError as error:
        sys.exit(f"Configuration error: {error}")


if __name__ == "__main__":
    main()
