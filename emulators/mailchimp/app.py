"""The Marketing API subset Onramp reads: an audience's members, merge fields and groups.

Every request is checked for the API key (HTTP Basic with any username and the key as
password, or ``Authorization: Bearer <key>``), then counted against the simultaneous
connection limit (429 beyond it, as Mailchimp answers; or its occasional bodiless 403), then
routed. Errors are Mailchimp's problem-detail bodies (``type``, ``title``, ``status``,
``detail``, ``instance``).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import threading
from datetime import datetime

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from emulators.loopback import InFlight
from emulators.mailchimp.audience import MERGE_FIELDS, Audience
from emulators.mailchimp.settings import DEFAULT_COUNT, MAX_COUNT, STATUSES, MailchimpSettings
from emulators.removals import remove_due

API_PREFIX = "/3.0"
ERROR_DOCS = "https://mailchimp.com/developer/marketing/docs/errors/"


def problem(status: int, title: str, detail: str) -> JSONResponse:
    """A Mailchimp error response."""
    body = {"type": ERROR_DOCS, "title": title, "status": status, "detail": detail, "instance": ""}
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _key(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def _project(body: dict, fields: str | None, exclude_fields: str | None) -> dict:
    """Apply ``fields`` / ``exclude_fields`` (dot paths such as ``members.email_address``)."""
    if fields:
        keep = [path.strip().split(".") for path in fields.split(",") if path.strip()]
        return _keep(body, keep)
    for path in (exclude_fields or "").split(","):
        if path.strip():
            body = _without(body, path.strip().split("."))
    return body


def _keep(value, paths: list[list[str]]):
    if isinstance(value, list):
        return [_keep(item, paths) for item in value]
    if not isinstance(value, dict) or any(not path for path in paths):
        return value
    kept = {}
    for key, item in value.items():
        below = [path[1:] for path in paths if path[0] == key]
        if below:
            kept[key] = _keep(item, below)
    return kept


def _without(value, path: list[str]):
    """``value`` without ``path``, copying only the containers along it: members share their
    seeded dicts, and a deep copy doubled the time a 1,000-member page took to answer."""
    if isinstance(value, list):
        return [_without(item, path) for item in value]
    if not isinstance(value, dict) or path[0] not in value:
        return value
    if len(path) == 1:
        return {key: item for key, item in value.items() if key != path[0]}
    return {**value, path[0]: _without(value[path[0]], path[1:])}


class MailchimpEmulator:
    """One emulated Mailchimp account: its settings, its audience, and what it has served.

    Attributes:
        settings: The account's settings.
        audience: The audience's members (change them to set up an incremental run).
        in_flight: Requests served at once now, at most, and refused for the limit.
        requests: Member pages served (failed ones included).
        removed: Members deleted by ``settings.removals`` so far, in the order deleted.
    """

    def __init__(self, settings: MailchimpSettings) -> None:
        self.settings = settings
        self.audience = Audience.seeded(settings)
        self.in_flight = InFlight()
        self.requests = 0
        self.removed: list[dict] = []
        # Pages are served by the server's worker threads, several at once.
        self._requests_lock = threading.Lock()
        self._audience_lock = threading.Lock()

    def count_request(self) -> None:
        """Count one member page served."""
        with self._requests_lock:
            self.requests += 1

    def page(self, status: str | None, since: datetime | None, offset: int, count: int) -> tuple[list[dict], int]:
        """The members of one page and the total selected, then the removal due after serving
        ``offset`` (``settings.removals``), if any: the page shows the audience before it."""
        with self._audience_lock:
            selected = self.audience.select(status, since)
            page = [dict(member) for member in selected[offset : offset + count]]
            total = len(selected)
            self.removed += remove_due(self.settings.removals, offset, self.audience.members)
            return page, total

    def reset_counters(self) -> None:
        """Forget what was served (requests, connections at once, refusals), for a new read."""
        with self._requests_lock:
            self.requests = 0
        self.in_flight = InFlight()


def create_app(emulator: MailchimpEmulator) -> FastAPI:
    """Build the FastAPI app serving one emulated account."""
    app = FastAPI(title="Onramp Mailchimp emulator", docs_url=None, redoc_url=None, openapi_url=None)
    settings = emulator.settings

    @app.middleware("http")
    async def gate(request: Request, call_next):
        if _key(request) != settings.api_key:
            return problem(401, "API Key Invalid", "Your API key may be invalid, or you've attempted to access the wrong datacenter.")
        if emulator.in_flight.now >= settings.max_connections:
            emulator.in_flight.refused += 1
            if settings.bare_403_beyond_limit:
                return Response(status_code=403)
            return problem(429, "Too Many Requests", f"You have exceeded the limit of {settings.max_connections} simultaneous connections.")
        emulator.in_flight.enter()
        try:
            if settings.response_delay:
                await asyncio.sleep(settings.response_delay)
            return await call_next(request)
        finally:
            emulator.in_flight.leave()

    def _audience(list_id: str) -> Audience | None:
        return emulator.audience if list_id == emulator.audience.list_id else None

    @app.get(API_PREFIX + "/lists/{list_id}/members")
    def members(
        list_id: str,
        count: int = DEFAULT_COUNT,
        offset: int = 0,
        status: str | None = None,
        since_last_changed: str | None = None,
        fields: str | None = None,
        exclude_fields: str | None = None,
    ):
        audience = _audience(list_id)
        if audience is None:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        if not 0 <= count <= MAX_COUNT or offset < 0:
            return problem(400, "Invalid Resource", f"count must be between 0 and {MAX_COUNT}, offset at least 0.")
        if status is not None and status not in STATUSES:
            return problem(400, "Invalid Resource", f"status must be one of {', '.join(STATUSES)}.")
        if fields and exclude_fields:
            return problem(400, "Invalid Resource", "fields and exclude_fields are mutually exclusive.")
        try:
            since = datetime.fromisoformat(since_last_changed) if since_last_changed else None
        except ValueError:
            return problem(400, "Invalid Resource", "since_last_changed must be an ISO 8601 time.")
        emulator.count_request()
        if offset in settings.failing_offsets:
            return problem(503, "Service Unavailable", "The server is temporarily unavailable.")
        page, total = emulator.page(status, since, offset, count)
        body = {"members": page, "list_id": list_id, "total_items": total, "_links": []}
        # A JSONResponse skips FastAPI's per-value encoder: pages of 1,000 members serve ~10x faster.
        answer = JSONResponse(_project(body, fields, exclude_fields))
        if settings.cut_short_offsets.get(offset, 0) > 0:
            settings.cut_short_offsets[offset] -= 1
            return Response(answer.body[: len(answer.body) // 2], media_type="application/json")
        return answer

    @app.get(API_PREFIX + "/lists/{list_id}/merge-fields")
    def merge_fields(list_id: str, count: int = Query(DEFAULT_COUNT, le=MAX_COUNT), offset: int = 0):
        if _audience(list_id) is None:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        fields = [{**field, "list_id": list_id} for field in (*MERGE_FIELDS, *emulator.settings.extra_merge_fields)]
        return {"merge_fields": fields[offset : offset + count], "list_id": list_id, "total_items": len(fields)}

    @app.get(API_PREFIX + "/lists/{list_id}/interest-categories")
    def interest_categories(list_id: str, count: int = Query(DEFAULT_COUNT, le=MAX_COUNT), offset: int = 0):
        if _audience(list_id) is None:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        categories = [
            {"list_id": list_id, "id": category["id"], "title": category["title"],
             "display_order": category["display_order"], "type": category["type"]}
            for category in settings.interest_categories
        ]  # fmt: skip
        return {"categories": categories[offset : offset + count], "list_id": list_id, "total_items": len(categories)}

    @app.get(API_PREFIX + "/lists/{list_id}/interest-categories/{category_id}/interests")
    def interests(list_id: str, category_id: str, count: int = Query(DEFAULT_COUNT, le=MAX_COUNT), offset: int = 0):
        found = [category for category in settings.interest_categories if category["id"] == category_id]
        if _audience(list_id) is None or not found:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        members = emulator.audience.members
        groups = [
            {"category_id": category_id, "list_id": list_id, "id": group_id, "name": name, "display_order": order,
             "subscriber_count": str(sum(bool((member.get("interests") or {}).get(group_id)) for member in members))}
            for order, (group_id, name) in enumerate(found[0]["interests"])
        ]  # fmt: skip
        return {"interests": groups[offset : offset + count], "list_id": list_id, "category_id": category_id, "total_items": len(groups)}

    return app
