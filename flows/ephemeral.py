"""Prefect's temporary API server, started when the ``onramp`` command starts, not when its flow does.

With no ``PREFECT_API_URL``, Prefect starts a temporary server (a uvicorn subprocess) the first
time a flow needs its API, then waits for it: seconds of a subprocess importing Prefect's server
and opening its database, spent after the command has already imported its own modules and
checked its input, and ~5 s more in the command itself importing Prefect's server module (and
holding its ~80 MiB) to reach the class that launches it. The command launches that same
subprocess as its first act instead, so the server boots on another core while the command
imports and checks its input. When the flow starts, the server becomes the run's
``PREFECT_API_URL``: Prefect talks to it as to any server of the user's, and never imports its
server module. It is stopped at exit, after Prefect has sent its last logs and events. If it
did not come up, nothing is set and Prefect starts its own temporary server, as it would have
without Onramp. A command that ends before its flow starts (bad input) stops it.

A stopped command stops it too. Ctrl-C, SIGTERM and SIGHUP stop a command that runs a flow
the same way, at any point: the work in flight is told to stop (``tasks/stopping.py``: an
import being waited for, a rate-limit wait, a retry's backoff), the command says in one line
that it was stopped and that running it again resumes, and it exits 128 + the signal's number
(130, 143, 129) through ``SystemExit``, so ``atexit`` runs and stops the server. During a flow,
Prefect takes SIGTERM over and raises its own ``TerminationSignal``; once its engine has
recorded the run as crashed it hands the signal back here. On Linux the server also asks the
kernel for SIGTERM when the command dies, whatever killed it (SIGKILL, the OOM killer).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path

from tasks import stopping

# SERVER_ENV and uvicorn_command are what Prefect's SubprocessASGIServer._run_uvicorn_command
# runs; tests/flows/test_ephemeral.py holds them equal, so a Prefect upgrade that changes its
# command fails there, not in a user's run.
SERVER_ENV = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
# SubprocessASGIServer's port range (importing it to ask would cost the import this module saves).
_PORTS = range(8000, 9000)
_PORT_ATTEMPTS = 10
_HEALTH_POLL_SECONDS = 0.1
_STOP_TIMEOUT_SECONDS = 5
# Signals that stop the command, as a person names them. Each is taken over only while at its
# default: one the command was started ignoring (SIGINT in a shell's background job, SIGHUP under
# nohup) stays ignored.
_STOP_SIGNALS = {
    getattr(signal, name): said
    for name, said in (("SIGINT", "Ctrl-C (SIGINT)"), ("SIGTERM", "SIGTERM"), ("SIGHUP", "SIGHUP"))
    if hasattr(signal, name)
}
_DEFAULT_HANDLERS = (signal.SIG_DFL, signal.default_int_handler)
# <linux/prctl.h>: the signal the kernel sends a process when the thread that forked it exits.
_PR_SET_PDEATHSIG = 1


class CommandStopped(SystemExit):
    """The command was stopped by a signal: it exits 128 + the signal's number.

    A ``SystemExit``, so the command's own error handling lets it through and ``atexit`` runs.

    Args:
        signum: The signal.
    """

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum

    @property
    def message(self) -> str:
        """What the command says as it ends."""
        return f"stopped by {_STOP_SIGNALS[self.signum]}; run the same command again to resume where it stopped"


class _EarlyServer:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.api_url = f"http://127.0.0.1:{port}/api"
        self.in_use = False


_early: _EarlyServer | None = None


@contextlib.contextmanager
def temporary_server_started_early(wanted: bool) -> Iterator[None]:
    """Launch Prefect's temporary server now if ``wanted`` and Prefect would start one for a flow.

    Prefect starts one when no ``PREFECT_API_URL`` is set (the test of
    ``prefect.client.orchestration.get_client``); with a server of the user's, in the
    environment or in Prefect's settings, nothing is left running. On leaving, a server no flow
    used (see :func:`use_the_early_server`) is stopped.

    If ``wanted``, Ctrl-C, SIGTERM and SIGHUP stop the command inside it as the module says:
    the stop's one line is printed here, as :class:`CommandStopped` leaves it.

    Args:
        wanted: Whether the command runs a flow.
    """
    global _early
    replaced = _stop_on_signals() if wanted else {}
    if wanted:
        _early = _launch()
    try:
        yield
    except CommandStopped as stopped:
        print(f"onramp: {stopped.message}", file=sys.stderr, flush=True)
        raise
    finally:
        if not _stopped:
            # The command ended, and its process may go on (a test, a script): it gets its
            # signals back. A stopped one keeps them to the end (see _stop_the_command).
            for signum, handler in replaced.items():
                signal.signal(signum, handler)
        early, _early = _early, None
        if early is not None and not early.in_use:
            _stop(early.process)


def use_the_early_server() -> None:
    """Make the server launched early the run's Prefect API, once it answers its health check.

    Call it just before the flow starts. It sets ``PREFECT_API_URL`` (for this process, and for
    any process it starts) and has the server stopped at exit. A no-op when nothing was
    launched; when the server died (its port was taken meanwhile) or did not answer in
    ``PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS``, it is stopped and Prefect starts its
    own temporary server instead.

    It also takes Ctrl-C back for the command (see :func:`_stop_on_signals`).
    """
    _stop_on_signals()
    if _early is None or _early.in_use:
        return
    from prefect.context import refresh_global_settings_context
    from prefect.logging import get_logger
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS

    if not _healthy(_early, PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()):
        return  # stopped on leaving; Prefect launches its own
    _early.in_use = True
    os.environ["PREFECT_API_URL"] = _early.api_url
    # Its UI is off (as on Prefect's own temporary server) and it is gone after the command:
    # no "View at" links to it.
    os.environ.setdefault("PREFECT_UI_URL", "")
    refresh_global_settings_context()
    get_logger("onramp").info("Prefect API: a temporary server at %s, stopped when the command ends", _early.api_url)
    # Registered before the flow starts Prefect's log and event workers: atexit runs the last
    # registered first, so they send what they hold before the server stops, as with Prefect's
    # own temporary server (which registers its stop the same way).
    atexit.register(_stop, _early.process)


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
    # A session of its own: a terminal's Ctrl-C goes to its whole foreground process group, and
    # the server, stopped with the command, left Prefect retrying a dead API for a minute before
    # the command could say it stopped. The command stops it at its end (or the kernel does).
    # Its output is not the command's: stopped while it starts (a parameter refused at once), it
    # logged Prefect's own traceback on the console under the command's one-line error; a
    # server that fails is replaced by Prefect's own (use_the_early_server).
    process = subprocess.Popen(
        uvicorn_command(port), env={**os.environ, **SERVER_ENV}, preexec_fn=_dies_with_the_command(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    early = _EarlyServer(process, port)
    # A server named in a Prefect profile or settings file is known only once they are read.
    from prefect.settings import PREFECT_API_URL, PREFECT_SERVER_EPHEMERAL_ENABLED

    if PREFECT_API_URL.value() or not PREFECT_SERVER_EPHEMERAL_ENABLED:
        _stop(early.process)
        return None
    return early


def _healthy(early: _EarlyServer, timeout_seconds: float) -> bool:
    """Wait for the server's health check; False once it has exited or the time is up."""
    deadline = time.monotonic() + timeout_seconds
    while early.process.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{early.api_url}/health", timeout=timeout_seconds) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet
        time.sleep(_HEALTH_POLL_SECONDS)
    return False


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


def _dies_with_the_command() -> Callable[[], None] | None:
    """What the server runs before its program, on Linux: have the kernel send it SIGTERM when
    the command dies, however it dies. None elsewhere, and off the main thread: the kernel sends
    it when the *thread* that launched the server ends, which must be the command's end."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    command = os.getpid()

    def ask_for_sigterm_when_the_command_dies() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != command:  # the command died before the request: nothing would come
            os.kill(os.getpid(), signal.SIGTERM)

    return ask_for_sigterm_when_the_command_dies


def _stop_on_signals() -> dict[int, Callable | int]:
    """Have Ctrl-C, SIGTERM and SIGHUP stop the command (see the module), and return the handlers
    replaced. Python handles signals on the main thread only: elsewhere, they keep theirs.

    Called again just before the flow starts (:func:`use_the_early_server`), once the command's
    libraries are imported: polars installs a native SIGINT handler as it is imported, with
    ``SA_RESTART`` (pola-rs/polars#21739), so that a wait of the main thread for other threads
    (a load's steps) resumes after Ctrl-C instead of returning to run Python's handler: Ctrl-C
    did nothing until the wait ended. Setting the handler again puts Python's own back.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    replaced = {}
    for signum in _STOP_SIGNALS:
        handler = signal.getsignal(signum)
        if handler in _DEFAULT_HANDLERS or handler is _stop_the_command:
            signal.signal(signum, _stop_the_command)
            replaced[signum] = handler
    return replaced


_stopped = False


def _stop_the_command(signum: int, frame: object) -> None:
    global _stopped
    # Once: a second signal would cut the stop's own clean-up short (stopping the server, sending
    # Prefect's last logs) with a traceback. SIGKILL still ends it at once.
    if _stopped:
        return
    _stopped = True
    stopping.request_stop()
    raise CommandStopped(signum)


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=_STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
