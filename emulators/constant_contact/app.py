"""The v3 API subset Onramp reads: contacts, and the names of lists, tags and custom fields.

Every request needs ``Authorization: Bearer <access token>`` with a token in force (401
otherwise; ``emulators.constant_contact.oauth`` issues and expires them, and serves the token
endpoint), then passes the application's limits: 4 requests in any second (429 ``throttled``) and a daily quota reset at
00:00 UTC (429 ``quota_exceeded``). Errors are Constant Contact's bodies, a list of
``{"error_key", "error_message"}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
from collections import deque
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from emulators.constant_contact.account import Account, parse_time, shape
from emulators.constant_contact.settings import (
    DEFAULT_LIMIT,
    INCLUDES,
    MAX_LIMIT,
    MIN_LIMIT,
    STATUS_FILTERS,
    ConstantContactSettings,
)
from emulators.constant_contact.oauth import TOKEN_PATH, TokenIssuer, oauth_error
from emulators.loopback import InFlight
from emulators.removals import remove_due

API_PREFIX = "/v3"


def error(status: int, key: str, message: str) -> JSONResponse:
    """A Constant Contact error response."""
    return JSONResponse([{"error_key": key, "error_message": message}], status_code=status)


class Limits:
    """The application's request budget: per second and per UTC day."""

    def __init__(self, settings: ConstantContactSettings) -> None:
        self.settings = settings
        self.recent: deque[float] = deque()
        self.day = datetime.now(UTC).date()
        self.used_today = 0
        self.throttled = 0

    def refusal(self) -> JSONResponse | None:
        """Count a request; the 429 to answer instead, if it is over a limit."""
        today = datetime.now(UTC).date()
        if today != self.day:
            self.day, self.used_today = today, 0
        if self.used_today >= self.settings.daily_quota:
            return error(429, "quota_exceeded", "Daily request quota exceeded; it resets at 00:00 UTC.")
        now = time.monotonic()
        while self.recent and now - self.recent[0] >= self.settings.throttle_window_seconds:
            self.recent.popleft()
        if len(self.recent) >= self.settings.requests_per_second:
            self.throttled += 1
            return error(429, "throttled", "Too many requests per second.")
        self.recent.append(now)
        self.used_today += 1
        return None


def _cursor(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def _uncursor(cursor: str) -> dict | None:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError):
        return None


class ConstantContactEmulator:
    """One emulated Constant Contact account.

    Attributes:
        settings: The account's settings.
        account: Its contacts, lists, tags and custom fields (change them between runs).
        limits: Its request budget (``limits.used_today``, ``limits.throttled``).
        tokens: Its access and refresh tokens (``tokens.refreshes``, ``tokens.revoke()``).
        in_flight: Requests served at once.
        removed: Contacts taken by ``settings.removals`` so far, in the order taken.
    """

    def __init__(self, settings: ConstantContactSettings) -> None:
        self.settings = settings
        self.account = Account.seeded(settings)
        self.limits = Limits(settings)
        self.tokens = TokenIssuer(settings)
        self.in_flight = InFlight()
        self.removed: list[dict] = []
        self._account_lock = threading.Lock()

    def page(self, statuses: set[str], after: datetime | None, includes: set[str], start: int, limit: int) -> tuple[list[dict], int]:
        """The contacts of one page and the total selected, then the removal due after serving
        the page starting at ``start`` (``settings.removals``), if any: the page shows the
        account before it."""
        with self._account_lock:
            selected = self.account.select(statuses, after)
            page = [shape(contact, includes) for contact in selected[start : start + limit]]
            total = len(selected)
            self.removed += remove_due(self.settings.removals, start, self.account.contacts)
            return page, total


def create_app(emulator: ConstantContactEmulator) -> FastAPI:
    """Build the FastAPI app serving one emulated account."""
    app = FastAPI(title="Onramp Constant Contact emulator", docs_url=None, redoc_url=None, openapi_url=None)
    account = emulator.account

    @app.middleware("http")
    async def gate(request: Request, call_next):
        if request.url.path == TOKEN_PATH:
            # The authorization server: another host in production, outside the API's limits.
            if request.method != "POST":
                return oauth_error(405, "invalid_request", "Use POST.")
            return emulator.tokens.token_response(await request.body(), request.headers.get("authorization", ""))
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not emulator.tokens.admits(token.strip()):
            return error(401, "unauthorized", "Unauthorized")
        refusal = emulator.limits.refusal()
        if refusal is not None:
            return refusal
        emulator.in_flight.enter()
        try:
            return await call_next(request)
        finally:
            emulator.in_flight.leave()

    @app.get(API_PREFIX + "/contacts")
    def contacts(
        status: str | None = None,
        include: str | None = None,
        limit: int = DEFAULT_LIMIT,
        updated_after: str | None = None,
        include_count: bool = False,
        cursor: str | None = None,
    ):
        if cursor is not None:
            state = _uncursor(cursor)
            if state is None:
                return error(400, "query_param.invalid", "The cursor is not valid.")
        else:
            state = {"status": status, "include": include, "limit": limit, "updated_after": updated_after, "next": 0}
        statuses = {s.strip() for s in (state["status"] or "").split(",") if s.strip()}
        includes = {s.strip() for s in (state["include"] or "").split(",") if s.strip()}
        if not statuses <= set(STATUS_FILTERS):
            return error(400, "query_param.invalid", f"status must be among {', '.join(STATUS_FILTERS)}.")
        if not includes <= set(INCLUDES):
            return error(400, "query_param.invalid", f"include must be among {', '.join(INCLUDES)}.")
        if not MIN_LIMIT <= state["limit"] <= MAX_LIMIT:
            return error(400, "query_param.invalid", f"limit must be between {MIN_LIMIT} and {MAX_LIMIT}.")
        try:
            after = parse_time(state["updated_after"]) if state["updated_after"] else None
        except ValueError:
            return error(400, "query_param.invalid", "updated_after must be an ISO 8601 time.")
        start, end = state["next"], state["next"] + state["limit"]
        page, total = emulator.page(statuses, after, includes, start, state["limit"])
        body: dict = {"contacts": page, "_links": {}}
        if end < total:
            body["_links"]["next"] = {"href": f"{API_PREFIX}/contacts?cursor={_cursor({**state, 'next': end})}"}
        if include_count:
            body["contacts_count"] = total
        # A JSONResponse skips FastAPI's per-value encoder: pages of 500 contacts serve much faster.
        return JSONResponse(body)

    @app.get(API_PREFIX + "/contact_lists")
    def contact_lists():
        return {"lists": account.lists, "lists_count": len(account.lists), "_links": {}}

    @app.get(API_PREFIX + "/contact_tags")
    def contact_tags():
        return {"tags": account.tags, "_links": {}}

    @app.get(API_PREFIX + "/contact_custom_fields")
    def contact_custom_fields():
        return {"custom_fields": account.custom_fields, "_links": {}}

    return app
