"""The authorization server's part: access tokens that expire and the refresh-token grant.

``POST /oauth2/default/v1/token`` with ``grant_type=refresh_token`` (form-encoded) answers a
new access token, as ``https://authz.constantcontact.com/oauth2/default/v1/token`` does. The
client authenticates with HTTP Basic ``client_id:client_secret`` (authorization-code flow) or,
for a public client (PKCE flow, ``client_secret=None``), sends ``client_id`` in the form.
Rotating refresh tokens (Constant Contact's default) are replaced on each refresh and the old
one is void; long-lived ones stay the same. Errors are OAuth2's ``{"error", "error_description"}``.
The first ``token_failures`` token requests are answered ``token_failure_status`` instead
(``temporarily_unavailable``), as an authorization server that is briefly down answers.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi.responses import JSONResponse

from emulators.constant_contact.settings import ConstantContactSettings

TOKEN_PATH = "/oauth2/default/v1/token"
SCOPE = "contact_data offline_access"


@dataclass
class AccessToken:
    """An access token's remaining life: until a moment, and for some requests when set."""

    expires_at: float
    requests_left: int | None


def oauth_error(status: int, code: str, description: str) -> JSONResponse:
    """An OAuth2 error response."""
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


class TokenIssuer:
    """The account's tokens: the access tokens in force and the refresh tokens that still work.

    Attributes:
        refreshes: Access tokens issued through the refresh-token grant.
        failed: Token requests answered with the settings' transient failure (``token_failures``).
        refresh_tokens: The refresh tokens that still work (``revoke`` empties it).
    """

    def __init__(self, settings: ConstantContactSettings) -> None:
        self.settings = settings
        self.access_tokens = {settings.token: self._new_access_token()}
        self.refresh_tokens = {settings.refresh_token}
        self.refreshes = 0
        self.failed = 0

    def admits(self, token: str) -> bool:
        """Whether a bearer token is in force; a request it admits uses one of its requests."""
        grant = self.access_tokens.get(token)
        if grant is None or time.time() >= grant.expires_at or grant.requests_left == 0:
            return False
        if grant.requests_left is not None:
            grant.requests_left -= 1
        return True

    def revoke(self) -> None:
        """Void every refresh token (as a user removing the application's access does)."""
        self.refresh_tokens.clear()

    def token_response(self, body: bytes, authorization: str) -> JSONResponse:
        """Answer a token request (the refresh-token grant)."""
        if self.failed < self.settings.token_failures:
            # The server's own fault, before it looks at the request: nothing is issued or voided.
            self.failed += 1
            status = self.settings.token_failure_status
            return oauth_error(status, "temporarily_unavailable", "The authorization server is unavailable.")
        form = {name: values[0] for name, values in parse_qs(body.decode("utf-8", "replace")).items()}
        if not self._client_authenticated(form, authorization):
            return oauth_error(401, "invalid_client", "Client authentication failed.")
        if form.get("grant_type") != "refresh_token":
            return oauth_error(400, "unsupported_grant_type", "The authorization grant type is not supported.")
        refresh_token = form.get("refresh_token", "")
        if refresh_token not in self.refresh_tokens:
            return oauth_error(400, "invalid_grant", "The refresh token is invalid or expired.")
        if self.settings.rotate_refresh_tokens:
            self.refresh_tokens.discard(refresh_token)
            refresh_token = secrets.token_urlsafe(24)
            self.refresh_tokens.add(refresh_token)
        access_token = secrets.token_urlsafe(32)
        self.access_tokens[access_token] = self._new_access_token()
        self.refreshes += 1
        return JSONResponse(
            {
                "token_type": "Bearer",
                "expires_in": int(self.settings.access_token_lifetime_seconds),
                "access_token": access_token,
                "scope": SCOPE,
                "refresh_token": refresh_token,
            }
        )

    def _client_authenticated(self, form: dict[str, str], authorization: str) -> bool:
        if self.settings.client_secret is None:
            return form.get("client_id") == self.settings.client_id
        scheme, _, encoded = authorization.partition(" ")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return scheme.lower() == "basic" and decoded == f"{self.settings.client_id}:{self.settings.client_secret}"

    def _new_access_token(self) -> AccessToken:
        return AccessToken(
            expires_at=time.time() + self.settings.access_token_lifetime_seconds,
            requests_left=self.settings.access_token_lifetime_requests,
        )
