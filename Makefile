# The two commands of the README: `make run` and `make test`. `make setup` is idempotent.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# The first Python 3.11+ on the machine (Django 5.2 LTS runs on 3.10–3.13; we need 3.11+).
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
TEST_ENV := DJANGO_SETTINGS_MODULE=config.settings.test
# The suite runs in two processes (pytest-xdist), each with its own test database and Redis database,
# a file's tests together (a module builds its data once); `make test PYTEST_XDIST=` runs it in one.
PYTEST_XDIST ?= --numprocesses 2 --dist loadfile

.PHONY: setup run test lint format messages clean-var

setup: $(VENV)/.installed var/dev.env

# Local defaults for `manage.py` on a developer's machine (the services .ci/run provides); real
# environment variables win, and `make run` uses its embedded servers instead.
var/dev.env:
	@mkdir -p var
	@printf '%s\n' "# manage.py reads this on a developer machine; exported variables win." \
		"DEBUG=1" "SECRET_KEY=$$(head -c 48 /dev/urandom | base64 | tr -d '/+=\n')" \
		"DATABASE_URL=postgres://postgres@127.0.0.1:5432/crm" "REDIS_URL=redis://127.0.0.1:6379/1" > $@

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is needed (python3 --version)."; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

run: setup
	$(PY) -m crm.devstack

test: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-logo
	$(TEST_ENV) $(PY) manage.py check
	$(TEST_ENV) $(PY) manage.py makemigrations --check --dry-run
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)
	@# Once more with a read replica (the test database's mirror): the report pages read from it.
	$(TEST_ENV) DATABASE_REPLICA_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/crm} $(PY) -m pytest tests/crm/test_replica_reads.py

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(VENV)/bin/lint-imports --no-logo

format: setup
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# Regenerate the Chinese catalogue after changing user-facing strings (needs GNU gettext).
messages: setup
	$(TEST_ENV) $(PY) manage.py makemessages -l zh_Hans --no-obsolete --ignore '.venv/*' --ignore 'var/*'
	$(TEST_ENV) $(PY) manage.py compilemessages -l zh_Hans --ignore '.venv/*'

clean-var:
	rm -rf var
