"""Keeping personal data and secrets out of logs and messages."""

from __future__ import annotations

import re

_EMAIL = re.compile(r"([A-Za-z0-9._%+\-'])[A-Za-z0-9._%+\-']*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")


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
