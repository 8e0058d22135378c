"""One emulated HubSpot portal: its settings, state, limits, import workers and request counts.

:class:`HubSpotEmulator` is what tests and the demo hold on to; the HTTP layer (``app.py``) and
the server (``server.py``) are built around it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from typing import Any

from emulators.hubspot.faults import CountedFault, FaultInjector, is_import_creation, is_write
from emulators.hubspot.imports import ImportRunner
from emulators.hubspot.persistence import AutoSaver, load, save
from emulators.hubspot.ratelimit import RateLimiter
from emulators.hubspot.settings import EmulatorSettings
from emulators.hubspot.state import Portal


_LIMIT_FIELDS = {"tier", "daily_limit", "ten_second_limit", "search_per_second", "daily_quota_at"}


class HubSpotEmulator:
    """An in-memory HubSpot portal.

    Args:
        settings: how the portal behaves; defaults to :class:`EmulatorSettings` ().
    """

    def __init__(self, settings: EmulatorSettings | None = None) -> None:
        self.settings = settings or EmulatorSettings()
        self.portal = Portal()
        self.limiter = self._limiter()
        self.faults = FaultInjector(self.settings)
        # The next N writes applied then answered 504; the next N import creations answered
        # 429 with no body (a proxy's or gateway's refusal).
        self.write_faults = CountedFault(is_write)
        self.bare_import_429s = CountedFault(is_import_creation)
        self.imports = ImportRunner(self.portal, lambda: self.settings)
        self._counts_lock = threading.Lock()
        self.request_counts: Counter[tuple[str, str, int]] = Counter()
        self._saver: AutoSaver | None = None
        if self.settings.state_file:
            for job in load(self.portal, self.settings.state_file):
                self.imports.submit(job)
            self._saver = AutoSaver(self.portal, self.settings.state_file)

    def _limiter(self) -> RateLimiter:
        settings = self.settings
        return RateLimiter(
            settings.burst_limit, settings.daily_quota, settings.search_per_second,
            quota_at=settings.daily_quota_at,
        )

    def configure(self, **changes: Any) -> EmulatorSettings:
        """Change settings at runtime (e.g. ``tier="starter"``, ``error_rate=0.2``).

        Changing a limit (tier, daily quota, search rate, ``daily_quota_at``) restarts every
        count from zero; changing a fault rate or the seed restarts the fault draws.

        Returns:
            The new settings.
        """
        self.settings = dataclasses.replace(self.settings, **changes)
        if changes.keys() & _LIMIT_FIELDS:
            self.limiter = self._limiter()
        self.faults = FaultInjector(self.settings)
        return self.settings

    def fail_next_imports(self, count: int = 1) -> None:
        """Make the next ``count`` imports to start processing end ``FAILED``."""
        with self.portal.lock:
            self.imports.fail_next += count

    def reset(self) -> None:
        """Empty the portal and forget every count, keeping the settings."""
        with self.portal.lock:
            for job in self.portal.imports.values():
                job.cancel_requested = True
            self.portal.reset()
        self.imports.release()
        self.imports.fail_next = 0
        self.write_faults.clear()
        self.bare_import_429s.clear()
        self.limiter = self._limiter()
        self.faults = FaultInjector(self.settings)
        with self._counts_lock:
            self.request_counts.clear()

    def count_request(self, method: str, route: str, status: int) -> None:
        """Count one answered request by endpoint and status (and note a change to save)."""
        with self._counts_lock:
            self.request_counts[(method, route, status)] += 1
        if self._saver is not None and method != "GET":
            self._saver.touch()

    def save(self) -> None:
        """Write the portal to the state file now.

        Raises:
            ValueError: the emulator has no ``state_file``.
        """
        if not self.settings.state_file:
            raise ValueError("this emulator has no state_file")
        save(self.portal, self.settings.state_file)

    def shutdown(self) -> None:
        """Stop the import workers, and save the portal when it has a state file."""
        self.imports.shutdown()
        if self._saver is not None:
            self._saver.close()
