"""The shared rate budget: its rules on a fake clock, then threads and processes against the
emulator, judged by the emulator's 429 count rather than by time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tasks.load import ratelimit, settings
from tasks.load.client import HubSpotPortal
from tasks.load.ratelimit import DailyQuotaSpent, RateBudget, budget_key, quota_reset
from tests.tasks.load.conftest import TOKEN, count_requests

GROUPS = "/crm/v3/properties/contacts/groups"
REPO = Path(__file__).resolve().parents[3]


class Clock:
    """A monotonic clock that only moves when slept on."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def rate_headers(limit: int, interval_ms: int, daily_remaining: int | None = None) -> dict[str, str]:
    headers = {
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms),
        "X-HubSpot-RateLimit-Remaining": "0",
    }
    if daily_remaining is not None:
        headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(daily_remaining)
    return headers


@pytest.fixture
def clock():
    return Clock()


class WallClock:
    """Seconds since the epoch, moved by hand: 2026-11-29 12:35 UTC to begin with."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 29, 12, 35, tzinfo=timezone.utc).timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def wall():
    return WallClock()


@pytest.fixture
def another_process(monkeypatch):
    """Makes what follows run as a process that has not yet heard from the portal (a rerun)."""
    monkeypatch.setattr(ratelimit, "_HEARD_IN", {})
    return lambda: ratelimit._HEARD_IN.clear()


@pytest.fixture
def budget(tmp_path, clock, wall):
    return RateBudget("test", tmp_path, reserve=1, clock=clock, sleep=clock.sleep, wall_clock=wall)


def most_in_any_window(stamps: list[float], span: float) -> int:
    return max(sum(1 for other in stamps if stamp <= other < stamp + span) for stamp in stamps)


def test_the_tier_is_learnt_from_the_headers(budget):
    assert budget.snapshot()["limit"] is None  # until an answer says, the smallest tier is assumed
    budget.release(budget.acquire("GET /x"), rate_headers(190, 10000))
    assert (budget.snapshot()["limit"], budget.snapshot()["window"]) == (190, 10.0)


def test_no_window_ever_holds_more_than_the_limit_less_the_reserve(budget, clock):
    granted = []
    for _ in range(60):
        ticket = budget.acquire("GET /x")
        granted.append(clock.now)
        clock.now += 0.01  # the answer takes 10 ms
        budget.release(ticket, rate_headers(10, 1000))
    # The first grant came before the tier was known; the rest ran at the learnt 10 per second.
    assert most_in_any_window(granted[1:], 1.0) == 9


def test_a_request_in_flight_holds_its_slot_until_a_window_after_its_answer(budget, clock):
    budget.release(budget.acquire("GET /x"), rate_headers(3, 1000))
    first, second = budget.acquire("GET /x"), budget.acquire("GET /x")  # 3 - reserve 1 = 2 slots
    waits = []
    budget.sleep = lambda seconds: (waits.append(seconds), clock.sleep(seconds), budget.release(first, None))
    budget.acquire("GET /x")
    assert clock.now - waits[0] >= 1000.0  # the third waited for the first's answer, then a window


def test_search_keeps_to_five_a_second_apart_from_the_burst(budget, clock):
    granted = []
    for _ in range(20):
        budget.release(budget.acquire("POST /crm/v3/objects/contacts/search"), None)
        granted.append(clock.now)
    assert most_in_any_window(granted, 1.0) == settings.SEARCH_PER_SECOND


def test_a_spent_daily_quota_stops_before_a_429_until_it_resets(budget, clock, wall):
    budget.release(budget.acquire("GET /x"), rate_headers(190, 10000, daily_remaining=1))
    budget.release(budget.acquire("GET /x"), None)
    with pytest.raises(DailyQuotaSpent, match="Rerun after it resets at midnight .* UTC at the latest"):
        budget.acquire("POST /crm/v3/objects/contacts/batch/upsert")
    clock.now += 2 * settings.DAILY_OBSERVATION_TTL_SECONDS
    with pytest.raises(DailyQuotaSpent):
        budget.acquire("GET /x")  # an old count of a spent quota still holds: it has not reset
    wall.now = datetime(2026, 11, 30, 12, 35, tzinfo=timezone.utc).timestamp()  # no time zone: 24 hours on
    budget.acquire("GET /x")


def test_every_stop_until_the_reset_names_the_reset_the_first_one_named(tmp_path, clock, wall, another_process):
    first = RateBudget("test", tmp_path, clock=clock, sleep=clock.sleep, wall_clock=wall)
    first.time_zone = "US/Eastern"
    first.release(first.acquire("GET /x"), rate_headers(190, 10000, daily_remaining=0))
    stopped = first.quota_spent("GET /x")  # what HubSpot's 429 DAILY stops the load with
    wall.now += 3600
    another_process()
    # A rerun, its budget not yet told the time zone: it asks the portal once, the quota is
    # still spent, and its stop names the same reset; a second request is refused unasked.
    rerun = RateBudget("test", tmp_path, clock=clock, sleep=clock.sleep, wall_clock=wall)
    rerun.release(rerun.acquire("GET /account-info/v3/details"), rate_headers(190, 10000, daily_remaining=0))
    with pytest.raises(DailyQuotaSpent) as again:
        rerun.acquire("GET /x")
    assert str(stopped).endswith(
        "Rerun after it resets at midnight in the portal's time zone (US/Eastern): 2026-11-30 05:00 UTC; finished steps are not lost."
    )
    assert str(again.value) == str(stopped) and again.value.resume_by == stopped.resume_by


def test_a_rerun_asks_once_and_goes_on_when_the_quota_is_back(budget, clock, another_process):
    budget.release(budget.acquire("GET /x"), rate_headers(190, 10000, daily_remaining=0))
    with pytest.raises(DailyQuotaSpent):
        budget.acquire("GET /x")
    another_process()
    # The user lifted the quota or bought more: the rerun's first answer says so.
    probe = budget.acquire("GET /x")
    # Until it is answered, the run's other requests wait for it rather than refuse.
    budget.sleep = lambda seconds: budget.release(probe, rate_headers(190, 10000, daily_remaining=500))
    budget.acquire("GET /y")
    assert budget.snapshot()["daily_remaining"] == 499


def test_a_rerun_whose_one_request_finds_the_quota_still_spent_sends_no_more(budget, clock, another_process):
    budget.release(budget.acquire("GET /x"), rate_headers(190, 10000, daily_remaining=0))
    another_process()
    probe = budget.acquire("GET /x")
    budget.sleep = lambda seconds: budget.release(probe, rate_headers(190, 10000, daily_remaining=0))
    with pytest.raises(DailyQuotaSpent):
        budget.acquire("GET /y")  # waited for the one request's answer, then refused unasked
    assert budget.snapshot()["in_flight"] == 0


def test_an_answer_released_late_does_not_give_back_daily_quota_a_later_answer_spent(budget, clock):
    budget.release(budget.acquire("GET /x"), rate_headers(190, 10000, daily_remaining=2))
    earlier, later = budget.acquire("GET /x"), budget.acquire("GET /x")
    # HubSpot counted both before answering the later one; the earlier answer comes back last.
    budget.release(later, rate_headers(190, 10000, daily_remaining=0))
    budget.release(earlier, rate_headers(190, 10000, daily_remaining=1))
    with pytest.raises(DailyQuotaSpent):
        budget.acquire("POST /crm/v3/objects/contacts/batch/upsert")


def test_the_budget_is_named_without_the_token(tmp_path):
    key = budget_key("https://api.hubapi.com/", "pat-na1-secret")
    assert key == budget_key("https://api.hubapi.com", "pat-na1-secret") != budget_key("https://api.hubapi.com", "other")
    RateBudget(key, tmp_path).release(RateBudget(key, tmp_path).acquire("GET /x"), None)
    assert all("secret" not in path.name and "secret" not in path.read_text() for path in tmp_path.iterdir())


def test_threads_and_clients_of_one_portal_share_one_budget(hub, emulator, short_window):
    emulator.configure(tier="starter")  # 100 requests a (shortened) window

    def hammer(_: int) -> None:
        portal = HubSpotPortal(hub.url, TOKEN)  # a client of its own, the budget shared
        for _ in range(40):
            portal.request("GET", GROUPS)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(hammer, range(8)))

    assert count_requests(emulator, "GET", "/groups", 200) == 320  # over three windows' worth
    assert count_requests(emulator, "GET", "/groups", 429) == 0


def test_as_many_threads_as_the_load_runs_meet_no_429_when_answers_are_slow(hub, emulator, short_window):
    # Answers a fifth of the window late: the budget must hold each request until a window
    # after its answer, however many threads are waiting to send.
    emulator.configure(tier="starter", latency=0.2)

    def send(_: int) -> None:
        HubSpotPortal(hub.url, TOKEN).request("GET", GROUPS)

    with ThreadPoolExecutor(max_workers=settings.UPSERT_THREADS) as pool:
        list(pool.map(send, range(300)))  # three windows' worth

    assert count_requests(emulator, "GET", "/groups", 200) == 300
    assert count_requests(emulator, "GET", "/groups", 429) == 0


CHILD = textwrap.dedent(
    """
    import sys, time
    from tasks.load.client import HubSpotPortal
    portal = HubSpotPortal(sys.argv[1], sys.argv[2])
    portal.request("GET", "/crm/v3/properties/contacts/groups")  # warm up: imports, the tier
    first = time.monotonic()
    for _ in range(int(sys.argv[3])):
        portal.request("GET", "/crm/v3/properties/contacts/groups")
    print(first, time.monotonic())
    """
)


def test_two_processes_share_one_budget(hub, emulator, short_window, state_dir):
    emulator.configure(tier="starter")
    each = 150  # together three windows' worth: either alone would get only half of each

    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, hub.url, TOKEN, str(each)],
            cwd=REPO, stdout=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    spans = [tuple(map(float, child.communicate(timeout=120)[0].split())) for child in children]

    assert all(child.returncode == 0 for child in children)
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # they ran side by side
    assert count_requests(emulator, "GET", "/groups", 200) == 2 * (each + 1)
    assert count_requests(emulator, "GET", "/groups", 429) == 0


@pytest.mark.parametrize(
    ("now", "time_zone", "reset", "exact"),
    [
        # 05:00 in New York: its next midnight is 19 hours away, 05:00 UTC in winter (EST)...
        (datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc), "US/Eastern", datetime(2026, 11, 30, 5, 0, tzinfo=timezone.utc), True),
        # ...and 04:00 UTC after the spring change, though that day has only 23 hours.
        (datetime(2026, 3, 8, 6, 0, tzinfo=timezone.utc), "America/New_York", datetime(2026, 3, 9, 4, 0, tzinfo=timezone.utc), True),
        (datetime(2026, 11, 29, 23, 30, tzinfo=timezone.utc), "Asia/Tokyo", datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc), True),
        # Without a zone, or with one this machine does not know: 24 hours, the latest it can be.
        (datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc), None, datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc), False),
        (datetime(2026, 11, 29, 10, 0, tzinfo=timezone.utc), "Mars/Olympus_Mons", datetime(2026, 11, 30, 10, 0, tzinfo=timezone.utc), False),
    ],
)
def test_the_daily_quota_resets_at_the_next_midnight_in_the_portals_time_zone(now, time_zone, reset, exact):
    assert quota_reset(now, time_zone) == (reset, exact)
