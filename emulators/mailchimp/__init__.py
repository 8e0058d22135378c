"""A local Mailchimp account that speaks the Marketing API subset Onramp reads, for tests.

Quick start::

    from emulators.mailchimp import serve_in_background

    with serve_in_background(members=300) as mailchimp:
        # MAILCHIMP_BASE_URL=mailchimp.url + "/3.0", MAILCHIMP_API_KEY=mailchimp.settings.api_key
        mailchimp.emulator.audience.truth()   # members per status
"""

from __future__ import annotations

from typing import Any

from emulators.loopback import LoopbackServer
from emulators.mailchimp.app import API_PREFIX, MailchimpEmulator, create_app
from emulators.mailchimp.settings import MailchimpSettings


class MailchimpServer(LoopbackServer):
    """A running emulated Mailchimp account.

    Attributes:
        emulator: The account (``emulator.audience``, ``emulator.in_flight``).
        settings: Its settings.
        url: The server's base URL; the API is under ``api_url``.
        api_url: What ``MAILCHIMP_BASE_URL`` should be, e.g. ``http://127.0.0.1:41234/3.0``.
    """

    def __init__(self, emulator: MailchimpEmulator, host: str, port: int) -> None:
        super().__init__(create_app(emulator), "mailchimp-emulator", host, port)
        self.emulator = emulator
        self.settings = emulator.settings
        self.api_url = self.url + API_PREFIX


def serve_in_background(host: str = "127.0.0.1", port: int = 0, **settings: Any) -> MailchimpServer:
    """Start an emulated Mailchimp account on loopback in a background thread.

    Args:
        host: Address to bind (keep it on loopback).
        port: Port to bind; 0 picks a free one.
        **settings: ``MailchimpSettings`` fields, e.g. ``members=300``, ``max_connections=2``.

    Returns:
        The running server; use it as a context manager or call ``.stop()``.
    """
    return MailchimpServer(MailchimpEmulator(MailchimpSettings(**settings)), host, port)


__all__ = ["MailchimpEmulator", "MailchimpServer", "MailchimpSettings", "serve_in_background"]
