"""Faults on demand: injected error statuses, dropped connections and latency, seeded; and
errors answered after a write was applied.

Drawn per HubSpot request (admin routes are never faulted) from a generator seeded with
``fault_seed``, so a failing run replays the same faults in the same order. Injected faults are
decided before auth and rate limits, so they do not use the request budget.

Those faults answer before the route runs, so nothing was written. HubSpot's 502 and 504 are
gateway timeouts, though, of work that may have been done: a :class:`CountedFault` of writes
(:func:`is_write`) lets the next N writes run and answers them 504 all the same, which is what a
client must not send twice. Another (:func:`is_import_creation`) answers the next N import
creations 429 with no body and no rate-limit headers, as a proxy or gateway in front of HubSpot
may: a refusal naming no limit, which a client cannot tell from HubSpot's own.
"""

from __future__ import annotations

import logging
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from emulators.hubspot.errors import HubSpotError
from emulators.hubspot.imports import IMPORTS_PATH
from emulators.hubspot.settings import EmulatorSettings

_MESSAGES = {
    423: ("Locked: the record is being written by another request. Retry in 2 seconds.", "LOCKED"),
    500: ("An internal error occurred.", "INTERNAL_ERROR"),
    502: ("Bad gateway.", "BAD_GATEWAY"),
    503: ("Service unavailable.", "SERVICE_UNAVAILABLE"),
    504: ("Gateway timeout.", "GATEWAY_TIMEOUT"),
}


# Requests sent as POST that only read: searches and batch reads (``.../batch/read``,
# ``.../statuses/batch/unsubscribe-all/read``).
_READS_SENT_AS_POST = re.compile(r"/(search|read)$")
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AFTER_WRITE_STATUS = 504


class DroppedConnection(Exception):
    """Raised mid-response to make the server drop the connection."""


class _QuietDrops(logging.Filter):
    """Keeps the server's log free of the tracebacks of connections dropped on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))


def quiet_dropped_connections() -> None:
    """Stop uvicorn from logging a traceback for each connection dropped on purpose."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietDrops) for f in logger.filters):
        logger.addFilter(_QuietDrops())


@dataclass(frozen=True)
class Fault:
    """What to do to one request."""

    latency: float = 0.0
    drop: bool = False
    error: HubSpotError | None = None


class FaultInjector:
    """Draws the fault of each request from the settings' rates.

    Args:
        settings: the emulator's settings when the injector was made (rates and seed).
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        self._settings = settings
        self._random = random.Random(settings.fault_seed)
        self._lock = threading.Lock()

    def draw(self) -> Fault:
        """Return the fault for the next request (``Fault()`` when none)."""
        settings = self._settings
        if not (settings.error_rate or settings.drop_rate or settings.latency):
            return Fault()
        with self._lock:
            drop = self._random.random() < settings.drop_rate
            failing = self._random.random() < settings.error_rate
            status = self._random.choice(settings.error_statuses) if settings.error_statuses else 500
        error = None
        if failing and not drop:
            message, category = _MESSAGES.get(status, ("Injected failure.", "INTERNAL_ERROR"))
            error = HubSpotError(status, message, category)
        return Fault(latency=settings.latency, drop=drop, error=error)


def is_write(method: str, path: str) -> bool:
    """Whether a HubSpot request changes the portal (a search or batch read sent as POST does not)."""
    return method.upper() in _WRITE_METHODS and not _READS_SENT_AS_POST.search(path)


def is_import_creation(method: str, path: str) -> bool:
    """Whether a HubSpot request creates an import (``POST /crm/v3/imports``, trailing slash dropped)."""
    return method.upper() == "POST" and path == IMPORTS_PATH


def after_write_error() -> HubSpotError:
    """The answer to a write the route applied: a gateway timeout, as HubSpot's own."""
    message, category = _MESSAGES[AFTER_WRITE_STATUS]
    return HubSpotError(AFTER_WRITE_STATUS, message, category)


class CountedFault:
    """How many of the next requests a rule picks are still to be faulted (thread-safe).

    Kept apart from :class:`FaultInjector` (remade whenever settings change), like the imports
    to fail: a count set for the next requests survives a change of rates.

    Args:
        picks: whether a request (method, path) is one this fault counts down on.
    """

    def __init__(self, picks: Callable[[str, str], bool]) -> None:
        self._picks = picks
        self._pending = 0
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Requests still to be faulted."""
        return self._pending

    def add(self, count: int) -> None:
        """Fault the next ``count`` requests the rule picks."""
        with self._lock:
            self._pending += count

    def clear(self) -> None:
        """Forget the requests still to be faulted."""
        with self._lock:
            self._pending = 0

    def take(self, method: str, path: str) -> bool:
        """Whether this request is one to fault (counted down)."""
        if not self._picks(method, path):
            return False
        with self._lock:
            if self._pending <= 0:
                return False
            self._pending -= 1
            return True
