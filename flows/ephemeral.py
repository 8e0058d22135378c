"""Prefect's temporary API server, started when the ``onramp`` command starts, not when its flow does.

With no ``PREFECT_API_URL``, Prefect starts a temporary server (a uvicorn subprocess) the first
time a flow needs its API, then waits for it: seconds of a subprocess importing Prefect's server
and opening its database, spent after the command has already imported its own modules and
checked its input. The command launches that same subprocess as its first act instead, so the
server boots on another core while the command imports and checks, and hands it to Prefect when
the flow starts. From there Prefect owns it as if it had launched it: it logs "Starting temporary
server", waits for its health check (launching its own on another port if this one was taken),
and stops it at exit. A command that ends before Prefect adopts it (bad input) stops it, having
logged nothing about it.
"""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from importlib.util import find_spec
from pathlib import Path

# SERVER_ENV and uvicorn_command are what SubprocessASGIServer._run_uvicorn_command runs;
# tests/flows/test_ephemeral.py holds them equal, so a Prefect upgrade that changes its command
# fails there, not in a user's run.
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
# SubprocessASGIServer's port range.
_PORTS = range(8000, 9000)
_PORT_ATTEMPTS = 10
_STOP_TIMEOUT_SECONDS = 5


class _EarlyServer:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.port = port
        self.adopted = False
        self.forget = lambda: None  # undoes a hand-over Prefect did not take up


_early: _EarlyServer | None = None


@contextlib.contextmanager
def temporary_server_started_early(wanted: bool) -> Iterator[None]:
    """Launch Prefect's temporary server now if ``wanted`` and Prefect would start one for a flow.

    Prefect starts one when no ``PREFECT_API_URL`` is set (the test of
    ``prefect.client.orchestration.get_client``); with a server of the user's, nothing is
    launched. On leaving, a server Prefect did not adopt (see :func:`hand_over_to_prefect`) is
    stopped.

    Args:
        wanted: Whether the command runs a flow.
    """
    global _early
    if wanted:
        _early = _launch()
    try:
        yield
    finally:
        early, _early = _early, None
        if early is not None and not early.adopted:
            early.forget()
            _stop(early.process)


def hand_over_to_prefect() -> None:
    """Let Prefect adopt the server launched early the first time it starts its temporary server.

    A no-op when nothing was launched.
    """
    if _early is None:
        return
    from prefect.server.api.server import SubprocessASGIServer

    early, server = _early, SubprocessASGIServer()
    if server.running:
        return  # already started in this process; ours is stopped on leaving

    def adopt_the_early_process() -> subprocess.Popen:
        # Once only: if the port turned out taken, Prefect launches its own on another one.
        del server._run_uvicorn_command
        early.adopted = True
        return early.process

    def forget() -> None:
        vars(server).pop("_run_uvicorn_command", None)
        server.port = None

    server.port = early.port
    server._run_uvicorn_command = adopt_the_early_process
    early.forget = forget


def uvicorn_command(port: int) -> list[str]:
    """The command line of Prefect's temporary server on ``port``."""
    # Located, not imported: importing Prefect takes seconds the server should spend booting.
    prefect_dir = Path(find_spec("prefect").origin).parent
    return [
        sys.executable, "-m", "uvicorn", "--app-dir", str(prefect_dir.parent),
        "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "error", "--lifespan", "on",
    ]


def _launch() -> _EarlyServer | None:
    if os.environ.get("PREFECT_API_URL"):
        return None  # a server of the user's
    port = _free_port()
    if port is None:
        return None  # left to Prefect, which retries for longer
    # Launched before Prefect is imported: the server reads the same environment and settings
    # files as this process, so it runs with the settings Prefect would have handed it.
    early = _EarlyServer(subprocess.Popen(uvicorn_command(port), env={**os.environ, **SERVER_ENV}), port)
    # A server named in a Prefect profile or settings file is known only once they are read.
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED:
        _stop(early.process)
        return None
    return early


def _free_port() -> int | None:
    for _ in range(_PORT_ATTEMPTS):
        port = random.choice(_PORTS)
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    return None


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
