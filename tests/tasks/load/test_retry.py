"""Retries by cause and the rate budget, without a network: failures are plain objects shaped like
the SDK's ApiException (``status``, ``body``, ``headers``) or the SDK's own, built from a canned
answer; waits go to a recording sleep."""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timezone

import pytest
import requests
import urllib3
from hubspot.crm.lists import ApiException
from hubspot.crm.lists.rest import RESTResponse

from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.ratelimit import DailyQuotaSpent
from tasks.load.client import HubSpotPortal
from tasks.load.retry import (
    Cause,
    HttpError,
    Unreachable,
    backoff_seconds,
    call_with_retries,
    classify,
    connection_failure,
    describe,
    rate_limit_waited,
    rate_policy,
    window_seconds,
)


class FakeApiError(Exception):
    """What hubspot-api-client raises: its own class per package, always these attributes."""

    def __init__(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        super().__init__(f"({status})")
        self.status = status
        self.body = json.dumps(body).encode() if body is not None else None
        self.headers = headers or {}


def rate_limited(policy: str, interval_ms: int = 10000) -> FakeApiError:
    return FakeApiError(
        429,
        {"status": "error", "errorType": "RATE_LIMIT", "policyName": policy, "message": "You have reached your limit."},
        {"X-HubSpot-RateLimit-Interval-Milliseconds": str(interval_ms), "X-HubSpot-RateLimit-Remaining": "0"},
    )


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def scripted(*outcomes):
    """A ``send`` that raises or returns the outcomes in order, counting its calls."""
    calls = []

    def send():
        outcome = outcomes[len(calls)]
        calls.append(outcome)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome, {}

    send.calls = calls
    return send


class FakeBudget:
    """What call_with_retries needs of a RateBudget; pauses and backoffs land in ``sleeps``."""

    def __init__(self, sleeps: Sleeps) -> None:
        self.sleep = sleeps
        self.released = 0

    def acquire(self, what: str) -> str:
        return what

    def release(self, ticket: str, headers) -> None:
        self.released += 1

    def pause(self, seconds: float, kind: str) -> None:
        self.sleep(seconds)

    def quota_spent(self, what: str) -> DailyQuotaSpent:
        return DailyQuotaSpent(what, datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc))


def budget() -> tuple[FakeBudget, Sleeps]:
    sleeps = Sleeps()
    return FakeBudget(sleeps), sleeps


@pytest.mark.parametrize(
    ("error", "cause"),
    [
        (rate_limited("TEN_SECONDLY_ROLLING"), Cause.RATE_WINDOW),
        (rate_limited("DAILY"), Cause.DAILY),
        (rate_limited("SECONDLY"), Cause.RATE_SECOND),
        (FakeApiError(429, {"message": "You have reached your secondly limit."}), Cause.RATE_SECOND),
        (FakeApiError(429), Cause.RATE_WINDOW),
        (FakeApiError(429, {"category": "RATE_LIMITS", "subCategory": "IMPORT_ROW_LIMIT_EXCEEDED"}), Cause.FATAL),
        (FakeApiError(423), Cause.LOCKED),
        (FakeApiError(500), Cause.TRANSIENT),
        (FakeApiError(502), Cause.TRANSIENT),
        (FakeApiError(504), Cause.TRANSIENT),
        (FakeApiError(401), Cause.AUTH),
        (FakeApiError(477), Cause.MIGRATING),
        (FakeApiError(400), Cause.FATAL),
        (FakeApiError(403), Cause.FATAL),
        (FakeApiError(404), Cause.FATAL),
        (FakeApiError(409), Cause.FATAL),
        (FakeApiError(0), Cause.FATAL),
        (requests.exceptions.ConnectionError("reset"), Cause.TRANSIENT),
        (requests.exceptions.ReadTimeout("slow"), Cause.TRANSIENT),
        (TimeoutError("slow"), Cause.TRANSIENT),
        (ValueError("a bug"), Cause.FATAL),
    ],
)
def test_classify_by_cause(error, cause):
    assert classify(error) is cause


def test_classify_reads_http_error_like_sdk_errors():
    error = HttpError(429, json.dumps({"policyName": "DAILY"}).encode(), {}, "POST /x")
    assert classify(error) is Cause.DAILY


def test_window_comes_from_the_interval_header_case_insensitively():
    assert window_seconds({"x-hubspot-ratelimit-interval-milliseconds": "1500"}) == 1.5
    assert window_seconds({}) == settings.DEFAULT_RATE_WINDOW_SECONDS
    assert window_seconds({"X-HubSpot-RateLimit-Interval-Milliseconds": "junk"}) == settings.DEFAULT_RATE_WINDOW_SECONDS


def test_backoff_grows_is_jittered_and_capped():
    rng = random.Random(7)
    delays = [backoff_seconds(attempt, Cause.TRANSIENT, rng) for attempt in range(1, 12)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(settings.BACKOFF_MAX_SECONDS, settings.BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert len({round(delay, 6) for delay in delays[:4]}) == 4


def test_locked_waits_at_least_the_lock_time():
    assert backoff_seconds(1, Cause.LOCKED, random.Random(1)) >= settings.LOCKED_MIN_WAIT_SECONDS


def test_ten_secondly_429_waits_the_window_then_succeeds():
    rate_budget, sleeps = budget()
    send = scripted(rate_limited("TEN_SECONDLY_ROLLING", 2500), "ok")
    assert call_with_retries(send, budget=rate_budget, what="GET /x") == "ok"
    assert len(send.calls) == 2
    assert sleeps.waits == [2.5]


def test_daily_429_stops_with_a_load_error_and_no_retry():
    rate_budget, sleeps = budget()
    send = scripted(rate_limited("DAILY"), "never")
    with pytest.raises(DailyQuotaSpent, match="daily HubSpot API quota is spent.*UTC at the latest"):
        call_with_retries(send, budget=rate_budget, what="POST /crm/v3/imports")
    assert len(send.calls) == 1
    assert sleeps.waits == []


def test_transient_failures_back_off_then_succeed():
    rate_budget, sleeps = budget()
    send = scripted(FakeApiError(502), requests.exceptions.ConnectionError("reset"), FakeApiError(423), "ok")
    assert call_with_retries(send, budget=rate_budget, what="GET /x", rng=random.Random(0)) == "ok"
    assert len(sleeps.waits) == 3
    assert rate_budget.released == 4  # every attempt hands its ticket back, failed or not
    assert sleeps.waits[2] >= settings.LOCKED_MIN_WAIT_SECONDS


def test_a_write_not_safe_to_repeat_is_looked_for_before_a_retry_of_an_ambiguous_failure():
    rate_budget, _ = budget()
    # A lock refused the write (not applied: no look); a 504 may have applied it; it had.
    send = scripted(FakeApiError(423), FakeApiError(504), "sent twice")
    looks = []

    def landed():
        looks.append(len(send.calls))
        return "found" if len(looks) == 1 else None

    assert call_with_retries(send, budget=rate_budget, what="POST /x", rng=random.Random(0), landed=landed) == "found"
    assert looks == [2] and len(send.calls) == 2


def test_transient_failures_are_bounded():
    rate_budget, _ = budget()
    send = scripted(*[FakeApiError(503)] * settings.MAX_ATTEMPTS)
    with pytest.raises(LoadError, match=f"after {settings.MAX_ATTEMPTS} attempts"):
        call_with_retries(send, budget=rate_budget, what="GET /x", rng=random.Random(0))
    assert len(send.calls) == settings.MAX_ATTEMPTS


def test_rate_limit_waits_are_bounded():
    rate_budget, _ = budget()
    send = scripted(*[rate_limited("TEN_SECONDLY_ROLLING", 10)] * (settings.MAX_RATE_LIMIT_WAITS + 1))
    with pytest.raises(LoadError, match="kept answering 429"):
        call_with_retries(send, budget=rate_budget, what="GET /x")


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (rate_limited("TEN_SECONDLY_ROLLING"), "rate limit: 10-second window"),
        (rate_limited("SECONDLY"), "rate limit: per-second search window"),
        (FakeApiError(429, {"message": "You have reached your secondly limit."}), "rate limit: per-second search window"),
        # Waited out as the ten-second window, but not said to be it.
        (FakeApiError(429), "naming no limit"),
        (FakeApiError(429, {"policyName": None, "message": "Too many requests"}), "naming no limit"),
        (rate_limited("SOME_NEW_POLICY"), "rate limit: policy SOME_NEW_POLICY"),
    ],
)
def test_a_429_waited_out_is_said_to_be_the_limit_it_names(error, said):
    assert rate_limit_waited(error, classify(error)) == said


def test_429s_naming_no_limit_are_logged_and_stopped_on_as_such(caplog):
    caplog.set_level(logging.WARNING)
    rate_budget, sleeps = budget()
    send = scripted(*[FakeApiError(429)] * (settings.MAX_RATE_LIMIT_WAITS + 1))
    with pytest.raises(LoadError, match=rf"^GET /x: HubSpot kept answering 429 \(naming no limit\) after {settings.MAX_RATE_LIMIT_WAITS} waits"):
        call_with_retries(send, budget=rate_budget, what="GET /x")
    waits = [record.getMessage() for record in caplog.records if "429" in record.getMessage()]
    wait = f"GET /x: 429 (naming no limit), waiting {settings.DEFAULT_RATE_WINDOW_SECONDS:.1f} s"
    assert waits == [wait] * settings.MAX_RATE_LIMIT_WAITS
    assert sleeps.waits == [settings.DEFAULT_RATE_WINDOW_SECONDS] * settings.MAX_RATE_LIMIT_WAITS


@pytest.mark.parametrize("status", [400, 403, 404, 409])
def test_other_client_errors_are_raised_as_http_errors_without_retry(status):
    rate_budget, sleeps = budget()
    error = FakeApiError(status, {"message": "bad"}, {"X-Request-Id": "1"})
    send = scripted(error, "never")
    with pytest.raises(HttpError) as raised:
        call_with_retries(send, budget=rate_budget, what="POST /x")
    assert (raised.value.status, raised.value.body, raised.value.headers) == (status, error.body, error.headers)
    assert raised.value.__cause__ is error
    assert len(send.calls) == 1 and sleeps.waits == []


def sdk_error(status: int, body: bytes, reason: str = "Not Found") -> ApiException:
    """A hubspot-api-client ApiException built the way the SDK builds it from an answer."""
    answer = urllib3.HTTPResponse(body=body, status=status, reason=reason, headers={"X-Request-Id": "7"}, preload_content=True)
    return ApiException(http_resp=RESTResponse(answer))


@pytest.mark.parametrize("body", [json.dumps({"message": "No list for jane@example.com"}).encode(), b""])
def test_an_sdk_error_answer_arrives_as_an_http_error_describing_it_the_same(body):
    error = sdk_error(404, body)
    with pytest.raises(HttpError) as raised:
        call_with_retries(scripted(error), budget=budget()[0], what="GET /lists/jane@example.com")
    converted = raised.value
    assert (converted.status, converted.body, converted.headers) == (404, error.body, error.headers)
    assert converted.headers["X-Request-Id"] == "7"
    assert converted.__cause__ is error
    assert describe(converted) == describe(error)
    assert "jane" not in str(converted)


def test_an_http_error_passes_through_as_it_is():
    error = HttpError(409, b'{"message": "exists"}', {}, "POST /x")
    with pytest.raises(HttpError) as raised:
        call_with_retries(scripted(error), budget=budget()[0], what="POST /x")
    assert raised.value is error


@pytest.mark.parametrize(
    "error", [ValueError("a bug"), ApiException(status=0, reason="SSL: certificate verify failed")]
)
def test_failures_without_an_http_answer_are_not_converted(error):
    with pytest.raises(type(error)) as raised:
        call_with_retries(scripted(error), budget=budget()[0], what="GET /x")
    assert raised.value is error


def test_connection_errors_are_retried_not_converted():
    send = scripted(*[requests.exceptions.ConnectionError("reset")] * settings.MAX_ATTEMPTS)
    with pytest.raises(LoadError) as raised:
        call_with_retries(send, budget=budget()[0], what="GET /x", rng=random.Random(0))
    assert not isinstance(raised.value, HttpError)
    assert isinstance(raised.value.__cause__, requests.exceptions.ConnectionError)


def test_unauthorized_is_a_load_error_without_the_token():
    rate_budget, _ = budget()
    send = scripted(FakeApiError(401, {"message": "Authentication credentials not found."}))
    with pytest.raises(LoadError, match="refused the access token") as raised:
        call_with_retries(send, budget=rate_budget, what="GET /x")
    assert "Bearer" not in str(raised.value)


def test_messages_mask_emails_in_the_request_path():
    rate_budget, _ = budget()
    send = scripted(rate_limited("DAILY"))
    with pytest.raises(LoadError) as raised:
        call_with_retries(send, budget=rate_budget, what="POST /statuses/jane.doe@example.com/unsubscribe-all")
    assert "jane.doe" not in str(raised.value)
    assert "j***@example.com" in str(raised.value)


def refused_connection() -> requests.exceptions.ConnectionError:
    """A refused connection as requests raises it: the socket's error under urllib3's two."""
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as socket_error:
            raise urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection") from socket_error
    except urllib3.exceptions.NewConnectionError as new_connection:
        return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/x", reason=new_connection))


def test_a_request_no_attempt_got_an_answer_for_says_why_from_the_socket():
    send = scripted(*[refused_connection()] * settings.MAX_ATTEMPTS)
    with pytest.raises(Unreachable) as raised:
        call_with_retries(send, budget=budget()[0], what="GET /x", rng=random.Random(0))
    assert (raised.value.what, raised.value.attempts, raised.value.reason) == ("GET /x", settings.MAX_ATTEMPTS, "Connection refused")
    assert connection_failure(requests.exceptions.ReadTimeout("slow")) == "ReadTimeout"


def test_a_5xx_to_the_end_is_no_unreachable_portal():
    send = scripted(*[FakeApiError(503)] * settings.MAX_ATTEMPTS)
    with pytest.raises(LoadError) as raised:
        call_with_retries(send, budget=budget()[0], what="GET /x", rng=random.Random(0))
    assert not isinstance(raised.value, Unreachable)


def test_a_portal_nothing_answers_at_is_named_by_its_url(monkeypatch):
    monkeypatch.setattr(settings, "MAX_ATTEMPTS", 2)
    monkeypatch.setattr(settings, "BACKOFF_BASE_SECONDS", 0.0)
    token = "pat-na1-11111111-2222-3333-4444-555555555555"
    portal = HubSpotPortal("http://127.0.0.1:1", token, budget=budget()[0])
    with pytest.raises(LoadError) as raised:
        portal.request("GET", "/account-info/v3/details")
    message = str(raised.value)
    assert message.startswith("cannot reach http://127.0.0.1:1: Connection refused (GET /account-info/v3/details, 2 attempts)")
    assert token not in message


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        # An explicit null reads as no policy: a limit of the request itself, not a window.
        ({"policyName": None, "category": "RATE_LIMITS", "subCategory": "IMPORT_FILE_TOO_LARGE"}, Cause.FATAL),
        ({"policyName": None, "message": "Too many requests"}, Cause.RATE_WINDOW),
        ({"policyName": None, "message": "You have reached your secondly limit."}, Cause.RATE_SECOND),
    ],
)
def test_a_null_policy_name_reads_as_none(body, cause):
    error = FakeApiError(429, body)
    assert rate_policy(error) == ""
    assert classify(error) is cause


def test_the_policy_is_read_upper_cased_and_empty_without_a_body():
    assert rate_policy(rate_limited("ten_secondly_rolling")) == "TEN_SECONDLY_ROLLING"
    assert rate_policy(FakeApiError(429)) == ""


def test_a_caller_may_allow_fewer_attempts():
    rate_budget, sleeps = budget()
    send = scripted(FakeApiError(503), FakeApiError(503), "never")
    with pytest.raises(LoadError, match=r"^GET /x: still failing after 2 attempts \(HTTP 503"):
        call_with_retries(send, budget=rate_budget, what="GET /x", rng=random.Random(0), max_attempts=2)
    assert len(send.calls) == 2 and len(sleeps.waits) == 1


def test_fewer_attempts_without_an_answer_is_an_unreachable_portal():
    send = scripted(refused_connection(), refused_connection(), "never")
    with pytest.raises(Unreachable) as raised:
        call_with_retries(send, budget=budget()[0], what="GET /x", rng=random.Random(0), max_attempts=2)
    assert (raised.value.attempts, raised.value.reason) == (2, "Connection refused")


def test_fewer_attempts_also_bound_the_429_waits():
    rate_budget, sleeps = budget()
    window = rate_limited("TEN_SECONDLY_ROLLING", 100)
    send = scripted(window, window, "never")
    with pytest.raises(LoadError, match="kept answering 429 .* after 1 waits"):
        call_with_retries(send, budget=rate_budget, what="GET /account-info/v3/details", max_attempts=2)
    assert len(send.calls) == 2 and sleeps.waits == [0.1]


def test_an_answer_the_caller_picks_as_final_is_raised_at_once_as_an_http_error():
    rate_budget, sleeps = budget()
    refusal = FakeApiError(429, {"category": "RATE_LIMITS", "message": "no more today"}, {"X-Request-Id": "9"})
    asked = []

    def final(error):
        asked.append(error)
        return error is refusal

    send = scripted(refusal, "never")
    with pytest.raises(HttpError) as raised:
        call_with_retries(send, budget=rate_budget, what="POST /crm/v3/imports", final=final)
    assert (raised.value.status, raised.value.body, raised.value.headers) == (429, refusal.body, refusal.headers)
    assert raised.value.__cause__ is refusal
    assert asked == [refusal]
    assert len(send.calls) == 1 and sleeps.waits == [] and rate_budget.released == 1


def test_an_answer_the_caller_does_not_pick_is_retried_by_its_cause():
    rate_budget, sleeps = budget()
    send = scripted(rate_limited("TEN_SECONDLY_ROLLING", 500), "ok")
    assert call_with_retries(send, budget=rate_budget, what="GET /x", final=lambda error: False) == "ok"
    assert sleeps.waits == [0.5]
