"""Keeping personal data and secrets out of logs and messages."""

from __future__ import annotations

import re

_LOCAL_CHARACTER = r"[A-Za-z0-9!#$%'*+^_`{|}~.\-]"
"""What a local part may hold: RFC 5322's atext and dots, but for ``/ ? = &``, which in a
request's path or query are the URL's own (``/statuses/jane@x.com``, ``?email=jane@x.com``)."""
_DOMAIN_LABEL = r"(?:[\w\-]|%[0-9A-Fa-f]{2})+"
"""A domain label in any script (``\\w`` is Unicode), as written or percent-encoded in a URL path."""
_EMAIL = re.compile(rf"({_LOCAL_CHARACTER}){_LOCAL_CHARACTER}*(?:@|%40)({_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})+)")


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
    return _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
