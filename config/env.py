"""Typed readers for environment variables.

Every setting that varies between machines comes from the environment. A malformed value stops
start-up with one line that names the variable (see ``EnvironmentVariableError``), never a deep
traceback and never a silent fallback.
"""

import os
import secrets
import sys
from pathlib import Path
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_UNSET = object()
REQUIRED = _UNSET  # a default that makes the variable required


class EnvironmentVariableError(ImproperlyConfigured):
    """A variable is missing or malformed; ``str()`` is the one-line message shown to the operator."""


def _raw(name: str, default):
    # An empty variable is an unset one (``NAME=`` in an .env file, or compose passing an unset
    # ``${NAME:-}``): the default applies, or a required variable is reported missing.
    value = (os.environ.get(name) or "").strip()
    if not value:
        if default is _UNSET:
            raise EnvironmentVariableError(f"{name} is not set: it is required.")
        return None
    return value


def env_str(name: str, default=_UNSET) -> str:
    value = _raw(name, default)
    return default if value is None else value


def env_bool(name: str, default: bool | object = _UNSET) -> bool:
    value = _raw(name, default)
    if value is None:
        return default  # type: ignore[return-value]
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise EnvironmentVariableError(f"{name}={value!r} is not a boolean: use 1/0, true/false, yes/no or on/off.")


def env_int(name: str, default: int | object = _UNSET, *, minimum: int | None = None) -> int:
    value = _raw(name, default)
    if value is None:
        return default  # type: ignore[return-value]
    try:
        number = int(value)
    except ValueError:
        raise EnvironmentVariableError(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise EnvironmentVariableError(f"{name}={number} is below the minimum of {minimum}.")
    return number


def env_list(name: str, default: list[str] | object = _UNSET) -> list[str]:
    value = _raw(name, default)
    if value is None:
        return list(default)  # type: ignore[call-overload]
    return [item.strip() for item in value.split(",") if item.strip()]


def env_url(name: str, default: str | object = _UNSET, *, schemes: tuple[str, ...]) -> str:
    value = _raw(name, default)
    if value is None:
        return default  # type: ignore[return-value]
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        raise EnvironmentVariableError(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, got {value!r}."
        )
    try:
        parsed.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise EnvironmentVariableError(f"{name} has a malformed port: {value!r}.") from None
    if not (parsed.hostname or parsed.path or parsed.query):
        raise EnvironmentVariableError(f"{name} names no server: {value!r}.")
    return value


# Commands that build an image's files and never open a database, a cache or a signed value: with
# DEBUG off they run without the secrets and servers that only a running CRM needs, so
# ``DEBUG=0 manage.py collectstatic`` works in a bare build (a Dockerfile's RUN, a CI step).
BUILD_COMMANDS = frozenset({"collectstatic", "compilemessages"})


def running_build_command(argv: list[str] | None = None) -> bool:
    """Whether this process is ``manage.py``, ``django-admin`` or ``python -m django`` running one of
    BUILD_COMMANDS (Django takes the command from the first argument)."""
    argv = sys.argv if argv is None else argv
    if len(argv) < 2 or argv[1] not in BUILD_COMMANDS:
        return False
    program = Path(argv[0])
    return program.name in {"manage.py", "django-admin"} or program.parts[-2:] == ("django", "__main__.py")


def build_only_defaults() -> dict[str, str]:
    """What a build command uses where a running CRM's variable is unset: a throwaway key (never used
    to sign anything: the process ends with the build) and addresses nothing connects to."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "DATABASE_URL": "postgres://build@localhost/build",
        "REDIS_URL": "redis://localhost:6379/0",
    }
