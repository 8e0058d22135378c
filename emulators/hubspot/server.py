"""Serving the emulator over HTTP on loopback: in a background thread, or in the foreground."""

from __future__ import annotations

import dataclasses
import errno
import signal
import socket
import threading
import time
from typing import Any

import uvicorn

from emulators.hubspot.app import create_app
from emulators.hubspot.emulator import HubSpotEmulator
from emulators.hubspot.settings import EmulatorSettings

_START_TIMEOUT_SECONDS = 30


def _settings(settings: EmulatorSettings | None, overrides: dict[str, Any]) -> EmulatorSettings:
    return dataclasses.replace(settings or EmulatorSettings(), **overrides)


def _server(emulator: HubSpotEmulator) -> uvicorn.Server:
    # No access log: request lines carry email addresses, which the project never logs.
    config = uvicorn.Config(
        create_app(emulator), log_level="warning", access_log=False, lifespan="off"
    )
    return uvicorn.Server(config)


class PortUnavailable(OSError):
    """A port an emulator cannot listen on; the message names the port and why, in one line."""


def _bind(host: str, port: int) -> socket.socket:
    # uvicorn writes a response's head and body in two sends. asyncio turns Nagle off
    # (TCP_NODELAY) on each accepted connection only when the socket's protocol is IPPROTO_TCP;
    # with the default 0 the body waits for the client's delayed ACK, ~40 ms a kept-alive request.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as error:
        sock.close()
        raise PortUnavailable(port_unavailable_reason(port, error)) from None
    return sock


def port_unavailable_reason(port: int, error: OSError | OverflowError) -> str:
    """Why ``port`` cannot be listened on, in words, from the error binding it raised."""
    if isinstance(error, OverflowError):
        return f"port {port} is not one (0 to 65535)"
    if error.errno == errno.EADDRINUSE:
        return f"port {port} is in use"
    if error.errno == errno.EACCES:
        return f"port {port} needs privileges this user lacks"
    return f"port {port} cannot be listened on ({error.strerror})"


def _exit_quietly(signum: int, frame: object) -> None:
    # uvicorn stops gracefully on SIGTERM, then raises it again once done. Exiting here instead
    # of dying by the signal's default action lets the portal be saved to its state file.
    raise SystemExit(0)


class EmulatorServer:
    """A running emulator served from a background thread.

    Attributes:
        emulator: the portal (inspect ``emulator.portal``, call ``emulator.reset()``, ...).
        url: base URL to give the client, e.g. ``http://127.0.0.1:41234``.
    """

    def __init__(self, emulator: HubSpotEmulator, host: str, port: int) -> None:
        self.emulator = emulator
        self._socket = _bind(host, port)
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        self._server = _server(emulator)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]},
            name="hubspot-emulator", daemon=True,
        )
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError("the HubSpot emulator did not start")

    def connection_sockets(self) -> list[socket.socket]:
        """The sockets of the connections open right now, so a test can check their options."""
        return [
            connection.transport.get_extra_info("socket")
            for connection in list(self._server.server_state.connections)
        ]

    def stop(self) -> None:
        """Stop serving and stop the import workers."""
        self._server.should_exit = True
        self._thread.join(_START_TIMEOUT_SECONDS)
        self._socket.close()
        self.emulator.shutdown()

    def __enter__(self) -> "EmulatorServer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_in_background(
    host: str = "127.0.0.1",
    port: int = 0,
    settings: EmulatorSettings | None = None,
    **overrides: Any,
) -> EmulatorServer:
    """Start an emulated HubSpot portal on loopback in a background thread.

    Use it as a context manager (``with serve_in_background() as hub: ...``) or call
    ``.stop()``. Point the official client at it with
    ``HubSpot(access_token="any", host=hub.url)``.

    Args:
        host: address to bind (keep it on loopback).
        port: port to bind; 0 picks a free one.
        settings: the portal's settings; defaults to :class:`EmulatorSettings` ().
        **overrides: settings fields to change, e.g. ``tier="starter"``, ``row_delay=0.01``.

    Returns:
        The running server, with ``.url`` and ``.emulator``.
    """
    return EmulatorServer(HubSpotEmulator(_settings(settings, overrides)), host, port)


def serve_forever(
    port: int = 8080,
    host: str = "127.0.0.1",
    settings: EmulatorSettings | None = None,
    fail_imports: int = 0,
    error_after_write: int = 0,
    **overrides: Any,
) -> None:
    """Serve an emulated HubSpot portal in the foreground until interrupted (Ctrl-C).

    This is what ``onramp emulator [--port N]`` runs. It prints the base URL once listening.

    Args:
        port: port to bind; 0 picks a free one.
        host: address to bind (keep it on loopback).
        settings: the portal's settings; defaults to :class:`EmulatorSettings` ().
        fail_imports: the first this many imports to process end ``FAILED``.
        error_after_write: the first this many writes are applied, then answered 504.
        **overrides: settings fields to change, e.g. ``tier="starter"``.

    Raises:
        PortUnavailable: ``port`` is in use, needs privileges, or is no port.
    """
    # Bound first: a port another program holds is refused before a state file is read.
    sock = _bind(host, port)
    emulator = HubSpotEmulator(_settings(settings, overrides))
    emulator.fail_next_imports(fail_imports)
    emulator.write_faults.add(error_after_write)
    print(f"HubSpot emulator listening on http://{host}:{sock.getsockname()[1]} (Ctrl-C to stop)",
          flush=True)
    signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        _server(emulator).run(sockets=[sock])
    finally:
        sock.close()
        emulator.shutdown()
