"""A local Constant Contact account that speaks the v3 API subset Onramp reads, for tests.

Quick start::

    from emulators.constant_contact import serve_in_background

    with serve_in_background(contacts=300) as cc:
        # CONSTANT_CONTACT_BASE_URL=cc.api_url, CONSTANT_CONTACT_TOKEN=cc.settings.token
        cc.emulator.account.truth()   # contacts per permission_to_send
"""

from __future__ import annotations

from typing import Any

from emulators.constant_contact.app import API_PREFIX, ConstantContactEmulator, create_app
from emulators.constant_contact.settings import ConstantContactSettings
from emulators.loopback import ProviderServer


def serve_in_background(host: str = "127.0.0.1", port: int = 0, **settings: Any) -> ProviderServer:
    """Start an emulated Constant Contact account on loopback in a background thread.

    Args:
        host: Address to bind (keep it on loopback).
        port: Port to bind; 0 picks a free one.
        **settings: ``ConstantContactSettings`` fields, e.g. ``contacts=300``, ``daily_quota=5``.

    Returns:
        The running server (``.api_url``, ``.emulator``); a context manager, or call ``.stop()``.
    """
    emulator = ConstantContactEmulator(ConstantContactSettings(**settings))
    return ProviderServer(emulator, create_app(emulator), "constant-contact-emulator", API_PREFIX, host, port)


__all__ = ["ConstantContactEmulator", "ConstantContactSettings", "serve_in_background"]
