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
from emulators.loopback import LoopbackServer


class ConstantContactServer(LoopbackServer):
    """A running emulated Constant Contact account.

    Attributes:
        emulator: The account (``emulator.account``, ``emulator.limits``).
        settings: Its settings.
        url: The server's base URL.
        api_url: What ``CONSTANT_CONTACT_BASE_URL`` should be, e.g. ``http://127.0.0.1:41234/v3``.
    """

    def __init__(self, emulator: ConstantContactEmulator, host: str, port: int) -> None:
        super().__init__(create_app(emulator), "constant-contact-emulator", host, port)
        self.emulator = emulator
        self.settings = emulator.settings
        self.api_url = self.url + API_PREFIX


def serve_in_background(host: str = "127.0.0.1", port: int = 0, **settings: Any) -> ConstantContactServer:
    """Start an emulated Constant Contact account on loopback in a background thread.

    Args:
        host: Address to bind (keep it on loopback).
        port: Port to bind; 0 picks a free one.
        **settings: ``ConstantContactSettings`` fields, e.g. ``contacts=300``, ``daily_quota=5``.

    Returns:
        The running server; use it as a context manager or call ``.stop()``.
    """
    return ConstantContactServer(ConstantContactEmulator(ConstantContactSettings(**settings)), host, port)


__all__ = ["ConstantContactEmulator", "ConstantContactServer", "ConstantContactSettings", "serve_in_background"]
