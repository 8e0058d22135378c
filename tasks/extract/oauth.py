"""An OAuth2 bearer token that refreshes itself: Constant Contact's access tokens expire (24 h).

``RefreshingBearerAuth`` sends ``Authorization: Bearer <access token>``. Given a refresh token
and a client id (and the client secret of the authorization-code flow; the PKCE flow has
none), it gets an access token when it has none, and on a 401 it refreshes once and sends the
request again, so a read that outlives its token goes on where it was.

Applications that rotate refresh tokens answer each refresh with a new one and void the old:
the newest is kept in this process's memory (``latest_refresh_token``), so a second read in
the same process refreshes with it, and handed to ``on_new_tokens`` (which saves it where the
next run will read it, when it can: ``tasks.extract.api_credentials``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx

from tasks.errors import InputError
from tasks.secrets import credential_character_problem, trimmed_credential

_REFUSALS = {
    "invalid_grant": "{provider} refused the refresh token (invalid_grant: revoked, expired after 180 days unused, "
    "or replaced by a newer one); authorise the application again and store the new refresh token in {origin}",
    "invalid_client": "{provider} refused the client id or secret (invalid_client) given in {client_origin}",
}
"""OAuth2 error code → what to tell the user (RFC 6749 §5.2); any other: the code itself."""
_TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
"""Token endpoint answers a retry can cure."""

_latest: dict[str, str] = {}
"""Refresh token as configured → the newest one issued for it in this process."""
_latest_lock = threading.Lock()


def latest_refresh_token(configured: str) -> str:
    """The newest refresh token issued in this process for a configured one (itself if none)."""
    with _latest_lock:
        return _latest.get(configured, configured)


class TokenEndpointUnavailable(httpx.TransportError):
    """The token endpoint answered 429 or 5xx: retried like a dropped connection by the caller."""


class RefreshingBearerAuth(httpx.Auth):
    """``Authorization: Bearer`` with an access token refreshed through an OAuth2 token endpoint.

    No token ever reaches ``repr``, a log line or an error message.

    Args:
        source: The source being read, for error messages.
        provider: The provider's name, for error messages.
        token_url: The OAuth2 token endpoint.
        access_token: An access token to start with, or None to get one first.
        refresh_token: The refresh token, or None when the access token is all there is.
        client_id: The application's client id (its API key), needed with a refresh token.
        client_secret: The client secret (authorization-code flow), or None (PKCE flow).
        origin: Where the refresh token was found (names only), for the error that asks for a new one.
        client_origin: Where the client id and secret were found (names only), for the error
            refusing them; ``origin`` when not given.
        on_new_tokens: Called with each new access token and the refresh token now in force.
        timeout: Seconds allowed for a token request.

    Attributes:
        refreshes: Access tokens obtained through the refresh token so far.
    """

    def __init__(
        self,
        source: str,
        provider: str,
        token_url: str,
        access_token: str | None,
        refresh_token: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        origin: str = "",
        client_origin: str = "",
        on_new_tokens: Callable[[str, str], None] | None = None,
        timeout: float = 60.0,
    ) -> None:
        if not access_token and not (refresh_token and client_id):
            raise ValueError("an access token, or a refresh token and a client id, is needed")
        self._source = source
        self._provider = provider
        self._token_url = token_url
        self._access_token = access_token
        self._configured_refresh_token = refresh_token
        self._client_id = client_id
        self._client_secret = client_secret
        self._origin = origin
        self._client_origin = client_origin or origin
        self._on_new_tokens = on_new_tokens
        self._timeout = timeout
        self._lock = threading.Lock()
        self.refreshes = 0

    def __repr__(self) -> str:
        return "RefreshingBearerAuth(<secret>)"

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        token = self._access_token or self._refresh(stale=None)
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and self._configured_refresh_token:
            # Once: a second 401 with a fresh token is a refusal, reported as one by the caller.
            request.headers["Authorization"] = f"Bearer {self._refresh(stale=token)}"
            yield request

    def _refresh(self, stale: str | None) -> str:
        with self._lock:
            # Another thread may have refreshed while this one waited: its token is as new.
            if self._access_token and self._access_token != stale:
                return self._access_token
            token = self._request_token()
            self.refreshes += 1
            problem = _unsendable(token)
            if self._on_new_tokens is not None:
                # Kept even beside an access token no header can hold: the refresh token the
                # endpoint rotated is the only one that works from now on.
                self._on_new_tokens("" if problem else token, latest_refresh_token(self._configured_refresh_token))
            if problem:
                raise InputError(self._source, f"{self._provider}'s token endpoint answered an access token that {problem}")
            self._access_token = token
            return token

    def _request_token(self) -> str:
        configured = self._configured_refresh_token
        data = {"grant_type": "refresh_token", "refresh_token": latest_refresh_token(configured)}
        auth = None
        if self._client_secret:
            auth = httpx.BasicAuth(self._client_id, self._client_secret)
        else:
            data["client_id"] = self._client_id
        with httpx.Client(timeout=self._timeout, follow_redirects=False) as http:
            response = http.post(self._token_url, data=data, auth=auth, headers={"Accept": "application/json"})
        if response.status_code in _TRANSIENT_STATUSES:
            raise TokenEndpointUnavailable(f"token endpoint answered HTTP {response.status_code}")
        body = _json_object(response)
        if response.status_code != 200:
            code = str(body.get("error") or f"HTTP {response.status_code}")
            template = _REFUSALS.get(code, "{provider}'s token endpoint refused the refresh ({code})")
            origin, client_origin = self._origin or "the credentials", self._client_origin or "the credentials"
            raise InputError(self._source, template.format(provider=self._provider, origin=origin, client_origin=client_origin, code=code))
        # Kept whatever the access token is: the configured refresh token is void once rotated.
        if body.get("refresh_token"):
            with _latest_lock:
                _latest[configured] = str(body["refresh_token"])
        return trimmed_credential(str(body.get("access_token") or ""))


def _unsendable(access_token: str) -> str | None:
    """Why an access token cannot be sent in an ``Authorization`` header, which holds visible ASCII
    only (httpx's error would quote the token), as a message ends; None when it can."""
    if not access_token:
        return "is blank"
    problem = credential_character_problem(access_token)
    return f"holds {problem}, which no token holds" if problem else None


def _json_object(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
