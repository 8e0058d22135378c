"""A local Mailchimp account that speaks the Marketing API subset Onramp reads, for tests.

Quick start::

    from emulators.mailchimp import serve_in_background

    with serve_in_background(members=300) as mailchimp:
        # MAILCHIMP_BASE_URL=mailchimp.api_url, MAILCHIMP_API_KEY=mailchimp.settings.api_key
        mailchimp.emulator.audience.truth()   # members per status
"""

from __future__ import annotations

from typing import Any

from emulators.loopback import ProviderServer
from emulators.mailchimp.app import API_PREFIX, MailchimpEmulator, create_app
from emulators.mailchimp.settings import MailchimpSettings


def serve_in_background(host: str = "127.0.0.1", port: int = 0, **settings: Any) -> ProviderServer:
    """Start an emulated Mailchimp account on loopback in a background thread.

    Args:
        host: Address to bind (keep it on loopback).
        port: Port to bind; 0 picks a free one.
        **settings: ``MailchimpSettings`` fields, e.g. ``members=300``, ``max_connections=2``.

    Returns:
        The running server (``.api_url``, ``.emulator``); a context manager, or call ``.stop()``.
    """
    emulator = MailchimpEmulator(MailchimpSettings(**settings))
    return ProviderServer(emulator, create_app(emulator), "mailchimp-emulator", API_PREFIX, host, port)


__all__ = ["MailchimpEmulator", "MailchimpSettings", "serve_in_background"]
