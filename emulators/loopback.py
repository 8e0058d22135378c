"""Serving a provider emulator's ASGI app on loopback from a background thread.

The Mailchimp and Constant Contact emulators share this; the HubSpot emulator has its own
server (it also serves in the foreground and keeps state between restarts).
"""

from __future__ import annotations

import threading
import time

import uvicorn

from emulators.hubspot.server import _bind

_START_TIMEOUT_SECONDS = 30


class LoopbackServer:
    """An ASGI app served by uvicorn on loopback in a daemon thread.

    Use it as a context manager or call ``.stop()``.

    Attributes:
        url: The server's base URL, e.g. ``http://127.0.0.1:41234``.
    """

    def __init__(self, app, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = _bind(host, port)
        self.url = f"http://{host}:{self._socket.getsockname()[1]}"
        # No access log: request lines would carry list ids and filters nobody asked to log.
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name=name, daemon=True
        )
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            time.sleep(0.01)
        if not self._server.started:
            raise RuntimeError(f"the {name} did not start")

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.should_exit = True
        self._thread.join(_START_TIMEOUT_SECONDS)
        self._socket.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class ProviderServer(LoopbackServer):
    """A running provider emulator.

    Attributes:
        emulator: The emulated account (its data, limits and counters, for tests to inspect).
        settings: Its settings.
        url: The server's base URL.
        api_url: The API base a client is given, e.g. ``http://127.0.0.1:41234/3.0``.
    """

    def __init__(self, emulator, app, name: str, api_prefix: str, host: str, port: int) -> None:
        super().__init__(app, name, host, port)
        self.emulator = emulator
        self.settings = emulator.settings
        self.api_url = self.url + api_prefix


class InFlight:
    """Requests being served right now, and the most ever served at once.

    The emulators run on one event loop, so plain integers need no lock.
    """

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self.refused = 0

    def enter(self) -> None:
        """Count a request that starts being served."""
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        """Count a request that is answered."""
        self.now -= 1
