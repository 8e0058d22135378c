"""Calling HubSpot: retries by cause and throttling before a 429, in one place.

Every request the load sends, through hubspot-api-client or through ``requests``, goes through
:func:`call_with_retries`. What happens on a failure depends on its cause (HubSpot's
error-handling and usage-guidelines docs, ``reference/hubspot-api.md`` §2-3):

========================================  =====================================================
cause                                     what the load does
========================================  =====================================================
429, policy ``TEN_SECONDLY_ROLLING``      wait for the window (its length from the
                                          ``X-HubSpot-RateLimit-Interval-Milliseconds`` header),
                                          then retry
429, policy ``SECONDLY`` (search)         wait a second, then retry
429, policy ``DAILY``                     stop: :class:`~tasks.load.ratelimit.DailyQuotaSpent`
                                          saying when to rerun
429 with no policy but a ``subCategory``  no retry: a per-request limit (an import file too
                                          large), raised to the caller
5xx, 423, timeouts, dropped connections   jittered exponential backoff, bounded attempts
401                                       stop: :class:`LoadError`, the token was refused
403 ``MISSING_SCOPES``                    stop: :class:`LoadError` naming the scope, but for
                                          the scopes the load works around (batch opt-outs,
                                          ``oauth``): raised to the caller
477 (portal migration in progress)        stop: :class:`LoadError`, rerun later
any other 4xx                             no retry: raised to the caller as an
                                          :class:`HttpError`, which it records against the
                                          rows it concerns
========================================  =====================================================

A caller may take some answers as they come, unretried (``final``): import creation takes a 429
that may be the portal's imports a day, which no wait lifts.

Errors are recognised by duck typing on ``.status``, ``.body`` and ``.headers`` because each
hubspot-api-client package raises its own ``ApiException`` class; :class:`HttpError` gives
responses from ``requests`` the same shape. An error answer that leaves :func:`call_with_retries`
is always an :class:`HttpError`, so callers catch that one type, and anything that is not an
HTTP answer (a dropped connection, a bug) passes them by.

Throttling happens before each attempt, in the portal's shared :class:`RateBudget`
(``ratelimit.py``), which also stops the load before a ``DAILY`` 429 when the quota is spent.

A failure with no clear answer (a timeout, a 5xx: HubSpot's 502 and 504 are gateway timeouts of
work that may have been done, a connection dropped after the request went out) leaves unknown
whether the write was applied, and retrying it can apply it twice. Most of the load's writes are
safe to repeat: contacts are upserted by email, unsubscribing is idempotent, creating a property,
group or list that exists answers 409, which counts as done. The writes that are not
(submitting an import, creating companies: a second request makes a second import, a second
company of each domain) pass ``landed``, which looks for what the lost request would have made
before it is sent again.
"""

from __future__ import annotations

import enum
import json
import random
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
import urllib3

from tasks.errors import LoadError
from tasks.load import settings
from tasks.load.log import get_logger
from tasks.load.ratelimit import BURST, SEARCH, RateBudget, header, window_seconds
from tasks.privacy import mask_emails_in

T = TypeVar("T")

# The policy a 429 of the ten-second window names (its body's ``policyName``).
TEN_SECOND_WINDOW_POLICY = "TEN_SECONDLY_ROLLING"

# Scopes whose absence the load works around, so their 403 goes to the caller: without Marketing
# Hub Enterprise the batch opt-out calls go one address at a time (both the specs' and the docs'
# names), and without ``oauth`` the account-info API is skipped. Any other missing scope stops.
SCOPES_WORKED_AROUND = frozenset({
    "communication_preferences.statuses.batch.read",
    "communication_preferences.statuses.batch.write",
    "subscription-status-batch-read",
    "subscription-status-batch-write",
    "oauth",
})

_TRANSIENT_EXCEPTIONS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.MaxRetryError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
    urllib3.exceptions.NewConnectionError,
    ConnectionError,
    TimeoutError,
)


class HttpError(Exception):
    """A non-2xx answer from HubSpot, however it was sent: the one error type callers catch.

    ``HubSpotPortal.request`` raises it for answers to ``requests``; :func:`call_with_retries`
    turns the SDK's per-package ``ApiException`` into one (the original as ``__cause__``) when
    the answer is not retried. Its attributes have the ApiException's names.

    Args:
        status: The HTTP status code.
        body: The raw response body.
        headers: The response headers.
        what: The request, as ``METHOD /path`` (emails in it are masked in messages).
        reason: The HTTP reason phrase the SDK reported; :func:`error_message` falls back to it
            when the body is empty.
    """

    def __init__(
        self, status: int, body: bytes | str | None, headers: Mapping[str, str] | None, what: str, reason: str | None = None
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers
        self.what = what
        self.reason = reason
        super().__init__(str(self))

    def __str__(self) -> str:
        return mask_emails_in(f"{self.what}: HTTP {self.status}: {error_message(self)}")


class Unreachable(LoadError):
    """No answer at all, attempt after attempt: the connection refused or dropped, the name not
    resolved, every attempt timed out. The caller that knows where it sent names the place.

    Args:
        what: The request, as ``METHOD /path``.
        attempts: How many were made.
        reason: The last failure in a few words (``Connection refused``).
    """

    def __init__(self, what: str, attempts: int, reason: str) -> None:
        self.what = what
        self.attempts = attempts
        self.reason = reason
        super().__init__(f"{what}: still failing after {attempts} attempts ({reason})")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.what, self.attempts, self.reason))


def connection_failure(error: BaseException) -> str:
    """Why a request got no answer, in a few words: the operating system's reason found along
    the chain of errors (``Connection refused``, ``Name or service not known``), else the type.

    requests wraps urllib3's error, which wraps the socket's: the reason is at the bottom.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.strerror:
            return current.strerror
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return type(error).__name__


class Cause(enum.Enum):
    """Why a call failed, as far as deciding what to do next goes."""

    RATE_WINDOW = "rate limit: 10-second window"
    RATE_SECOND = "rate limit: per-second search window"
    DAILY = "rate limit: daily quota"
    LOCKED = "record locked"
    TRANSIENT = "transient"
    AUTH = "authentication refused"
    SCOPE = "scope not granted"
    MIGRATING = "portal migration in progress"
    FATAL = "not retryable"


def http_status(error: BaseException) -> int | None:
    """The HTTP status of an error response; ``None`` for anything that is not one."""
    status = getattr(error, "status", None)
    # status 0 is how the SDK reports an SSL failure or a request it could not build.
    return status if isinstance(status, int) and status > 0 else None


def error_body(error: BaseException) -> dict[str, Any]:
    """The JSON body of an error response as a dict; empty when there is none or it is not JSON."""
    body = getattr(error, "body", None)
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def error_message(error: BaseException) -> str:
    """HubSpot's own message for an error response, else the raw body, cut to a log line."""
    message = error_body(error).get("message")
    if message:
        return str(message)
    body = getattr(error, "body", None) or b""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    return text[:300] or str(getattr(error, "reason", "") or type(error).__name__)


def rate_policy(error: BaseException) -> str:
    """The limit a 429 names (its body's ``policyName``, upper-cased): ``TEN_SECONDLY_ROLLING``,
    ``SECONDLY``, ``DAILY``; empty when the body names none, ``"policyName": null`` included."""
    return str(error_body(error).get("policyName") or "").upper()


def rate_limit_waited(error: BaseException, cause: Cause) -> str:
    """The limit a 429 that is waited out was taken for, in a few words for messages.

    A 429 that does not name the ten-second window (no policy, as a proxy's or gateway's 429
    with no body; or a policy the load does not know) is waited out as that window, but said
    to be what it is.

    Args:
        error: The 429.
        cause: What :func:`classify` made of it.
    """
    policy = rate_policy(error)
    if cause is not Cause.RATE_WINDOW or policy == TEN_SECOND_WINDOW_POLICY:
        return cause.value
    return f"rate limit: policy {mask_emails_in(policy)}" if policy else "naming no limit"


def classify(error: BaseException) -> Cause:
    """Decide what a failed call calls for.

    Args:
        error: What the call raised: an SDK ``ApiException``, an :class:`HttpError`, or a
            connection or timeout error from ``requests``/``urllib3``.

    Returns:
        The cause; :func:`call_with_retries` maps it to wait, back off, stop or raise.
    """
    status = http_status(error)
    if status is None:
        return Cause.TRANSIENT if isinstance(error, _TRANSIENT_EXCEPTIONS) else Cause.FATAL
    if status == 429:
        body = error_body(error)
        policy = rate_policy(error)
        if policy == "DAILY":
            return Cause.DAILY
        if policy == "SECONDLY" or "secondly limit" in str(body.get("message", "")).lower():
            return Cause.RATE_SECOND
        if not policy and body.get("subCategory"):
            # A 429 for a limit of the request itself (an import file over 512 MB or 1,048,576
            # rows): no wait makes it pass.
            return Cause.FATAL
        # TEN_SECONDLY_ROLLING, or a 429 that does not say: waiting a window is safe for both.
        return Cause.RATE_WINDOW
    if status == 423:
        return Cause.LOCKED
    if status >= 500:
        return Cause.TRANSIENT
    if status == 401:
        return Cause.AUTH
    if status == 403 and missing_scopes(error) - SCOPES_WORKED_AROUND:
        return Cause.SCOPE
    if status == 477:
        return Cause.MIGRATING
    return Cause.FATAL


def missing_scopes(error: BaseException) -> frozenset[str]:
    """The scopes a 403 ``MISSING_SCOPES`` answer names (``errors[].context.requiredGranularScopes``).

    Empty for any other answer. A ``MISSING_SCOPES`` body that names no scope gives
    ``{"(unnamed)"}``, so it still counts as a scope the load cannot do without.
    """
    body = error_body(error)
    if body.get("category") != "MISSING_SCOPES":
        return frozenset()
    named = {
        str(scope)
        for detail in body.get("errors") or []
        if isinstance(detail, dict)
        for scope in ((detail.get("context") or {}).get("requiredGranularScopes") or [])
    }
    return frozenset(named or {"(unnamed)"})


def backoff_seconds(attempt: int, cause: Cause, rng: random.Random | None = None) -> float:
    """How long to wait before retry number ``attempt`` (1-based) of a transient failure.

    "Equal jitter": half the exponential delay fixed, half random, so many clients that failed
    together do not come back together, yet no wait collapses to nothing.
    """
    rng = rng or random
    ceiling = min(settings.BACKOFF_MAX_SECONDS, settings.BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if cause is Cause.LOCKED:
        delay = max(delay, settings.LOCKED_MIN_WAIT_SECONDS)
    return delay


def describe(error: BaseException) -> str:
    """A one-line description of a failed call: status and HubSpot's message, or the error type."""
    status = http_status(error)
    if status is not None:
        return f"HTTP {status}: {error_message(error)}"
    return type(error).__name__


def call_with_retries(
    send: Callable[[], tuple[T, Mapping[str, str] | None]],
    *,
    budget: RateBudget,
    what: str,
    rng: random.Random | None = None,
    landed: Callable[[], T | None] | None = None,
    max_attempts: int | None = None,
    final: Callable[[BaseException], bool] | None = None,
) -> T:
    """Send one request, retrying by cause (see the module's table).

    Args:
        send: Sends the request once; returns ``(value, response headers)`` or raises.
        budget: The portal's rate budget: every attempt takes a ticket from it and hands it
            back with the response's headers.
        what: The request as ``METHOD /path``, for messages (emails in it are masked).
        rng: Random source for the backoff jitter.
        landed: For a write that is not safe to repeat: asked before each retry of a
            transient failure (which may have been applied) whether it was; what it finds
            is the result, ``None`` sends the request again.
        max_attempts: How many attempts a request gets, failing transiently (a timeout, a 5xx,
            a lock) or answered 429 (never more than ``settings.MAX_RATE_LIMIT_WAITS`` waits);
            by default ``settings.MAX_ATTEMPTS`` for the first and the waits for the second. A
            quick question whose answer is optional asks with fewer, and waits as little.
        final: Which failures are the caller's as they come: asked of each failure before its
            cause is weighed (once a failure, so it may count them); one it picks is not
            retried nor waited on but raised at once, an error answer as an :class:`HttpError`
            (a 429 refusing an import for the portal's imports a day, which no wait lifts).

    Returns:
        The value ``send`` returned on the first successful attempt, or what ``landed`` found.

    Raises:
        LoadError: The daily quota is spent, the token was refused, the portal is migrating,
            or transient failures / rate-limit waits went on past their bounds
            (:class:`Unreachable` when no attempt got an answer).
        HttpError: Any other non-retryable error answer (a 4xx), or one ``final`` picked, for
            the caller to record; an SDK ``ApiException`` becomes one, with the original as
            ``__cause__``.
        Exception: Whatever else ``send`` raised that is not retryable (no HTTP answer: a bug,
            an SSL failure), unchanged.
    """
    what = mask_emails_in(what)
    attempts_allowed = settings.MAX_ATTEMPTS if max_attempts is None else max_attempts
    waits_allowed = settings.MAX_RATE_LIMIT_WAITS if max_attempts is None else min(settings.MAX_RATE_LIMIT_WAITS, max_attempts - 1)
    failures = 0
    rate_waits = 0
    while True:
        ticket = budget.acquire(what)
        try:
            value, headers = send()
        except Exception as error:  # noqa: BLE001 - classified below, re-raised when not ours
            headers = getattr(error, "headers", None)
            budget.release(ticket, headers)
            # The caller's pick is not retried: it leaves as a non-retryable answer does.
            cause = Cause.FATAL if final is not None and final(error) else classify(error)
            if cause in (Cause.RATE_WINDOW, Cause.RATE_SECOND):
                rate_waits += 1
                limit = rate_limit_waited(error, cause)
                if rate_waits > waits_allowed:
                    raise LoadError(
                        f"{what}: HubSpot kept answering 429 ({limit}) after "
                        f"{waits_allowed} waits; another app may be using the "
                        "portal's budget. Rerun later."
                    ) from error
                if cause is Cause.RATE_WINDOW:
                    wait, kind = window_seconds(headers), BURST
                else:
                    wait, kind = settings.SECONDLY_WINDOW_SECONDS, SEARCH
                get_logger().warning("%s: 429 (%s), waiting %.1f s", what, limit, wait)
                budget.pause(wait, kind)
                continue
            if cause is Cause.DAILY:
                raise budget.quota_spent(what) from error
            if cause is Cause.AUTH:
                raise LoadError(
                    f"{what}: HubSpot refused the access token (401): {mask_emails_in(error_message(error))}"
                ) from error
            if cause is Cause.SCOPE:
                scopes = ", ".join(sorted(missing_scopes(error)))
                raise LoadError(
                    f"{what}: the token's app lacks the HubSpot scope {scopes} (403 MISSING_SCOPES): "
                    "add it to the private app's scopes and rerun"
                ) from error
            if cause is Cause.MIGRATING:
                retry_after = header(headers, "Retry-After") or "unknown"
                raise LoadError(
                    f"{what}: the portal is being migrated by HubSpot (477); rerun after "
                    f"{retry_after} seconds"
                ) from error
            if cause in (Cause.TRANSIENT, Cause.LOCKED):
                failures += 1
                if failures >= attempts_allowed and http_status(error) is None:
                    raise Unreachable(what, failures, connection_failure(error)) from error
                if failures >= attempts_allowed:
                    raise LoadError(
                        f"{what}: still failing after {failures} attempts "
                        f"({mask_emails_in(describe(error))})"
                    ) from error
                delay = backoff_seconds(failures, cause, rng)
                look_first = landed is not None and cause is Cause.TRANSIENT
                get_logger().warning(
                    "%s: %s (%s), %s %d in %.1f s",
                    what, cause.value, mask_emails_in(describe(error)),
                    "it may have been applied: looking for it before retry" if look_first else "retry",
                    failures, delay,
                )
                budget.sleep(delay)
                if look_first:
                    found = landed()
                    if found is not None:
                        get_logger().warning("%s: it had been applied; taken up, not sent again", what)
                        return found
                continue
            status = http_status(error)
            if status is None or isinstance(error, HttpError):
                raise
            # Each SDK package raises its own ApiException class: callers catch HttpError alone.
            raise HttpError(
                status, getattr(error, "body", None), headers, what, getattr(error, "reason", None)
            ) from error
        budget.release(ticket, headers)
        return value

