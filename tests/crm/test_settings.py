"""Settings from the environment: one-line errors, a clean deploy check, the Celery contract."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from gunicorn import SERVER_SOFTWARE

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k3J9-production-like-secret-4f8a0c2e7b91d6e5a3f0c8b7d2e1a9f6c5b4",
    "ALLOWED_HOSTS": "crm.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/crm",
    "REDIS_URL": "redis://127.0.0.1:6379/15",
    "SECURE_PROXY_SSL_HEADER": "1",
}


def run_python(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Python with ``arguments`` in a process that has only ``env`` (and PATH, HOME, LANG), as
    production starts one: the settings module for every environment."""
    clean_env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
    clean_env.update(env)
    clean_env["DJANGO_SETTINGS_MODULE"] = "config.settings.base"
    return subprocess.run([sys.executable, *arguments], cwd=BASE_DIR, env=clean_env, capture_output=True, text=True)


def run_manage(*arguments: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_python("manage.py", *arguments, env=env)


def test_check_deploy_is_clean_in_production():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "Configuration error: DEBUG='maybe' is not a boolean: "
         "use 1/0, true/false, yes/no or on/off."),
        ("EMAIL_PORT", "twenty-five", "Configuration error: EMAIL_PORT='twenty-five' is not a whole number."),
        (
            "DATABASE_URL",
            "mysql://db/crm",
            "Configuration error: DATABASE_URL must be a URL starting with postgres:// or postgresql://, "
            "got 'mysql://db/crm'.",
        ),
        ("REDIS_URL", "redis://127.0.0.1:notaport/0", "Configuration error: REDIS_URL has a malformed port: "
         "'redis://127.0.0.1:notaport/0'."),
        ("SECRET_KEY", "short", "Configuration error: SECRET_KEY is too short: use at least 50 random characters."),
        ("DB_PARALLEL_WORKERS_PER_QUERY", "two", "Configuration error: DB_PARALLEL_WORKERS_PER_QUERY='two' is not "
         "a whole number."),
    ],
)  # fmt: skip
def test_a_malformed_variable_stops_start_up_with_one_line(variable, value, message):
    result = run_manage("check", env={**PRODUCTION_ENV, variable: value})

    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [message]
    assert result.stdout == ""


def test_a_missing_secret_key_in_production_is_named():
    env = dict(PRODUCTION_ENV)
    env.pop("SECRET_KEY")

    result = run_manage("check", env=env)

    assert result.returncode == 1
    assert result.stderr.strip() == "Configuration error: SECRET_KEY is not set: it is required when DEBUG is off."


def test_an_empty_optional_variable_is_an_unset_one(tmp_path):
    # ``DATABASE_REPLICA_URL=`` and ``STATIC_ROOT=`` left empty in an .env file: no replica, the
    # default static folder; the image's collectstatic runs as without them.
    static_root = tmp_path / "static"
    empty = {"DATABASE_REPLICA_URL": "", "EMAIL_HOST_USER": "", "LOG_LEVEL": " "}

    result = run_manage("collectstatic", "--no-input", env={**PRODUCTION_ENV, **empty, "STATIC_ROOT": str(static_root)})
    databases = "from django.conf import settings; print(sorted(settings.DATABASES))"
    replica = run_manage("shell", "--no-imports", "-c", databases, env={**PRODUCTION_ENV, **empty})

    assert result.returncode == 0, result.stderr
    assert (static_root / "staticfiles.json").exists()
    assert replica.stdout.strip() == "['default']"


def test_the_build_commands_need_no_secret_database_or_redis(tmp_path):
    # As an image build or a CI step runs them: DEBUG off and nothing else (the running CRM's
    # variables come with the container, not the build).
    static_root = tmp_path / "static"

    result = run_manage("collectstatic", "--no-input", env={"DEBUG": "0", "STATIC_ROOT": str(static_root)})
    served = run_manage("check", env={"DEBUG": "0"})

    assert result.returncode == 0, result.stderr
    assert (static_root / "staticfiles.json").exists()
    # Pages' files are served compressed, by their hashed names only (pages name them through
    # {% static %}); source maps (for developer tools only) are not compressed.
    hashed = json.loads((static_root / "staticfiles.json").read_text())["paths"]["js/crm.js"]
    assert hashed != "js/crm.js"
    assert (static_root / f"{hashed}.gz").exists()
    assert not (static_root / "js" / "crm.js").exists()
    assert sorted(static_root.rglob("*.map.gz")) == sorted(static_root.rglob("*.map.br")) == []
    assert sorted(static_root.rglob("*.map"))
    # Anything else still needs them, named one at a time.
    assert served.returncode == 1
    assert served.stderr.strip() == "Configuration error: SECRET_KEY is not set: it is required when DEBUG is off."


@pytest.mark.parametrize(
    ("argv", "building"),
    [
        (["manage.py", "collectstatic", "--no-input"], True),
        (["/app/manage.py", "compilemessages"], True),
        (["/venv/lib/python3.11/site-packages/django/__main__.py", "collectstatic"], True),
        (["/venv/lib/python3.11/site-packages/celery/__main__.py", "collectstatic"], False),
        (["manage.py", "check", "--deploy"], False),
        (["manage.py"], False),
        (["gunicorn", "collectstatic"], False),
        (["celery", "-A", "config", "worker"], False),
    ],
)
def test_only_manage_py_running_a_build_command_is_a_build(argv, building):
    from config.env import running_build_command

    assert running_build_command(argv) is building


def test_an_empty_required_variable_is_reported_missing():
    result = run_manage("check", env={**PRODUCTION_ENV, "DATABASE_URL": ""})

    assert result.returncode == 1
    assert result.stderr.strip() == "Configuration error: DATABASE_URL is not set: it is required."


SHOW_PARALLEL_WORKERS = """
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SHOW max_parallel_workers_per_gather")
    print(cursor.fetchone()[0])
"""


@pytest.mark.django_db
def test_the_web_plans_statements_without_parallel_workers_and_the_rest_as_the_server_does():
    # Each process as production starts it, on this test's database: gunicorn names itself in
    # SERVER_SOFTWARE before it loads config.wsgi; Celery and the management commands do not.
    database = connection.settings_dict
    env = {**PRODUCTION_ENV, "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
           f"/{database['NAME']}"}  # fmt: skip
    gunicorn = {**env, "SERVER_SOFTWARE": SERVER_SOFTWARE}  # what gunicorn's arbiter sets, this version's
    sent = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'].get('options'))"

    web = run_python("-c", "import config.wsgi" + SHOW_PARALLEL_WORKERS, env=gunicorn)
    chosen = run_python(
        "-c", "import config.wsgi" + SHOW_PARALLEL_WORKERS, env={**gunicorn, "DB_PARALLEL_WORKERS_PER_QUERY": "1"}
    )
    worker = run_python("-c", "import django; django.setup(); " + sent, env=env)

    assert (web.returncode, web.stdout) == (0, "0\n"), web.stderr
    assert (chosen.returncode, chosen.stdout) == (0, "1\n"), chosen.stderr
    assert (worker.returncode, worker.stdout) == (0, "None\n"), worker.stderr  # nothing sent: the server's own


def test_a_chosen_number_of_parallel_workers_applies_to_the_replica_too():
    code = "from django.conf import settings; print([settings.DATABASES[name]['OPTIONS'].get('options') for name in "
    code += "('default', 'replica')])"
    replica = "postgres://postgres@replica.example.com:5432/crm?options=-c%20statement_timeout%3D30000"

    result = run_python(
        "-c",
        "import django; django.setup(); " + code,
        env={**PRODUCTION_ENV, "DATABASE_REPLICA_URL": replica, "DB_PARALLEL_WORKERS_PER_QUERY": "0"},
    )

    assert result.stdout.strip() == (
        "['-c max_parallel_workers_per_gather=0', '-c statement_timeout=30000 -c max_parallel_workers_per_gather=0']"
    ), result.stderr


def test_celery_runs_as_the_design_says():
    assert settings.CELERY_TASK_ACKS_LATE is True
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST is True
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
    assert settings.CELERY_TASK_SERIALIZER == "json"
    assert settings.CELERY_RESULT_SERIALIZER == "json"
    assert settings.CELERY_TIMEZONE == settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.CELERY_TASK_SOFT_TIME_LIMIT == 900
    assert settings.CELERY_TASK_TIME_LIMIT == 1200
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _label in settings.LANGUAGES] == ["zh-hans", "en"]


def test_every_beat_entry_names_a_registered_task_and_expires():
    from config.celery import app

    app.loader.import_default_modules()
    registered = set(app.tasks)

    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        assert entry["task"] in registered, name
        assert entry["options"]["expires"] > 0, name
