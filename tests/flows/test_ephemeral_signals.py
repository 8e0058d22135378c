"""A killed ``onramp`` command leaves no Prefect server behind (Linux: the test reads /proc).

The command is killed while its flow waits for a source that never answers (a socket that
takes connections and says nothing), so its temporary server is in use, as in a run killed
mid-plan.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")

REPO = Path(__file__).resolve().parents[2]
# The command boots its server and imports its flow before it asks the source anything.
STARTUP_SECONDS = int(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")) + 60
GONE_WITHIN_SECONDS = 15
# How the command ends: SIGTERM stops it (a message, exit status 128 + 15, atexit run); nothing
# can catch SIGKILL.
ENDED_WITH = {signal.SIGTERM: 128 + signal.SIGTERM, signal.SIGKILL: -signal.SIGKILL}


def stop(command: subprocess.Popen, signum: int) -> None:
    """Send ``signum`` as a terminal or a supervisor does (Ctrl-C to the command's process group,
    SIGTERM to the command) and wait at most :data:`GONE_WITHIN_SECONDS` for it to end."""
    if signum == signal.SIGINT:
        os.killpg(command.pid, signum)
    else:
        command.send_signal(signum)
    command.wait(timeout=GONE_WITHIN_SECONDS)


@contextmanager
def killed_if_left(command: subprocess.Popen) -> Iterator[subprocess.Popen]:
    """The command, killed on leaving if it still runs (a test failed before it ended)."""
    try:
        yield command
    finally:
        if command.poll() is None:
            command.kill()
            command.wait()


def children(pid: int) -> list[tuple[int, str]]:
    """The processes ``pid`` started, with their command lines."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue  # not a process
        try:
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append((int(entry.name), (entry / "cmdline").read_bytes().decode(errors="replace")))
        except (FileNotFoundError, ProcessLookupError):
            continue  # ended meanwhile
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie, waiting for its new parent to reap it, does not)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_killed_command_stops_its_temporary_server(signum, tmp_path):
    env = {
        **{name: value for name, value in os.environ.items() if name not in ("PREFECT_API_URL", "ONRAMP_DEBUG")},
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "MAILCHIMP_API_KEY": "0123456789abcdef0123456789abcdef-us6",
    }
    silent = socket.create_server(("127.0.0.1", 0))
    env["MAILCHIMP_BASE_URL"] = f"http://127.0.0.1:{silent.getsockname()[1]}/3.0"
    # A file, not a pipe: a server left running would hold a pipe open after the command ended.
    stderr = tmp_path / "stderr.txt"
    with stderr.open("w") as stderr_file:
        command = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "plan", "mailchimp://a1b2c3", "--out", str(tmp_path / "out")],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr_file,
        )
    try:
        silent.settimeout(STARTUP_SECONDS)
        asked, _ = silent.accept()  # the flow reads its source: the server is the run's API
        servers = [pid for pid, cmdline in children(command.pid) if "uvicorn" in cmdline]
        assert len(servers) == 1, children(command.pid)
        command.send_signal(signum)
        # SIGTERM ends the flow first (Prefect records the run as crashed), once the page request
        # in flight ends: the source goes away rather than time out.
        asked.close()
        silent.close()
        command.wait(timeout=GONE_WITHIN_SECONDS)
        deadline = time.monotonic() + GONE_WITHIN_SECONDS
        while running(servers[0]) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        silent.close()
        if command.poll() is None:
            command.kill()
            command.wait()
    assert not running(servers[0])
    assert command.returncode == ENDED_WITH[signum]
    assert "Traceback" not in stderr.read_text(), stderr.read_text()
