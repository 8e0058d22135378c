"""The FastAPI application: HubSpot's routes behind auth, rate limits and HubSpot's error bodies.

Order of checks for each HubSpot request: trailing slash dropped (the official SDK sends
``/crm/v3/imports/``), injected faults, bearer token (401), limits (429, counted per token),
the scope the route needs (403 ``MISSING_SCOPES`` when the token's app lacks it, ``scopes.py``),
then the route; a write chosen by the after-write fault is answered 504 once the route has run
(its own answer is thrown away, and counted as the route answered it); an import creation chosen
by the bare-429 fault is answered 429 with no body before auth and limits. Admin routes under
``/_emulator`` skip faults, auth and limits.
"""

from __future__ import annotations

import asyncio
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from emulators.hubspot.emulator import HubSpotEmulator
from emulators.hubspot.errors import HubSpotError
from emulators.hubspot.faults import DroppedConnection, after_write_error, quiet_dropped_connections
from emulators.hubspot.scopes import refuse_missing_scope
from emulators.hubspot.routes import (
    account,
    admin,
    associations,
    commprefs,
    imports,
    lists,
    objects,
    properties,
)

ADMIN_PREFIX = "/_emulator"
_SEARCH = re.compile(r"^/crm/v3/objects/[^/]+/search$")

_UNAUTHENTICATED = HubSpotError(
    401,
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    "INVALID_AUTHENTICATION",
)


def _error_response(error: HubSpotError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _token_key(token: str) -> str:
    # Limits are kept per token, but the emulator never holds a token in anything it reports.
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class _Edge:
    """ASGI wrapper in front of the app: routes ``/path/`` as ``/path`` and injects faults."""

    def __init__(self, app: FastAPI, emulator: HubSpotEmulator) -> None:
        self.app = app
        self.emulator = emulator

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path.rstrip("/") or "/"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        if path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        fault = self.emulator.faults.draw()
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.drop:
            # Promise a body, send part of it, then fail: the server closes the connection.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")]})
            await send({"type": "http.response.body", "body": b'{"status":', "more_body": True})
            raise DroppedConnection("connection dropped by the emulator's fault injection")
        if fault.error is not None:
            await _error_response(fault.error)(scope, receive, send)
            return
        if self.emulator.bare_import_429s.take(scope["method"], path):
            # A proxy's or gateway's refusal: no body, none of HubSpot's rate-limit headers.
            await Response(status_code=429)(scope, receive, send)
            return
        if self.emulator.write_faults.take(scope["method"], path):
            await self.app(scope, receive, _discard)
            await _error_response(after_write_error())(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _discard(message) -> None:
    """An ASGI ``send`` that throws the route's answer away."""


def create_app(emulator: HubSpotEmulator) -> _Edge:
    """Build the ASGI application serving one emulated portal.

    Args:
        emulator: the portal to serve.

    Returns:
        The ASGI app: the FastAPI app (whose ``state.emulator`` is the portal) behind the
        wrapper that strips trailing slashes and injects faults.
    """
    app = FastAPI(title="Onramp HubSpot emulator", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.emulator = emulator
    for module in (imports, objects, properties, lists, commprefs, associations, account, admin):
        app.include_router(module.router)

    @app.middleware("http")
    async def hubspot_gate(request: Request, call_next):
        path = request.url.path
        if path.startswith(ADMIN_PREFIX):
            return await call_next(request)
        headers: dict[str, str] = {}
        try:
            token = _token(request)
            allowed = emulator.settings.allowed_tokens
            if token is None or (allowed is not None and token not in allowed):
                raise _UNAUTHENTICATED
            if _SEARCH.match(path):
                emulator.limiter.admit_search()
            else:
                headers = emulator.limiter.admit(_token_key(token))
            refuse_missing_scope(emulator.settings, request.method, path)
        except HubSpotError as error:
            response = _error_response(error)
        else:
            response = await call_next(request)
            response.headers.update(headers)
        route = request.scope.get("route")
        emulator.count_request(request.method, getattr(route, "path", path), response.status_code)
        return response

    @app.exception_handler(HubSpotError)
    async def hubspot_error(request: Request, error: HubSpotError) -> JSONResponse:
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        details = [
            {"message": str(item.get("msg")), "in": ".".join(str(part) for part in item.get("loc", ()))}
            for item in error.errors()
        ]
        return _error_response(HubSpotError(400, "Invalid input", errors=details))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        category = "OBJECT_NOT_FOUND" if error.status_code == 404 else "VALIDATION_ERROR"
        return _error_response(HubSpotError(error.status_code, str(error.detail), category))

    quiet_dropped_connections()
    return _Edge(app, emulator)
