"""Helpers every route module shares: the emulator behind a request, bodies, query values, paging."""

from __future__ import annotations

import json
from typing import Any, Sequence

from fastapi import Request

from emulators.hubspot import catalog
from emulators.hubspot.emulator import HubSpotEmulator
from emulators.hubspot.errors import HubSpotError, validation_error
from emulators.hubspot.state import now_iso


def emulator_of(request: Request) -> HubSpotEmulator:
    """Return the emulator serving a request."""
    return request.app.state.emulator


async def json_body(request: Request) -> Any:
    """Return a request's JSON body.

    Raises:
        HubSpotError: 400 when the body is not JSON.
    """
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise validation_error("Invalid input JSON on line 1") from None


async def json_object(request: Request) -> dict[str, Any]:
    """Return a request's JSON body, which must be an object.

    Raises:
        HubSpotError: 400 when it is not.
    """
    body = await json_body(request)
    if not isinstance(body, dict):
        raise validation_error("The request body must be a JSON object.")
    return body


def query_list(request: Request, name: str) -> list[str]:
    """Return a multi-valued query parameter, accepting repeats and comma-separated values."""
    return [
        part.strip()
        for value in request.query_params.getlist(name)
        for part in value.split(",")
        if part.strip()
    ]


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    """Return a boolean query parameter (``true``/``false``)."""
    value = request.query_params.get(name)
    return default if value is None else value.strip().lower() == "true"


def query_int(request: Request, name: str, default: int, maximum: int | None = None) -> int:
    """Return an integer query parameter, capped at ``maximum``.

    Raises:
        HubSpotError: 400 when it is not an integer.
    """
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise validation_error(f"Invalid value for {name}: {value}") from None
    return min(number, maximum) if maximum else number


def object_type(name: str) -> str:
    """Return the objectTypeId for a path's object type (``contacts``, ``0-1``, ...).

    Raises:
        HubSpotError: 404 for an object type the emulator does not have.
    """
    type_id = catalog.OBJECT_TYPE_IDS.get(name.lower())
    if type_id is None:
        raise HubSpotError(
            404, f"Unable to infer object type from: {name}", "OBJECT_NOT_FOUND"
        )
    return type_id


def offset_page(
    items: Sequence[Any], after: str | None, limit: int, request: Request
) -> dict[str, Any]:
    """Return one page of ``items`` in HubSpot's ``{results, paging.next.after}`` shape.

    The cursor is the offset of the next item, as a string.
    """
    try:
        start = max(int(after), 0) if after else 0
    except ValueError:
        raise validation_error(f"Invalid value for after: {after}") from None
    end = start + limit
    page: dict[str, Any] = {"results": list(items[start:end])}
    if end < len(items):
        link = str(request.url.include_query_params(after=str(end)))
        page["paging"] = {"next": {"after": str(end), "link": link}}
    return page


def action_body(
    results: list[Any], started_at: str, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Return a batch/action answer body: ``{status, results, startedAt, completedAt}``,
    plus ``numErrors`` and ``errors`` when some inputs failed."""
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started_at,
        "completedAt": now_iso(),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
    return body


def batch_response(
    results: list[Any], errors: list[dict[str, Any]], started_at: str
) -> tuple[int | None, dict[str, Any]]:
    """Return a batch answer: ``(207, body)`` when some inputs failed, ``(None, body)`` otherwise.

    ``None`` lets the caller pick its own success status (200 or 201).
    """
    return (207 if errors else None), action_body(results, started_at, errors)
