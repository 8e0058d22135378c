"""One emulated HubSpot portal: its settings, state, limits, import workers and request counts.

:class:`HubSpotEmulator` is what tests and the demo hold on to; the HTTP layer (``app.py``) and
the server (``server.py``) are built around it.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from typing import Any

from emulators.hubspot.imports import ImportRunner
from emulators.hubspot.ratelimit import RateLimiter
from emulators.hubspot.settings import EmulatorSettings
from emulators.hubspot.state import Portal


class HubSpotEmulator:
    """An in-memory HubSpot portal.

    Args:
        settings: how the portal behaves; defaults to :class:`EmulatorSettings` ().
    """

    def __init__(self, settings: EmulatorSettings | None = None) -> None:
        self.settings = settings or EmulatorSettings()
        self.portal = Portal()
        self.limiter = self._limiter()
        self.imports = ImportRunner(self.portal, lambda: self.settings)
        self._counts_lock = threading.Lock()
        self.request_counts: Counter[tuple[str, str, int]] = Counter()

    def _limiter(self) -> RateLimiter:
        return RateLimiter(
            self.settings.burst_limit, self.settings.daily_quota, self.settings.search_per_second
        )

    def configure(self, **changes: Any) -> EmulatorSettings:
        """Change settings at runtime (e.g. ``tier="starter"``); limits restart from zero.

        Returns:
            The new settings.
        """
        self.settings = dataclasses.replace(self.settings, **changes)
        self.limiter = self._limiter()
        return self.settings

    def reset(self) -> None:
        """Empty the portal and forget every count, keeping the settings."""
        with self.portal.lock:
            for job in self.portal.imports.values():
                job.cancel_requested = True
            self.portal.reset()
        self.imports.release()
        self.imports.fail_next = 0
        self.limiter.reset()
        with self._counts_lock:
            self.request_counts.clear()

    def count_request(self, method: str, route: str, status: int) -> None:
        """Count one answered request by endpoint and status."""
        with self._counts_lock:
            self.request_counts[(method, route, status)] += 1

    def shutdown(self) -> None:
        """Stop the import workers."""
        self.imports.shutdown()
