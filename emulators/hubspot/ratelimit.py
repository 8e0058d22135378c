"""HubSpot's request limits: the ten-second burst per token, the daily quota, search per second.

Each check either admits a request (and counts it) or raises the exact 429 HubSpot sends.
Rejected requests are not counted, so a client that backs off recovers once its window slides.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque

from emulators.hubspot.errors import HubSpotError

BURST_WINDOW_SECONDS = 10.0
SEARCH_WINDOW_SECONDS = 1.0


def _rate_limit_error(message: str, policy: str, headers: dict[str, str] | None = None) -> HubSpotError:
    # HubSpot's 429 bodies carry errorType/policyName/requestId and no category.
    return HubSpotError(
        429,
        message,
        category="",
        extra={
            "errorType": "RATE_LIMIT",
            "policyName": policy,
            "requestId": str(uuid.uuid4()),
        },
        headers=headers,
    )


class RateLimiter:
    """Counts requests and enforces the burst, daily and search limits.

    Args:
        burst_limit: requests per token in any ten-second window.
        daily_quota: requests per day for the portal.
        search_per_second: search requests per second for the portal.
        quota_at: when set, the daily quota counts as reached at this request (a fault).
        clock: monotonic clock, replaceable in tests.
    """

    def __init__(
        self,
        burst_limit: int,
        daily_quota: int,
        search_per_second: int,
        quota_at: int | None = None,
        clock=time.monotonic,
    ) -> None:
        self.burst_limit = burst_limit
        self.daily_quota = daily_quota
        # What the portal may really use today: the quota, or less when a fault says so.
        self._usable = daily_quota if quota_at is None else min(daily_quota, quota_at - 1)
        self.search_per_second = search_per_second
        self._clock = clock
        self._lock = threading.Lock()
        self._windows: dict[str, deque[float]] = {}
        self._search: deque[float] = deque()
        self.daily_used = 0

    def _daily_headers(self) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Daily": str(self.daily_quota),
            "X-HubSpot-RateLimit-Daily-Remaining": str(max(self._usable - self.daily_used, 0)),
        }

    def _burst_headers(self, used: int) -> dict[str, str]:
        return {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(BURST_WINDOW_SECONDS * 1000)),
            "X-HubSpot-RateLimit-Max": str(self.burst_limit),
            "X-HubSpot-RateLimit-Remaining": str(max(self.burst_limit - used, 0)),
        }

    @staticmethod
    def _slide(window: deque[float], now: float, span: float) -> None:
        while window and window[0] <= now - span:
            window.popleft()

    def admit(self, token_key: str) -> dict[str, str]:
        """Admit one ordinary request for a token.

        Args:
            token_key: an opaque key for the token (never the token itself is kept in logs).

        Returns:
            The ``X-HubSpot-RateLimit-*`` headers for the response.

        Raises:
            HubSpotError: 429 ``DAILY`` or ``TEN_SECONDLY_ROLLING``, with the headers.
        """
        with self._lock:
            now = self._clock()
            window = self._windows.setdefault(token_key, deque())
            self._slide(window, now, BURST_WINDOW_SECONDS)
            if self.daily_used >= self._usable:
                headers = {**self._burst_headers(len(window)), **self._daily_headers()}
                raise _rate_limit_error("You have reached your daily limit.", "DAILY", headers)
            if len(window) >= self.burst_limit:
                headers = {**self._burst_headers(len(window)), **self._daily_headers()}
                raise _rate_limit_error(
                    "You have reached your ten_secondly_rolling limit.",
                    "TEN_SECONDLY_ROLLING",
                    headers,
                )
            window.append(now)
            self.daily_used += 1
            return {**self._burst_headers(len(window)), **self._daily_headers()}

    def admit_search(self) -> None:
        """Admit one CRM search request (search answers carry no rate-limit headers).

        Raises:
            HubSpotError: 429 ``DAILY`` or ``SECONDLY``.
        """
        with self._lock:
            now = self._clock()
            self._slide(self._search, now, SEARCH_WINDOW_SECONDS)
            if self.daily_used >= self._usable:
                raise _rate_limit_error("You have reached your daily limit.", "DAILY")
            if len(self._search) >= self.search_per_second:
                raise _rate_limit_error("You have reached your secondly limit.", "SECONDLY")
            self._search.append(now)
            self.daily_used += 1
