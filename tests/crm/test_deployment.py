"""docker-compose.yml keeps the production shape; `docker compose config` accepts it where Docker is."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parent.parent.parent
COMPOSE = BASE_DIR / "docker-compose.yml"


def test_compose_runs_postgres_redis_web_worker_and_one_beat():
    services = yaml.safe_load(COMPOSE.read_text())["services"]

    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "beat"}
    assert services["web"]["command"][0] == "gunicorn"
    assert services["worker"]["command"][:4] == ["celery", "-A", "config", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "config", "beat"]
    assert services["beat"]["deploy"]["replicas"] == 1


@pytest.mark.skipif(
    not (shutil.which("docker-compose") or shutil.which("docker")), reason="no Docker client on this machine"
)
def test_docker_compose_config_accepts_the_file(tmp_path):
    # The services read .env, which an operator writes from .env.example.
    (tmp_path / ".env").write_text((BASE_DIR / ".env.example").read_text())
    (tmp_path / "docker-compose.yml").write_text(COMPOSE.read_text())
    command = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]

    result = subprocess.run([*command, "config", "-q"], capture_output=True, text=True, cwd=tmp_path)

    if "unknown" in result.stderr and command == ["docker", "compose"]:
        pytest.skip("this Docker client has no compose plugin")
    assert result.returncode == 0, result.stderr


# --- The image writes only where its user can ------------------------------------------------------
DOCKERFILE = BASE_DIR / "Dockerfile"
APP_SERVICES = ("migrate", "web", "worker", "beat")


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
        pending = ""
    return instructions


def image_user() -> str:
    return [arguments for keyword, arguments in dockerfile_instructions() if keyword == "USER"][-1]


def image_environment() -> dict[str, str]:
    environment = {}
    for keyword, arguments in dockerfile_instructions():
        if keyword == "ENV":
            environment.update(pair.split("=", 1) for pair in arguments.split())
    return environment


def directories_given_to(user: str) -> set[str]:
    """Directories a RUN instruction hands to ``user`` with ``chown user:group dir…``."""
    owned = set()
    for keyword, arguments in dockerfile_instructions():
        if keyword != "RUN":
            continue
        for command in arguments.split("&&"):
            words = command.split()
            if words[:1] == ["chown"]:
                owner, *paths = [word for word in words[1:] if not word.startswith("-")]
                if owner.split(":")[0] == user:
                    owned.update(paths)
    return owned


def beat_schedule_directory(services) -> str:
    command = services["beat"]["command"]
    return str(Path(command[command.index("--schedule") + 1]).parent)


def runtime_write_directories(services) -> dict[str, str]:
    """Where the app writes at run time in the image: uploads, the SMS file gateway, beat's schedule."""
    environment = image_environment()
    return {
        "MEDIA_ROOT": environment["MEDIA_ROOT"],
        "SMS_FILE_GATEWAY_DIR": environment["SMS_FILE_GATEWAY_DIR"],
        "beat --schedule": beat_schedule_directory(services),
    }


def mounts(service) -> dict[str, str]:
    return {entry.split(":")[1]: entry.split(":")[0] for entry in service.get("volumes", [])}


def test_the_image_runs_as_an_unprivileged_user_owning_every_directory_it_writes():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    user = image_user()

    assert user not in {"root", "0", ""}
    assert runtime_write_directories(services) == {
        "MEDIA_ROOT": "/app/var/media",
        "SMS_FILE_GATEWAY_DIR": "/app/var/sms",
        "beat --schedule": "/app/var/beat",
    }
    assert set(runtime_write_directories(services).values()) <= directories_given_to(user)


def test_compose_keeps_what_the_app_writes_on_volumes_shared_by_the_services_that_write_it():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    written = runtime_write_directories(services)

    # Web takes uploads, the worker writes an import's rejected rows and sends SMS: one volume each.
    for name in ("web", "worker", "beat"):
        assert mounts(services[name])[written["MEDIA_ROOT"]] == "media", name
        assert mounts(services[name])[written["SMS_FILE_GATEWAY_DIR"]] == "sms", name
    assert mounts(services["beat"])[written["beat --schedule"]] == "beat"
    assert {"media", "sms", "beat"} <= set(compose["volumes"])
    # Nothing is mounted over the code or over a directory the image's user does not own.
    owned = directories_given_to(image_user())
    for name in APP_SERVICES:
        assert set(mounts(services[name])) <= owned, name


def test_the_build_context_leaves_out_secrets_and_local_state():
    ignored = {line.strip() for line in (BASE_DIR / ".dockerignore").read_text().splitlines()}

    assert {".env", ".venv", "var", ".git"} <= ignored


def test_compose_runs_the_image_command_for_the_web_service():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    image_command = json.loads(next(arguments for keyword, arguments in dockerfile_instructions() if keyword == "CMD"))

    assert services["web"]["command"] == [*image_command, "--access-logfile", "-"]
    # gunicorn's control socket would be made under $HOME, which the image's user does not own.
    assert "--no-control-socket" in image_command
