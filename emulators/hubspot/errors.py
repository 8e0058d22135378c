"""HubSpot's error bodies, raised as exceptions anywhere in the emulator.

The body follows the specs' ``Error`` schema: ``{status: "error", message, correlationId,
category, subCategory?, context?, errors?, links?}``. Messages never contain a token.
"""

from __future__ import annotations

import uuid
from typing import Any


def correlation_id() -> str:
    """Return a fresh correlation id (a UUID, as HubSpot sends)."""
    return str(uuid.uuid4())


class HubSpotError(Exception):
    """An error answered to the client with HubSpot's error body.

    Args:
        status: HTTP status code.
        message: human-readable message.
        category: HubSpot's error category (``VALIDATION_ERROR``, ``OBJECT_NOT_FOUND``, ...).
        sub_category: optional finer category.
        context: optional ``{name: [values]}`` map.
        errors: optional list of ``ErrorDetail`` dicts.
        links: optional ``{name: url}`` map.
        extra: extra top-level fields (the rate-limit bodies carry ``policyName`` etc.).
        headers: extra response headers.
    """

    def __init__(
        self,
        status: int,
        message: str,
        category: str = "VALIDATION_ERROR",
        *,
        sub_category: str | None = None,
        context: dict[str, list[str]] | None = None,
        errors: list[dict[str, Any]] | None = None,
        links: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.sub_category = sub_category
        self.context = context
        self.errors = errors
        self.links = links
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the JSON body HubSpot sends for this error."""
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
        }
        optional = {
            "subCategory": self.sub_category,
            "context": self.context,
            "errors": self.errors,
            "links": self.links,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        # Rate-limit bodies carry no category; every other error does.
        if self.category:
            body["category"] = self.category
        body.update(self.extra)
        return body


def validation_error(message: str, **kwargs: Any) -> HubSpotError:
    """Return a 400 ``VALIDATION_ERROR``."""
    return HubSpotError(400, message, "VALIDATION_ERROR", **kwargs)


def not_found(message: str = "resource not found", **kwargs: Any) -> HubSpotError:
    """Return a 404 ``OBJECT_NOT_FOUND``."""
    return HubSpotError(404, message, "OBJECT_NOT_FOUND", **kwargs)


def conflict(message: str, category: str = "CONFLICT", **kwargs: Any) -> HubSpotError:
    """Return a 409 (``CONFLICT`` or ``OBJECT_ALREADY_EXISTS``)."""
    return HubSpotError(409, message, category, **kwargs)


def missing_scopes(scope: str) -> HubSpotError:
    """Return the 403 ``MISSING_SCOPES`` HubSpot answers a token whose app lacks ``scope``."""
    return HubSpotError(
        403,
        "This app hasn't been granted all required scopes to make this call. Read more about "
        "required scopes here: https://developers.hubspot.com/scopes.",
        "MISSING_SCOPES",
        errors=[
            {
                "message": "One or more of the following scopes are required.",
                "context": {"requiredGranularScopes": [scope]},
            }
        ],
        links={"scopes": "https://developers.hubspot.com/scopes"},
    )


def standard_error(
    message: str,
    category: str,
    *,
    status: str = "error",
    context: dict[str, list[str]] | None = None,
    sub_category: str | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return one entry of a batch response's ``errors`` (the specs' ``StandardError``)."""
    entry: dict[str, Any] = {
        "status": status,
        "category": category,
        "message": message,
        "context": context or {},
        "errors": errors or [],
        "links": {},
    }
    if sub_category:
        entry["subCategory"] = sub_category
    return entry
