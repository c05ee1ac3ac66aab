"""`make run`'s launcher (crm/devstack.py) stops every process it started, however it is stopped.

The launcher runs for real, in its own process group, with stand-ins for its children: a server
(Redis's place), a process that starts a worker process of its own in its group (gunicorn's place)
and one that ignores SIGTERM (a stuck Celery worker). Then it is stopped the ways a developer or a
script stops it, `make` included (make forwards SIGTERM, so the launcher gets it twice).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SERVER = """
import os, sys, time
open(os.path.join(sys.argv[1], "server"), "w").write(str(os.getpid()))
time.sleep(600)
"""
FORKING = """
import os, subprocess, sys, time
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
open(os.path.join(sys.argv[1], "web"), "w").write(f"{os.getpid()} {worker.pid}")
time.sleep(600)
"""
STUBBORN = """
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(os.path.join(sys.argv[1], "worker"), "w").write(str(os.getpid()))
time.sleep(600)
"""
LAUNCHER = f"""
import sys
from crm.devstack import Launcher

records, python = sys.argv[1], sys.executable

def start(launcher):
    launcher.spawn("redis", [python, "-c", {SERVER!r}, records], is_server=True)
    launcher.spawn("web", [python, "-c", {FORKING!r}, records])
    launcher.spawn("worker", [python, "-c", {STUBBORN!r}, records])

sys.exit(Launcher(grace_seconds=2).run(start))
"""


def is_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has stopped; only its parent's reaping is left


def started_pids(records: Path) -> list[int]:
    deadline = time.monotonic() + 30
    while not all((records / name).exists() and (records / name).read_text() for name in ("server", "web", "worker")):
        assert time.monotonic() < deadline, "the launcher's children did not start within 30 s"
        time.sleep(0.05)
    time.sleep(0.1)  # the web stand-in writes both of its pids at once
    return [int(pid) for name in ("server", "web", "worker") for pid in (records / name).read_text().split()]


def start_launcher(tmp_path: Path, *, through_make: bool) -> subprocess.Popen:
    records = tmp_path / "records"
    records.mkdir()
    script = tmp_path / "launcher.py"
    script.write_text(LAUNCHER)
    command = [sys.executable, str(script), str(records)]
    if through_make:
        makefile = tmp_path / "Makefile"
        makefile.write_text(f"run:\n\t{' '.join(command)}\n")
        command = ["make", "--no-print-directory", "-f", str(makefile), "run"]
    env = {**os.environ, "PYTHONPATH": str(BASE_DIR)}
    # A process group of its own, like a terminal's job: signalling the group reaches nothing else.
    return subprocess.Popen(
        command, cwd=BASE_DIR, env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def send_sigterm_to_the_group_twice(launcher: subprocess.Popen, pids: list[int]) -> None:
    os.killpg(launcher.pid, signal.SIGTERM)
    time.sleep(0.3)  # the second one lands in the middle of the cleanup (2 s grace for the stuck worker)
    os.killpg(launcher.pid, signal.SIGTERM)


STOPS = {
    "SIGTERM to the launcher": lambda launcher, pids: os.kill(launcher.pid, signal.SIGTERM),
    "SIGTERM to its process group, twice": send_sigterm_to_the_group_twice,
    "SIGINT to its process group (Ctrl-C)": lambda launcher, pids: os.killpg(launcher.pid, signal.SIGINT),
    "SIGHUP to the launcher (terminal closed)": lambda launcher, pids: os.kill(launcher.pid, signal.SIGHUP),
    "a child dies": lambda launcher, pids: os.kill(pids[1], signal.SIGKILL),
}


@pytest.mark.parametrize("stop", list(STOPS))
def test_every_child_stops_however_the_launcher_is_stopped(tmp_path, stop):
    launcher = start_launcher(tmp_path, through_make=False)
    try:
        pids = started_pids(tmp_path / "records")
        assert all(is_running(pid) for pid in pids)

        STOPS[stop](launcher, pids)
        output = launcher.communicate(timeout=30)[0].decode()

        assert [pid for pid in pids if is_running(pid)] == []
        assert launcher.returncode == (1 if stop == "a child dies" else 0)
        assert output.rstrip().endswith("[make run] stopped.")
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)


def test_every_child_stops_when_make_run_is_stopped_with_kill_on_its_process_group(tmp_path):
    make = start_launcher(tmp_path, through_make=True)
    try:
        pids = started_pids(tmp_path / "records")

        os.killpg(make.pid, signal.SIGTERM)  # `kill -- -PGID`: make forwards it to the launcher too
        output = make.communicate(timeout=30)[0].decode()

        assert [pid for pid in pids if is_running(pid)] == []
        assert "[make run] stopped." in output
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
