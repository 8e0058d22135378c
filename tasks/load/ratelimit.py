"""One request budget per HubSpot portal, shared by every thread and process that talks to it.

HubSpot counts three budgets (``reference/hubspot-api.md`` §3): the 10-second burst per app
(100/190/250 by tier, told by ``X-HubSpot-RateLimit-Max`` and ``-Interval-Milliseconds``), the
daily quota of the account (``-Daily-Remaining``) and CRM search at 5 a second. :class:`RateBudget`
keeps all three so that the load throttles *before* HubSpot answers 429.

Why a limiter of our own rather than Prefect's global concurrency limits:

- Prefect's ``rate_limit`` is a token bucket (``limit`` slots, ``slot_decay_per_second``). A
  bucket that may burst ``b`` and refills at ``r`` lets ``b + 10 r`` requests into some 10-second
  window; keeping that under 190 caps the steady rate at ``(190 - b) / 10``: 95 % of the ceiling
  for ``b = 9.5``, and nothing left for latency. HubSpot's window is a *rolling log*, and only a
  log can use all of it.
- Every acquisition is a round trip to the Prefect server: 0.1-2 s against a local one
  (``reference/ecosystem.md`` §1.5), against 19 requests a second to pace.
- An undefined limit silently does nothing (``strict=False``), so a typo would mean no limit.

So the budget is a rolling log of request times, the same rule HubSpot applies, kept in a small
JSON file under a state directory and guarded by ``flock``: threads and processes on one machine
share it (workers on several machines would each need their own portal token). Two choices
make it exact rather than hopeful:

- A request occupies a slot from the moment it is granted until ``window`` seconds after its
  answer came back. HubSpot counted it somewhere between the two, so the slot is never freed
  before HubSpot frees it, whatever the latency.
- Grants are paced ``window / limit`` apart, so the load runs at a steady rate instead of
  spending the window in a burst and then idling (the same throughput, no queue at HubSpot);
  a grant that comes late is caught up on, up to ``RATE_PACE_SLACK_SECONDS``.

The file is named by a hash of the portal URL and of the token's hash: nothing on disk says
which token it is.

Next to the budgets, :class:`ImportLog` counts the imports Onramp created in each portal over a
rolling 24 hours (HubSpot allows 500 a day, 50 on free portals), the same way: a small file per
portal, under ``flock``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import itertools
import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tasks import stopping
from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.log import get_logger

BURST = "burst"
SEARCH = "search"
# CRM search: the only endpoint family with its own per-second limit (and no rate headers).
_SEARCH_PATH = re.compile(r"/crm/v3/objects/[^/]+/search(\?|$)")


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Look a header up case-insensitively in any mapping (urllib3, requests or a plain dict)."""
    if not headers:
        return None
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def int_header(headers: Mapping[str, str] | None, name: str) -> int | None:
    """An integer header, ``None`` when absent or not a number."""
    value = header(headers, name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def window_seconds(headers: Mapping[str, str] | None) -> float:
    """The length of the rate-limit window from ``X-HubSpot-RateLimit-Interval-Milliseconds``."""
    milliseconds = int_header(headers, "X-HubSpot-RateLimit-Interval-Milliseconds") or 0
    return milliseconds / 1000 if milliseconds > 0 else settings.DEFAULT_RATE_WINDOW_SECONDS


def kind_of(what: str) -> str:
    """Which budget a request (``METHOD /path``) draws on: :data:`SEARCH` or :data:`BURST`."""
    return SEARCH if _SEARCH_PATH.search(what) else BURST


def budget_key(portal_url: str, token: str) -> str:
    """The budget's identity: the portal and the app, hashed so that no token is ever written.

    The burst limit is per app (token) and the state file is per budget, so two tokens into one
    portal keep two burst logs, as HubSpot does.
    """
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    return hashlib.sha256(f"{portal_url.rstrip('/')}\n{token_hash}".encode()).hexdigest()[:24]


def default_state_dir() -> Path:
    """Where budgets live: ``$ONRAMP_STATE_DIR/rate-budgets``, else a per-user temp folder."""
    base = os.environ.get(settings.STATE_DIR_ENV_VAR)
    if base:
        return Path(base) / "rate-budgets"
    return Path(tempfile.gettempdir()) / f"onramp-{os.getuid()}" / "rate-budgets"


def _state_file(state_dir: str | Path | None, name: str) -> Path:
    """The path of the state file ``name``, its folder made.

    Args:
        state_dir: The folder; :func:`default_state_dir` when None.
        name: The file's name.
    """
    directory = Path(state_dir) if state_dir is not None else default_state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return directory / name


def _read_state(path: Path) -> dict[str, Any]:
    """A state file's JSON object; empty when there is none yet or it cannot be read."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


@contextlib.contextmanager
def _locked_state(path: Path, read: Callable[[], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """A state file (``NAME.json``) read by ``read`` and written back when the block ends,
    locked with ``flock`` on ``NAME.lock`` against every other thread and process meanwhile."""
    with path.with_suffix(".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            state = read()
            yield state
            scratch = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
            scratch.write_text(json.dumps(state), encoding="utf-8")
            # Replaced whole, so a process killed mid-write never leaves half a file.
            os.replace(scratch, path)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def quota_reset(now: datetime, time_zone: str | None) -> tuple[datetime, bool]:
    """When a portal's daily quota resets: the next midnight in its time zone, in UTC.

    Args:
        now: The time now (aware).
        time_zone: The portal's IANA time zone (``US/Eastern``, from HubSpot's account-info
            API), or None when HubSpot did not say.

    Returns:
        ``(reset, exact)``: the next midnight there, exact; or, with no time zone or one this
        machine does not know, 24 hours from now, the latest it can be.
    """
    try:
        zone = ZoneInfo(time_zone) if time_zone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    if zone is None:
        return now + timedelta(days=1), False
    local = now.astimezone(zone)
    # Midnight is built from the date, not by adding 24 hours: a DST change makes a day 23 or 25.
    midnight = datetime.combine(local.date() + timedelta(days=1), dt_time(), tzinfo=zone)
    return midnight.astimezone(timezone.utc), True


class DailyQuotaSpent(LoadError):
    """The portal's daily API quota is spent: the load stops and says when to rerun.

    Args:
        what: The request that could not be sent, as ``METHOD /path`` (emails already masked).
        resume_by: When the quota resets (:func:`quota_reset`), as the budget recorded it when
            it first saw the quota spent, so that every stop until then names the same time.
        time_zone: The portal's time zone when ``resume_by`` is its midnight; ``None`` when it
            is only the latest the reset can be.

    Attributes:
        resume_by: When the quota resets (UTC): HubSpot resets it at midnight in the portal's
            time zone; without it, 24 hours after the quota was seen spent, the latest it can be.
    """

    def __init__(self, what: str, resume_by: datetime, time_zone: str | None = None) -> None:
        self.resume_by = resume_by
        when = (
            f"at midnight in the portal's time zone ({time_zone}): {resume_by:%Y-%m-%d %H:%M} UTC"
            if time_zone
            else f"at midnight in the portal's time zone (by {resume_by:%Y-%m-%d %H:%M} UTC at the latest)"
        )
        super().__init__(
            f"{what}: the portal's daily HubSpot API quota is spent. Rerun after it resets {when}; finished "
            "steps are not lost."
        )


@dataclass(frozen=True)
class Ticket:
    """A granted request, to hand back to :meth:`RateBudget.release` once it is answered."""

    id: str
    kind: str


# Per budget key, the day's quota observation (its ``since`` stamp) that this process has had an
# answer in. A process that has not may send one request to a spent quota, to see whether it is
# back; one that has is refused without asking (see :meth:`RateBudget.acquire`).
_HEARD_IN: dict[str, float] = {}


_turns: dict[tuple[Path, str], threading.Lock] = {}
_turns_guard = threading.Lock()


def _turn(path: Path, kind: str) -> threading.Lock:
    """The lock a process's threads take in turn to wait on one budget file for one kind of
    request. Grants come one at a time anyway, so one waiter per process loses nothing; forty
    threads each polling the locked file cost a core's worth of wake-ups for no request more."""
    with _turns_guard:
        return _turns.setdefault((path, kind), threading.Lock())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_slot(done: list[float], in_flight: int, limit: int, span: float, now: float) -> float | None:
    """Seconds until the rolling log has room for one more request.

    Returns:
        0 when there is room now; the seconds until enough answered requests leave the window;
        ``None`` when only requests still in flight hold the window (their end is unknown).
    """
    recent = sorted(stamp for stamp in done if stamp > now - span)
    excess = len(recent) + in_flight - limit + 1
    if excess <= 0:
        return 0.0
    if excess > len(recent):
        return None
    return recent[excess - 1] + span - now


_SEND, _PROBE, _WAIT, _REFUSE = "send", "probe", "wait", "refuse"


class RateBudget:
    """The request budget of one portal and app, shared through a state file.

    Use :meth:`for_portal`. Every request takes a :class:`Ticket` with :meth:`acquire` (which
    waits for room, or raises :class:`DailyQuotaSpent`) and hands it back with :meth:`release`
    and the response's headers, from which the budget learns the tier and the daily quota.

    Args:
        key: The budget's identity (:func:`budget_key`).
        state_dir: Where the state file lives; :func:`default_state_dir` by default.
        reserve: Requests of the 10-second window left unused, for the odd request HubSpot
            counts that this budget cannot see.
        clock: Monotonic clock shared by the processes of the machine (``time.monotonic`` is
            system-wide on Linux), seconds.
        sleep: Sleep function, seconds: by default one that ends at once, raising
            :class:`~tasks.stopping.Stopping`, when the command stops (it is also the backoff
            of ``tasks/load/retry.py``).
        wall_clock: Seconds since the epoch (``time.time``): when the daily quota resets is a
            time of day, which the monotonic clock cannot tell.
    """

    def __init__(
        self,
        key: str,
        state_dir: str | Path | None = None,
        *,
        reserve: int = settings.RATE_LIMIT_RESERVE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = stopping.wait,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.path = _state_file(state_dir, f"{key}.json")
        self.reserve = reserve
        self.clock = clock
        self.sleep = sleep
        self.wall_clock = wall_clock
        self._ids = itertools.count()
        self._pid = os.getpid()

    @classmethod
    def for_portal(cls, portal_url: str, token: str, state_dir: str | Path | None = None, **kwargs: Any) -> RateBudget:
        """The budget every client of this portal and token shares (see :class:`RateBudget`)."""
        return cls(budget_key(portal_url, token), state_dir, **kwargs)

    def __repr__(self) -> str:
        return f"RateBudget(key={self.key!r})"

    @property
    def time_zone(self) -> str | None:
        """The portal's time zone once HubSpot has said it (``HubSpotPortal.details``), kept with
        the budget so that a later run's stop names the exact reset before it has asked again."""
        return self._read()["time_zone"]

    @time_zone.setter
    def time_zone(self, zone: str | None) -> None:
        with self._state() as state:
            state["time_zone"] = zone
            daily = state["daily"]
            if daily and daily["time_zone"] is None:
                # The day's first answer (which portal is this?) came before its time zone did.
                self._set_reset(daily, zone)

    def _state(self) -> contextlib.AbstractContextManager[dict[str, Any]]:
        """The shared state, locked against every other thread and process while in use."""
        return _locked_state(self.path, self._read)

    def _read(self) -> dict[str, Any]:
        state = _read_state(self.path)
        state.setdefault("limit", None)
        state.setdefault("window", settings.DEFAULT_RATE_WINDOW_SECONDS)
        state.setdefault("paused_until", {BURST: 0.0, SEARCH: 0.0})
        state.setdefault("next", {BURST: 0.0, SEARCH: 0.0})
        state.setdefault("done", {BURST: [], SEARCH: []})
        state.setdefault("flight", {})
        state.setdefault("daily", None)
        if state["daily"] and "since" not in state["daily"]:
            # A count an earlier version wrote, without its reset time: the next answer says anew.
            state["daily"] = None
        state.setdefault("time_zone", None)
        self._tidy(state)
        return state

    def _tidy(self, state: dict[str, Any]) -> None:
        """Drop what no longer counts, and what a dead process or an earlier boot left."""
        now = self.clock()
        horizon = state["window"] + settings.REQUEST_TIMEOUT_SECONDS[0] + settings.REQUEST_TIMEOUT_SECONDS[1]
        for kind, stamps in state["done"].items():
            span = self._span(state, kind)
            # A stamp in the future comes from before a reboot (the monotonic clock restarted).
            state["done"][kind] = [stamp for stamp in stamps if now - span < stamp <= now + 1]
        for ticket_id, (kind, pid, started) in list(state["flight"].items()):
            if started > now + 1 or now - started > horizon:
                del state["flight"][ticket_id]
            elif pid != self._pid and not _pid_alive(pid):
                # Killed with a request out: HubSpot may have counted it, so it counts until
                # a window from now.
                del state["flight"][ticket_id]
                state["done"][kind].append(now)

    def _span(self, state: dict[str, Any], kind: str) -> float:
        return settings.SECONDLY_WINDOW_SECONDS if kind == SEARCH else state["window"]

    def _limit(self, state: dict[str, Any], kind: str) -> int:
        if kind == SEARCH:
            return settings.SEARCH_PER_SECOND
        limit = state["limit"] or settings.DEFAULT_BURST_LIMIT
        return max(1, limit - self.reserve)

    def _wait(self, state: dict[str, Any], kind: str, now: float) -> float | None:
        limit, span = self._limit(state, kind), self._span(state, kind)
        in_flight = sum(1 for entry in state["flight"].values() if entry[0] == kind)
        if kind == BURST and state["limit"] is None and in_flight:
            # Until an answer tells the tier and the day's quota, one request at a time: a
            # cold start must not send a volley into a quota it has not seen.
            return None
        slot = _wait_for_slot(state["done"][kind], in_flight, limit, span, now)
        others = max(state["paused_until"][kind], state["next"][kind]) - now
        return None if slot is None else max(slot, others, 0.0)

    def _set_reset(self, daily: dict[str, Any], zone: str | None) -> None:
        """Record in a day's observation when the quota resets, and whether that is exact."""
        reset, exact = quota_reset(datetime.fromtimestamp(self.wall_clock(), timezone.utc), zone)
        daily["resets_at"], daily["time_zone"] = reset.timestamp(), zone if exact else None

    def _today(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """The daily quota's observation, unless the quota has reset since it was made."""
        daily = state["daily"]
        return daily if daily and self.wall_clock() < daily["resets_at"] else None

    def _observe(self, state: dict[str, Any], remaining: int, now: float) -> dict[str, Any]:
        """Record what is left of the day's quota, as this process has just heard it."""
        today = self._today(state)
        if today is None:
            today = {"since": self.wall_clock(), "probe": None}
            self._set_reset(today, state["time_zone"])
        today.update(remaining=remaining, at=now)
        state["daily"] = today
        _HEARD_IN[self.key] = today["since"]
        return today

    def _spent_error(self, what: str, today: dict[str, Any]) -> DailyQuotaSpent:
        return DailyQuotaSpent(what, datetime.fromtimestamp(today["resets_at"], timezone.utc), today["time_zone"])

    def _daily_verdict(self, state: dict[str, Any]) -> str:
        """Whether a request may be sent as far as the daily quota goes: :data:`_SEND`,
        :data:`_PROBE` (the quota was seen spent, by another process: ask once whether it is
        back), :data:`_WAIT` (such a request is out) or :data:`_REFUSE`."""
        today = self._today(state)
        if today is None or today["remaining"] > settings.DAILY_RESERVE:
            return _SEND
        if today["probe"] in state["flight"]:
            return _WAIT
        return _REFUSE if _HEARD_IN.get(self.key) == today["since"] else _PROBE

    def quota_spent(self, what: str) -> DailyQuotaSpent:
        """Record that HubSpot answered 429 ``DAILY``, and the error to stop with.

        Args:
            what: The request HubSpot refused, as ``METHOD /path`` (emails already masked).

        Returns:
            The :class:`DailyQuotaSpent` naming the reset this budget recorded when it first
            saw the quota spent today, the same in every run until then.
        """
        with self._state() as state:
            return self._spent_error(what, self._observe(state, 0, self.clock()))

    def acquire(self, what: str = "request") -> Ticket:
        """Wait until the budget has room for one request, then count it as in flight.

        Args:
            what: The request as ``METHOD /path`` (its path decides search or not; emails in
                it must be masked already, it may end up in the error).

        Returns:
            The ticket to release once the request is answered.

        Raises:
            DailyQuotaSpent: Today's quota is used up, as an answer to this process said. A
                process that has had no answer since the quota was seen spent (a rerun) sends
                one request first, to see whether the quota is back (lifted, more bought, or
                reset); the other requests wait for its answer.
            Stopping: The command is stopping (``tasks/stopping.py``): no request starts.
        """
        kind = kind_of(what)
        with _turn(self.path, kind):
            return self._acquire_in_turn(what, kind)

    def _acquire_in_turn(self, what: str, kind: str) -> Ticket:
        logged = False
        while True:
            stopping.check_not_stopping()
            with self._state() as state:
                now = self.clock()
                verdict = self._daily_verdict(state)
                if verdict == _REFUSE:
                    raise self._spent_error(what, state["daily"])
                wait = None if verdict == _WAIT else self._wait(state, kind, now)
                if wait == 0.0:
                    ticket = Ticket(f"{self._pid}-{threading.get_ident()}-{next(self._ids)}", kind)
                    state["flight"][ticket.id] = [kind, self._pid, now]
                    if verdict == _PROBE:
                        state["daily"]["probe"] = ticket.id
                    # A grant that comes late (a sleep overshot, a slow answer freed the
                    # slot) is caught up on rather than lost; the log still bounds the window.
                    paced_from = max(state["next"][kind], now - settings.RATE_PACE_SLACK_SECONDS)
                    state["next"][kind] = paced_from + self._span(state, kind) / self._limit(state, kind)
                    if state["daily"]:
                        state["daily"]["remaining"] -= 1
                    return ticket
                paused = state["paused_until"][kind] - now
            if paused > 1 and not logged:
                get_logger().info("HubSpot rate budget spent: pausing %.1f s", paused)
                logged = True
            self.sleep(settings.RATE_POLL_SECONDS if wait is None else wait)

    def release(self, ticket: Ticket, headers: Mapping[str, str] | None) -> None:
        """Mark a request answered (or failed) and learn from its rate-limit headers.

        Args:
            ticket: What :meth:`acquire` returned.
            headers: The response's headers, ``None`` when there was no response.
        """
        with self._state() as state:
            now = self.clock()
            state["flight"].pop(ticket.id, None)
            state["done"][ticket.kind].append(now)
            limit = int_header(headers, "X-HubSpot-RateLimit-Max")
            if limit:
                state["limit"] = limit
                state["window"] = window_seconds(headers)
            daily = int_header(headers, "X-HubSpot-RateLimit-Daily-Remaining")
            if daily is not None:
                # Requests still in flight may not be in HubSpot's count yet: count them spent.
                remaining = daily - len(state["flight"])
                known = self._today(state)
                probed = known is not None and known["probe"] == ticket.id
                if known and not probed and now - known["at"] < settings.DAILY_OBSERVATION_TTL_SECONDS:
                    # Answers arrive out of order: one counted before a later request may be
                    # released after that request's, and must not hand back what it spent.
                    # The answer to a probe is the one that may: the quota may be back.
                    remaining = min(remaining, known["remaining"])
                self._observe(state, remaining, now)

    def pause(self, seconds: float, kind: str = BURST) -> None:
        """Hold every request of ``kind``, in every process, back for ``seconds`` (after a 429)."""
        with self._state() as state:
            state["paused_until"][kind] = max(state["paused_until"][kind], self.clock() + seconds)

    def snapshot(self) -> dict[str, Any]:
        """What the budget knows now: ``limit`` (``None`` until a response said), ``window``,
        ``daily_remaining`` and ``in_flight``."""
        state = self._read()
        return {
            "limit": state["limit"],
            "window": state["window"],
            "daily_remaining": state["daily"]["remaining"] if state["daily"] else None,
            "in_flight": len(state["flight"]),
        }


def portal_key(portal_url: str, portal_id: int) -> str:
    """A portal's identity whichever token talks to it: its URL and its id (HubSpot's "Hub ID"),
    hashed as :func:`budget_key` is. HubSpot counts imports per portal, not per app."""
    return hashlib.sha256(f"{portal_url.rstrip('/')}\nportal {portal_id}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ImportCount:
    """The imports Onramp created in one portal over the last 24 hours.

    Attributes:
        imports: How many.
        rows: Their data rows, as planned.
        oldest: When the oldest of them was created (UTC); ``None`` when there are none.
    """

    imports: int
    rows: int
    oldest: datetime | None

    @property
    def oldest_ages_out(self) -> datetime | None:
        """When the oldest is 24 hours old and leaves HubSpot's rolling count; ``None`` when
        there are none."""
        return None if self.oldest is None else self.oldest + timedelta(seconds=settings.IMPORTS_WINDOW_SECONDS)


def _created_entry(entry: Any) -> bool:
    """Whether an entry of an imports log is ``[seconds since the epoch, rows]``."""
    return (
        isinstance(entry, list)
        and len(entry) == 2
        and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in entry)
    )


class ImportLog:
    """The imports Onramp created in one portal over a rolling 24 hours, shared through a file.

    HubSpot lets a portal create 500 imports a day (50 on free portals), counted over a rolling 24
    hours across every app and user of the portal, and does not document its answer once the
    limit is reached. Onramp sees only its own imports: this log counts them, so that the load
    can warn before the limit and, when HubSpot refuses an import, say how many Onramp made and
    when the oldest leaves the count. It is kept with the rate budgets (:func:`default_state_dir`),
    one small file per portal, locked as theirs are, so every process of the machine (an hourly
    sync, accounts migrated side by side) adds to one count. A count, not a scheduler: nothing
    waits on it.

    Args:
        key: The portal's identity: :func:`portal_key`, or the budget's key when HubSpot will
            not say which portal a token is for.
        state_dir: Where the log lives; :func:`default_state_dir` by default.
        wall_clock: Seconds since the epoch (``time.time``): the window is 24 hours of real
            time, across restarts and reboots, which the monotonic clock cannot measure.

    Attributes:
        path: The log's file.
        warned: Whether the load has said, this run, that the count is near HubSpot's limit
            (it says so once).
    """

    def __init__(self, key: str, state_dir: str | Path | None = None, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.path = _state_file(state_dir, f"imports-{key}.json")
        self.wall_clock = wall_clock
        self.warned = False

    def __repr__(self) -> str:
        return f"ImportLog(path={str(self.path)!r})"

    def _read(self) -> dict[str, Any]:
        state = _read_state(self.path)
        created = state.get("created")
        horizon = self.wall_clock() - settings.IMPORTS_WINDOW_SECONDS
        # An entry past the window no longer counts; one that is not [time, rows] never did.
        state["created"] = [
            entry for entry in (created if isinstance(created, list) else []) if _created_entry(entry) and entry[0] > horizon
        ]
        return state

    def _count(self, created: list[list[float]]) -> ImportCount:
        oldest = min((entry[0] for entry in created), default=None)
        return ImportCount(
            imports=len(created),
            rows=int(sum(entry[1] for entry in created)),
            oldest=None if oldest is None else datetime.fromtimestamp(oldest, timezone.utc),
        )

    def record(self, rows: int) -> ImportCount:
        """Count one import HubSpot has just created.

        Args:
            rows: Its data rows.

        Returns:
            The count over the last 24 hours, this import included.
        """
        with _locked_state(self.path, self._read) as state:
            state["created"].append([self.wall_clock(), rows])
            return self._count(state["created"])

    def count(self) -> ImportCount:
        """The imports Onramp created in the portal over the last 24 hours."""
        return self._count(self._read()["created"])
