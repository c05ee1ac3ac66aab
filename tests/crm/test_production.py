"""The production check: what the Dockerfile and docker-compose.yml do, run here without Docker.

The image collects the static files with DEBUG off, then gunicorn serves ``config.wsgi:application``
with the base settings behind a TLS-terminating proxy (compose's .env sets SECURE_PROXY_SSL_HEADER).
This module does the same against the test database and the test Redis: ``collectstatic`` into a
temporary STATIC_ROOT, ``check --deploy`` without a warning, and a real gunicorn on a loopback port
answering the login page, its hashed static files, ``/healthz`` and a logged-in page.
"""

import http.client
import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
from html import unescape
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from crm.choices import Role
from tests.factories import StoreFactory, UserFactory

pytestmark = pytest.mark.production

BASE_DIR = Path(__file__).resolve().parent.parent.parent
DOCKERFILE = BASE_DIR / "Dockerfile"
# The variables a container sees, and nothing of this test process (test.py turns HTTPS off in it).
INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def dockerfile_command() -> list[str]:
    """The image's CMD (JSON form)."""
    line = next(line for line in DOCKERFILE.read_text().splitlines() if line.startswith("CMD "))
    return json.loads(line.removeprefix("CMD "))


def dockerfile_collectstatic() -> list[str]:
    """The ``manage.py collectstatic`` command of the image's build."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if "collectstatic" in line)
    words = shlex.split(line.removeprefix("RUN "))
    return words[words.index("manage.py") :]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(command: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *command], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def production_env(django_db_setup, django_db_blocker, tmp_path_factory) -> dict:
    """The environment of the image (compose's .env), pointed at the test database and Redis, with
    the static files collected as the image's build does (DEBUG=0)."""
    with django_db_blocker.unblock():
        database = connection.settings_dict
    root = tmp_path_factory.mktemp("production")
    env = {name: os.environ[name] for name in INHERITED if name in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.base",
        PYTHONDONTWRITEBYTECODE="1",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_PROXY_SSL_HEADER="1",
        DATABASE_URL=(
            f"postgres://{database['USER']}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
            f"/{database['NAME']}"
        ),
        REDIS_URL=settings.REDIS_URL,
        STATIC_ROOT=str(root / "static"),
        MEDIA_ROOT=str(root / "media"),
        SMS_FILE_GATEWAY_DIR=str(root / "sms"),
    )
    result = run(dockerfile_collectstatic(), env)
    assert result.returncode == 0, result.stderr[-3000:]
    return env


@pytest.fixture(scope="module")
def manifest(production_env) -> dict[str, str]:
    return json.loads((Path(production_env["STATIC_ROOT"]) / "staticfiles.json").read_text())["paths"]


class Browser:
    """A minimal HTTP client behind a pretend TLS proxy: keeps cookies, sends the forwarded scheme."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, *, form: dict | None = None):
        headers = {"X-Forwarded-Proto": "https"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"https://127.0.0.1:{self.port}"
        client = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            client.request(method, path, body=body, headers=headers)
            response = client.getresponse()
            content = response.read()
        finally:
            client.close()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response, content


@pytest.fixture(scope="module")
def server(production_env):
    """gunicorn serving the image's application on a free loopback port."""
    port = free_port()
    command = dockerfile_command()
    assert command[:2] == ["gunicorn", "config.wsgi:application"]
    options = command[2:]
    options[options.index("--bind") + 1] = f"127.0.0.1:{port}"
    options[options.index("--workers") + 1] = "2"
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi:application", *options],
        cwd=BASE_DIR,
        env=production_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert process.poll() is None, process.stderr.read()[-3000:]
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert time.monotonic() < deadline, "gunicorn did not listen within 20 s"
            time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_check_deploy_is_clean_with_the_production_environment(production_env):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


def test_every_static_file_a_template_names_is_in_the_manifest(manifest):
    referenced = set()
    for template in (BASE_DIR / "templates").rglob("*.html"):
        referenced.update(re.findall(r"""{%\s*static\s+['"]([^'"]+)['"]\s*%}""", template.read_text()))

    assert referenced  # the pattern still finds the references
    assert sorted(referenced - set(manifest)) == []


def test_no_vendored_file_points_at_a_source_map_that_is_not_shipped():
    # A dangling sourceMappingURL fails collectstatic with DEBUG off (the manifest storage follows it).
    dangling = []
    for path in (BASE_DIR / "static").rglob("*"):
        if path.suffix in (".js", ".css"):
            for target in re.findall(r"sourceMappingURL=(\S+?)\s*(?:\*/)?$", path.read_text(), re.MULTILINE):
                if not (path.parent / target).exists():
                    dangling.append(f"{path.relative_to(BASE_DIR)} -> {target}")

    assert dangling == []


def test_login_page_and_its_hashed_static_files_are_served(server, manifest, production_env):
    browser = Browser(server)

    response, content = browser.request("GET", "/accounts/login/")

    assert response.status == 200
    page = content.decode()
    stylesheets = re.findall(r'<link rel="stylesheet" href="(/static/[^"]+)"', page)
    assert stylesheets == [f"/static/{manifest['vendor/pico-2.1.1.crm.min.css']}", f"/static/{manifest['css/crm.css']}"]
    stylesheet = stylesheets[1]
    assert re.fullmatch(r"/static/css/crm\.[0-9a-f]{12}\.css", stylesheet)
    response, content = browser.request("GET", stylesheet)
    assert response.status == 200
    assert (response.headers.get_content_type(), response.headers.get_content_charset()) == ("text/css", "utf-8")
    assert content == (Path(production_env["STATIC_ROOT"]) / manifest["css/crm.css"]).read_bytes()
    assert "immutable" in response.headers["Cache-Control"]  # WhiteNoise knows the name is hashed
    script = f"/static/{manifest['vendor/htmx-2.0.11.min.js']}"
    assert f'src="{script}"' in page
    response, _ = browser.request("GET", script)
    assert response.status == 200
    assert response.headers.get_content_type() == "text/javascript"


def test_healthz_answers_get_and_head(server):
    browser = Browser(server)

    response, content = browser.request("GET", "/healthz")
    assert (response.status, json.loads(content)) == (200, {"status": "ok"})
    response, content = browser.request("HEAD", "/healthz")
    assert (response.status, content) == (200, b"")


def test_uploads_are_not_served_to_anonymous_visitors(server):
    response, _ = Browser(server).request("GET", "/media/complaints/1/1/letter.pdf")

    assert (response.status, response.headers["Location"]) == (
        302,
        "/accounts/login/?next=/media/complaints/1/1/letter.pdf",
    )


@pytest.mark.django_db(transaction=True)
def test_a_member_of_staff_logs_in_through_the_form_and_opens_a_page(server):
    # gunicorn runs the production hashers, not the test settings' fast one.
    hasher = PBKDF2PasswordHasher()
    user = UserFactory(username="prod_advisor", role=Role.SERVICE_ADVISOR, stores=[StoreFactory(code="PR01")])
    user.password = hasher.encode("a-long-production-password", hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    browser = Browser(server)
    _, content = browser.request("GET", "/accounts/login/")
    token = unescape(re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', content.decode()).group(1))

    response, _ = browser.request(
        "POST",
        "/accounts/login/",
        form={"username": "prod_advisor", "password": "a-long-production-password", "csrfmiddlewaretoken": token},
    )

    assert (response.status, response.headers["Location"]) == (302, "/")
    response, content = browser.request("GET", "/")
    assert response.status == 200
    assert f'<span class="user-name">{user.get_full_name()}</span>' in content.decode()
