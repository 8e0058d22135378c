"""Which locations a SOURCE or an output folder may name, and never a credential in them.

A location is a local path or a URL of a scheme Onramp supports. A URL that carries a
credential (``s3://KEY:SECRET@bucket/x.zip``, ``https://user:pass@host/x.zip``, a presigned
``?X-Amz-Signature=...``) is refused before anything reads it, and the refusal shows the URL
with the credential cut out: the URI of a source ends up in logs, the report and the lineage,
so a credential in it would be copied everywhere. Credentials come from the environment
(``AWS_*``, ...) or the file system's own configuration.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from tasks.errors import InputError
from tasks.extract.api_settings import (
    API_SCHEMES,
    CONSTANT_CONTACT_ENV_PREFIX,
    CONSTANT_CONTACT_SCHEME,
    MAILCHIMP_KEY_ENV,
    MAILCHIMP_SCHEME,
)

SUPPORTED_SCHEMES = ("file", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "http", "https", *API_SCHEMES)
"""URL schemes a SOURCE or ``--out`` may use, besides a plain local path (a provider API's
``mailchimp://`` or ``constantcontact://`` names a SOURCE only)."""

CHAIN_SEPARATOR = "::"
"""fsspec chains file systems (``zip::s3://...``); every link is checked."""

_CREDENTIAL_PARAMETER = re.compile(
    r"(sig|signature|token|secret|password|passwd|pwd|credential|key|auth|session)", re.IGNORECASE
)
REDACTED = "***"
SHOWN_QUERY_ITEM = "since"
"""The one query item a location is named with: a provider API's time to read changes from."""

CREDENTIAL_HOME = {
    MAILCHIMP_SCHEME: f"give the API key in {MAILCHIMP_KEY_ENV} or a Prefect Secret block (--mailchimp-secret)",
    CONSTANT_CONTACT_SCHEME: f"give the token in {CONSTANT_CONTACT_ENV_PREFIX}_TOKEN (or {CONSTANT_CONTACT_ENV_PREFIX}_REFRESH_TOKEN "
    f"with {CONSTANT_CONTACT_ENV_PREFIX}_CLIENT_ID) or a Prefect Secret block (--constant-contact-secret)",
}
"""Where a provider API's credential goes instead of its URL, by scheme; any other location's
goes in the environment or the file system's configuration (:data:`STORAGE_CREDENTIAL_HOME`)."""
STORAGE_CREDENTIAL_HOME = "give it through the environment (AWS_* and the like) or the file system's configuration"


def redact(location: str) -> str:
    """``location`` with any user-info and query string replaced by ``***``, but for a provider
    API's ``since=`` (a time, never a credential, and what a sync's run asked for)."""
    links = []
    for link in location.split(CHAIN_SEPARATOR):
        parts = urlsplit(link) if "://" in link else None
        if parts is None:
            links.append(link)
            continue
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
        items = [item for item in parts.query.split("&") if item]
        shown = [item for item in items if item.partition("=")[0] == SHOWN_QUERY_ITEM and parts.scheme in _api_schemes()]
        hidden = [REDACTED] if len(shown) < len(items) else []
        query = f"?{'&'.join(hidden + shown)}" if items else ""
        fragment = f"#{parts.fragment}" if parts.fragment else ""
        links.append(f"{parts.scheme}://{netloc}{parts.path}{query}{fragment}")
    return CHAIN_SEPARATOR.join(links)


def check_location(location: str) -> None:
    """Refuse a location of an unsupported scheme or carrying a credential.

    Raises:
        InputError: One line naming the location (its credential cut out) and the problem.
    """
    for link in location.split(CHAIN_SEPARATOR):
        scheme = _scheme(link)
        if scheme is None:
            continue
        if scheme not in SUPPORTED_SCHEMES + _api_schemes():
            raise InputError(
                redact(location),
                f"unsupported location scheme {scheme!r}: use a local path or one of "
                + ", ".join(f"{s}://" for s in SUPPORTED_SCHEMES),
            )
        parts = urlsplit(link)
        credential_in_query = any(_CREDENTIAL_PARAMETER.search(name) for name, _ in parse_qsl(parts.query, keep_blank_values=True))
        if "@" in parts.netloc or credential_in_query:
            home = CREDENTIAL_HOME.get(scheme, STORAGE_CREDENTIAL_HOME)
            raise InputError(redact(location), f"the URL carries a credential: {home}, never in the URL")


def _api_schemes() -> tuple[str, ...]:
    """Provider APIs read as a SOURCE (``mailchimp://<list>``, ``constantcontact://contacts``)."""
    try:
        from tasks.extract.api_settings import API_SCHEMES
    except ImportError:
        return ()
    return tuple(API_SCHEMES)


def _scheme(link: str) -> str | None:
    """The URL scheme of one link, or None for a local path (``C:\\x`` included)."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", link)
    if match is None or len(match.group(1)) == 1:
        return None
    if "://" not in link and not link.lower().startswith(("data:", "javascript:")):
        # "notes:2024.csv" is a local file name with a colon; only a scheme followed by "//"
        # (or a known non-hierarchical one) is a URL.
        return None
    return match.group(1).lower()


def check_portal_url(url: str) -> None:
    """Refuse a HubSpot API base URL that is not http(s) or carries a credential: it is logged
    and written to the report, and the token travels in a header, never in the URL.

    Raises:
        InputError: One line naming the URL (its credential cut out) and the problem.
    """
    if _scheme(url) not in ("http", "https"):
        raise InputError("--portal-url", f"{redact(url)}: expected an http:// or https:// URL")
    check_location(url)
