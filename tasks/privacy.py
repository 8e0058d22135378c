"""Keeping personal data and secrets out of logs and messages."""

from __future__ import annotations

import re

_LOCAL_CHARACTER = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]"
"""What a local part may hold: RFC 5322's atext and dots (``/ ? = &`` included: an opt-out file
may hold ``mary/j@example.com``), and ``%`` of a percent-encoded character."""
_DOMAIN_LABEL = r"(?:[\w\-]|%[0-9A-Fa-f]{2})+"
"""A domain label in any script (``\\w`` is Unicode), as written or percent-encoded in a URL path."""
_EMAIL = re.compile(rf"({_LOCAL_CHARACTER}+)(?:@|%40)({_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+)")
_URL_DELIMITERS = "/?=&"
"""What separates a request's path and query parts; Onramp quotes them in an address it puts in a
URL (``mary%2Fj@x.com``), so in a path the address starts after the last one."""


def _path_and_local_part(run: str) -> tuple[str, str]:
    """Split the characters before an ``@`` into the request path they end (kept readable: it
    says which request failed) and the address's local part. A run starting with ``/`` is a
    request's path when a delimiter follows a first segment (``/communication-preferences/v4/
    statuses/jane``, ``/contacts?email=jane``); any other run is a local part whole, ``/ ? = &``
    and all (``mary/j``, ``/lead``). An address written unquoted that starts with ``/`` and holds
    another delimiter (``/mary/j``) reads as a path: it keeps the part before its last one."""
    if run.startswith("/"):
        cut = max(run.rfind(delimiter) for delimiter in _URL_DELIMITERS) + 1
        if 1 < cut < len(run):
            return run[:cut], run[cut:]
    return "", run


def mask_email(email: str) -> str:
    """Mask an email address for a log line: ``jane.doe@example.com`` → ``j***@example.com``.

    The domain stays readable because it is what an operator needs to diagnose a bounce or
    a rejected batch; the local part is what identifies a person.
    """
    local, sep, domain = email.partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_emails_in(text: str) -> str:
    """Mask every email address found inside free text (an error message, a log line)."""
    return _EMAIL.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    """One address found by :data:`_EMAIL`, its local part masked but its first character."""
    path, local = _path_and_local_part(match.group(1))
    return f"{path}{local[:1]}***@{match.group(2)}"
