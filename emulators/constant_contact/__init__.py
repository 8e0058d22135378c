"""A local Constant Contact account that speaks the v3 API subset Onramp reads, for tests.

Quick start::

    from emulators.constant_contact import serve_in_background

    with serve_in_background(contacts=300, access_token_lifetime_requests=5) as cc:
        # CONSTANT_CONTACT_BASE_URL=cc.api_url, CONSTANT_CONTACT_TOKEN=cc.settings.token;
        # to refresh: CONSTANT_CONTACT_TOKEN_URL=cc.token_url, CONSTANT_CONTACT_REFRESH_TOKEN=
        # cc.settings.refresh_token, CONSTANT_CONTACT_CLIENT_ID/_SECRET=cc.settings.client_id/_secret
        cc.emulator.account.truth()   # contacts per permission_to_send
        cc.emulator.tokens.refreshes  # access tokens issued through the refresh token
        cc.emulator.tokens.failed     # token requests answered 503 (the first token_failures=N)
"""

from __future__ import annotations

from typing import Any

from emulators.constant_contact.app import API_PREFIX, ConstantContactEmulator, create_app
from emulators.constant_contact.oauth import TOKEN_PATH
from emulators.constant_contact.settings import ConstantContactSettings
from emulators.loopback import ProviderServer


class ConstantContactServer(ProviderServer):
    """A running Constant Contact emulator.

    Attributes:
        token_url: Its OAuth2 token endpoint, e.g. ``http://127.0.0.1:41234/oauth2/default/v1/token``.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.token_url = self.url + TOKEN_PATH


def serve_in_background(host: str = "127.0.0.1", port: int = 0, **settings: Any) -> ConstantContactServer:
    """Start an emulated Constant Contact account on loopback in a background thread.

    Args:
        host: Address to bind (keep it on loopback).
        port: Port to bind; 0 picks a free one.
        **settings: ``ConstantContactSettings`` fields, e.g. ``contacts=300``, ``daily_quota=5``.

    Returns:
        The running server (``.api_url``, ``.token_url``, ``.emulator``); a context manager, or
        call ``.stop()``.
    """
    emulator = ConstantContactEmulator(ConstantContactSettings(**settings))
    return ConstantContactServer(emulator, create_app(emulator), "constant-contact-emulator", API_PREFIX, host, port)


__all__ = ["ConstantContactEmulator", "ConstantContactServer", "ConstantContactSettings", "serve_in_background"]
